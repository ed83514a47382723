// The exported conformance suite, run against both stores we ship: MemoryStore, RedisStore on a
// single Redis (cache on and off; two stores on one Redis are two instances of an app, so the
// cross-instance checks run too) and RedisStore on a real Redis Cluster (six nodes; each store on a
// Cluster client of its own).
// Plus what only MemoryStore can be asked: a full store never lets one account push out another.
import { expect } from 'chai';
import { MemoryStore } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { sampleId, sampleRecord, testStore } from '../src/testing/index.js';
import { requireRedisCluster, startRedisCluster, type RedisCluster } from '../harness/cluster.js';
import { requireRedis, startControlledRedis, type ControlledRedis } from '../harness/redis.js';

describe('MemoryStore', () => {
  testStore(() => new MemoryStore({ max: 1000 }));

  it('full: a flood of one account recycles its own oldest session, never another user\'s (issue #10 part 4)', async () => {
    const store = new MemoryStore({ max: 50 });
    const others = Array.from({ length: 49 }, sampleId);
    for (const id of others) await store.set(id, sampleRecord(), 60_000);
    // One account logs in 10,000 times with no cap applied (maxSessionsPerUser: false).
    const openid = 'oFlooder';
    let last = '';
    for (let i = 0; i < 10_000; i++) {
      last = sampleId();
      await store.set(last, sampleRecord(60_000, { openid, createdAt: Date.now() + i }), 60_000);
    }
    for (const id of others) expect(await store.get(id), 'a bystander\'s session').to.not.equal(undefined);
    expect(await store.get(last)).to.have.property('openid', openid);
    expect(store.size).to.equal(50);
  });

  it('full: a new account still gets in (the least recently used session makes room)', async () => {
    const store = new MemoryStore({ max: 3 });
    const ids = Array.from({ length: 3 }, sampleId);
    for (const id of ids) await store.set(id, sampleRecord(), 60_000);
    await store.get(ids[0]!); // recently used
    const fresh = sampleId();
    await store.set(fresh, sampleRecord(), 60_000);
    expect(await store.get(fresh)).to.not.equal(undefined);
    expect(await store.get(ids[1]!), 'the least recently used went').to.equal(undefined);
    expect(await store.get(ids[0]!)).to.not.equal(undefined);
  });

  it('the per-user index follows deletes, evictions and expiry (limitSessions counts only what is held)', async () => {
    const store = new MemoryStore({ max: 4 });
    const openid = 'oIndexed';
    const mine = Array.from({ length: 3 }, sampleId);
    for (const [i, id] of mine.entries()) await store.set(id, sampleRecord(i === 0 ? 100 : 60_000, { openid, createdAt: Date.now() + i }), i === 0 ? 100 : 60_000);
    await store.destroy(mine[1]!);
    await new Promise((resolve) => setTimeout(resolve, 250)); // mine[0] expired
    expect(await store.limitSessions(openid, 0)).to.equal(1);
    expect(await store.get(mine[2]!)).to.equal(undefined);
    expect(await store.limitSessions(openid, 0)).to.equal(0);
  });
});

describe('RedisStore', function () {
  requireRedis(this);
  let redis: ControlledRedis;
  before(async () => {
    redis = await startControlledRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  testStore(() => new RedisStore({ client: redis.client(), prefix: 'conf:' }), { shared: true, cleanup: (store) => (store as RedisStore).close() });
  testStore(() => new RedisStore({ client: redis.client(), prefix: 'conf-nocache:', cache: false }), {
    title: 'SessionStore conformance (cache off)',
    shared: true,
    cleanup: (store) => (store as RedisStore).close(),
  });
});

describe('RedisStore on a Redis Cluster', function () {
  requireRedisCluster(this);
  let cluster: RedisCluster;
  before(async function () {
    this.timeout(30_000);
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  // Each store on a Cluster client of its own (two app instances), subscribed before the tests use it.
  const make = async () => {
    const client = cluster.client();
    const store = new RedisStore({ client, prefix: 'conf:' });
    if (!(await store.ready())) throw new Error('the store did not subscribe to every master within 5 s');
    return store;
  };
  testStore(make, {
    title: 'SessionStore conformance (Cluster)',
    shared: true,
    cleanup: async (store) => {
      await (store as RedisStore).close();
    },
  });
});
