// RedisStore's keys and connections on a real redis-server (docs/redis.md): every key and
// the channel live under the prefix; close() ends only what the store opened (never the user's
// client) and is quiet mid-reconnect; with `wait`, writes go on the store's own connection, so a
// read on the user's client never waits behind a WAIT.
import { expect } from 'chai';
import { createWxSession } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { coreOptions, sleep } from '../harness/apps.js';
import { waitFor, waitForSubscribers } from '../harness/redis-tools.js';
import { attempt, unhandledDuring } from './support/outcomes.js';
import { connectionsNamed, useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: keys and connections', function () {
  const kit = useRedisStores(this);

  it('every key and the channel live under the prefix option (default "wxs:")', async () => {
    const { admin, mock } = kit;
    await admin.flushall();
    const prefix = 'myapp:sessions:';
    const s = kit.store({ prefix });
    await waitForSubscribers(admin, `${prefix}changed`, 1);
    const core = createWxSession(coreOptions(mock, { store: s, checkSessionKey: { interval: 0 } }));
    const login = await core.login(mock.issueCode());
    const auth = await core.authenticate(login.token); // checks the key: token and lock keys
    expect(auth.session).to.not.equal(null);
    const keys = await admin.keys('*');
    expect(keys).to.include(`${prefix}${login.session.id}`);
    expect(keys).to.include(`${prefix}token:${mock.appId}`);
    for (const key of keys) expect(key.startsWith(prefix), key).to.equal(true);
    expect(await admin.pubsub('CHANNELS', '*')).to.deep.equal([`${prefix}changed`]);

    const plain = kit.store();
    const id = sampleId();
    await plain.set(id, sampleRecord(), 60_000);
    expect(await admin.exists(`wxs:${id}`)).to.equal(1);
  });

  it('close() ends only the store\'s own subscription: the user\'s client stays open', async () => {
    const own = kit.client();
    const s = kit.store({ client: own, prefix: 'close:' });
    await waitForSubscribers(kit.admin, 'close:changed', 1);
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await s.close();
    await s.close(); // twice is harmless
    expect(own.status).to.equal('ready');
    expect(await own.ping()).to.equal('PONG');
    expect(((await kit.admin.pubsub('NUMSUB', 'close:changed')) as [string, number])[1]).to.equal(0);
    // Without its subscription the store still reads and writes (uncached).
    expect(await s.get(id)).to.have.property('openid');
  });

  it('close() while the subscription is reconnecting causes no unhandled rejection', async () => {
    // Shutting down while Redis is coming back: the subscriber has sent its ready check; the
    // answer arrives just after close() began.
    const { proxy, client } = await kit.proxied();
    const s = new RedisStore({ client, prefix: 'closing:' });
    await waitForSubscribers(kit.admin, 'closing:changed', 1);
    proxy.holdWhenSent('info');
    proxy.drop('subscribe');
    await waitFor(() => proxy.holding('info') === 1, 'the subscriber reconnecting');
    const unhandled = await unhandledDuring(async () => {
      const closing = s.close();
      proxy.release('info');
      await closing;
    });
    expect(unhandled, 'unhandled rejections').to.deep.equal([]);
    expect(client.status).to.equal('ready');
  });

  it("with wait, writes go on the store's own connection: a read on the user's client never waits behind a WAIT, and close() ends that connection", async () => {
    const { admin } = kit;
    const own = kit.client();
    // No replica: each write's WAIT runs to its timeout, and the write is refused.
    const s = kit.store({ client: own, prefix: 'waiting:', wait: { replicas: 1, timeout: 300 } });
    const id = sampleId();
    await admin.set(`waiting:${id}`, JSON.stringify(sampleRecord()), 'PX', 60_000);
    const saving = attempt(() => s.update(id, sampleRecord(), 60_000));
    await sleep(50); // the save is waiting for a replica
    const started = Date.now();
    expect(await own.get(`waiting:${id}`)).to.be.a('string');
    const readMs = Date.now() - started;
    const saved = await saving;
    expect(readMs, "ms for a read on the user's client while a save WAITs").to.be.below(100);
    expect(saved.ok, 'a save no replica confirmed').to.equal(false);
    expect(String((saved.error as Error).message)).to.match(/not confirmed by 1 replica/);
    expect(await connectionsNamed(admin, 'waiting:write'), 'the store\'s write connection').to.equal(1);
    await s.close();
    expect(own.status).to.equal('ready');
    await waitFor(async () => (await connectionsNamed(admin, 'waiting:write')) === 0, 'the write connection closed');
  });
});
