// The Redis Cluster harness (support-cluster.ts) does what the cluster tests rely on: six nodes in
// three shards, a client that reaches every slot, our keySlot() agreeing with Redis, and a killed
// or paused master failed over to its replica, which rejoins as a replica when it comes back.
import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { keySlot, requireRedisCluster, startRedisCluster, type ClusterNode, type RedisCluster } from './support-cluster.js';

const ports = (nodes: readonly ClusterNode[]) => nodes.map((node) => node.port).sort();

/** SET, then WAIT for the replica: the write is on both before the master is harmed. */
async function setReplicated(client: Cluster, key: string, value: string): Promise<void> {
  // A pipeline goes to the key's master on one connection, so WAIT (which has no key) waits for
  // this SET; sent alone, WAIT would go to a random node and wait for nothing.
  const results = await client.pipeline().set(key, value).wait(1, 1000).exec();
  expect(results).to.deep.equal([
    [null, 'OK'],
    [null, 1],
  ]);
}

async function eventually(check: () => boolean, within: number, what: string): Promise<void> {
  const deadline = Date.now() + within;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${within} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('Redis Cluster harness', function () {
  requireRedisCluster(this);
  let cluster: RedisCluster;
  let client: Cluster;

  before(async function () {
    this.timeout(30_000);
    cluster = await startRedisCluster();
    client = cluster.client();
  });

  after(async () => {
    await cluster?.stop();
  });

  it('has 3 masters with one replica each, and every slot is assigned', async () => {
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    expect(masters).to.have.length(3);
    expect(replicas).to.have.length(3);
    expect([...ports(masters), ...ports(replicas)].sort()).to.deep.equal(ports(cluster.nodes));
    for (const master of masters) expect(await cluster.replicasOf(master)).to.have.length(1);

    const ranges = await client.cluster('SLOTS');
    const covered = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
    expect(covered).to.equal(16384);
    expect([...new Set(ranges.map(([, , master]) => master![1]))].sort()).to.deep.equal(ports(masters));
    expect(cluster.startupNodes.map((node) => node.port).sort()).to.deep.equal(ports(cluster.nodes));
  });

  it('a Cluster client sets and gets keys across many slots, on every master', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `many:${i}`);
    expect(new Set(keys.map(keySlot)).size).to.be.greaterThan(250);
    await Promise.all(keys.map((key) => client.set(key, `value of ${key}`)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).to.deep.equal(keys.map((key) => `value of ${key}`));

    const perMaster = await Promise.all(client.nodes('master').map((node) => node.keys('many:*')));
    expect(perMaster).to.have.length(3);
    for (const held of perMaster) expect(held.length).to.be.greaterThan(50);
    expect(perMaster.flat().sort()).to.deep.equal([...keys].sort());
  });

  it('keySlot agrees with CLUSTER KEYSLOT, hash tags included', async () => {
    // Known values: the CRC16 check value, and Redis's own documentation example.
    expect(keySlot('123456789')).to.equal(0x31c3);
    expect(keySlot('{user1000}.following')).to.equal(keySlot('{user1000}.followers'));

    const random = (length: number) => Array.from({ length }, () => String.fromCharCode(33 + Math.floor(Math.random() * 94))).join('');
    const shapes = [
      () => random(1 + Math.floor(Math.random() * 30)),
      () => `sess:{${random(8)}}:${random(5)}`, // a tag
      () => `${random(3)}{}${random(4)}`, // an empty tag: the whole key is hashed
      () => `${random(3)}{${random(4)}`, // no closing brace
      () => `${random(3)}}${random(2)}{${random(4)}}`, // a '}' before the '{'
      () => `a{${random(3)}}{${random(3)}}`, // only the first tag counts
      () => `{{${random(4)}}}`, // the tag is "{xxxx"
      () => `ключ:{玩家${random(3)}}:😀`, // UTF-8 bytes, not UTF-16 units
    ];
    const keys = ['', '{}', '{', '}', ...Array.from({ length: 196 }, (_, i) => shapes[i % shapes.length]!())];
    const fromRedis = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key) as Promise<number>));
    const mismatches = keys.filter((key, i) => keySlot(key) !== fromRedis[i]);
    expect(mismatches).to.deep.equal([]);
  });

  it('a killed master is replaced by its replica, keeps replicated writes, and rejoins as a replica', async function () {
    this.timeout(20_000);
    const key = 'harness:{killed}';
    await setReplicated(client, key, 'written before the kill');
    const master = await cluster.masterOf(key);
    const [replica, ...more] = await cluster.replicasOf(master);
    expect(more).to.deep.equal([]);

    await master.kill();
    expect(master.running).to.equal(false);
    await cluster.waitUntilHealthy();
    expect((await cluster.masterOf(key)).port).to.equal(replica!.port);
    expect(await replica!.role()).to.equal('master');
    expect(await master.role()).to.equal(undefined);
    expect(ports(await cluster.masters())).to.include(replica!.port);
    expect(await client.get(key)).to.equal('written before the kill');

    await master.restart();
    await cluster.waitUntilHealthy();
    expect(await master.role()).to.equal('replica');
    expect(ports(await cluster.replicasOf(replica!))).to.deep.equal([master.port]);
    expect(await cluster.masters()).to.have.length(3);
    expect(await client.get(key)).to.equal('written before the kill');
  });

  it('a paused master is failed over, and becomes a replica once resumed', async function () {
    this.timeout(20_000);
    // ioredis 6 re-reads the slot map only on MOVED, a closed connection or this timer: a paused
    // master's connection stays open, so without it the client would wait on the paused node.
    const watcher = cluster.client({ slotsRefreshInterval: 200, redisOptions: { commandTimeout: 1000 } });
    const key = 'harness:{paused}';
    await setReplicated(client, key, 'written before the pause');
    const master = await cluster.masterOf(key);
    const [replica] = await cluster.replicasOf(master);
    expect(await watcher.get(key)).to.equal('written before the pause');

    master.pause();
    expect(master.paused).to.equal(true);
    expect(await master.role()).to.equal(undefined);
    await cluster.waitUntilHealthy();
    expect((await cluster.masterOf(key)).port).to.equal(replica!.port);
    expect(ports(await cluster.masters())).to.not.include(master.port);
    const clientMasters = () => watcher.nodes('master').map((node) => node.options.port);
    await eventually(() => !clientMasters().includes(master.port), 2000, 'the client drops the paused master');
    expect(await watcher.get(key)).to.equal('written before the pause');

    master.resume();
    await cluster.waitUntilHealthy();
    expect(await master.role()).to.equal('replica');
    expect(ports(await cluster.replicasOf(replica!))).to.deep.equal([master.port]);
    expect(await client.get(key)).to.equal('written before the pause');
  });
});
