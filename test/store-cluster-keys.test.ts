// RedisStore on a real Redis Cluster (SECURITY.md, "Many instances on a Redis Cluster"): its keys
// and channels (every slot has a channel in it, as CLUSTER KEYSLOT agrees) and connections (one
// subscription and one write connection per master, all closed by close(), never the user's
// client); a Cluster client that reads from replicas is refused; a prefix with a hash tag of its
// own works; after close() a write is refused rather than opening a connection again.
import { expect } from 'chai';
import { RedisStore } from '../src/redis.js';
import { keySlot as storeKeySlot, slotChannels } from '../src/stores/redis-slots.js';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { attempt } from './support/outcomes.js';
import { PREFIX, useClusterStores, warm } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: keys, channels and connections', function () {
  const kit = useClusterStores(this);

  it('keys and channels: every slot has a channel in it (CLUSTER KEYSLOT agrees), and close() ends only the connections the store opened', async () => {
    const client = kit.cluster.client();
    const s = kit.store({ client });
    expect(await s.ready()).to.equal(true);
    const node = kit.admin((await kit.cluster.masters())[0]!);
    // The store's subscription connections, by name: one on every master.
    expect(await kit.masterConnectionsNamed(`${PREFIX}watch`), 'one subscription connection per master').to.equal(3);
    await Promise.all(Array.from({ length: 30 }, () => s.set(sampleId(), sampleRecord(), 60_000)));
    // Its write connections, by name: one per master a write went to.
    expect(await kit.masterConnectionsNamed(`${PREFIX}write`), 'one write connection per master').to.equal(3);
    const subscribed = (await node.call('PUBSUB', 'SHARDCHANNELS', `${PREFIX}changed*`)) as string[];
    expect(subscribed.length, 'shard channels this master serves').to.be.above(5000);
    // The store's own slot arithmetic agrees with Redis: each slot's channel is in that slot.
    const channels = slotChannels(`${PREFIX}changed`);
    expect(channels.every((channel) => channel !== undefined)).to.equal(true);
    for (let slot = 0; slot < 16384; slot += 41) expect(await node.call('CLUSTER', 'KEYSLOT', channels[slot]!), `slot ${slot}`).to.equal(slot);
    for (const key of ['a', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', '中文{x}', `${PREFIX}${sampleId()}`]) {
      expect(await node.call('CLUSTER', 'KEYSLOT', key), key).to.equal(storeKeySlot(key));
    }
    // A prefix with a hash tag of its own: every key and its one channel in that slot.
    const tagged = slotChannels('app{7}:changed');
    expect(tagged.filter((channel) => channel !== undefined)).to.have.length(1);
    expect(tagged[storeKeySlot('{7}')]).to.be.a('string');
    await s.close();
    expect(client.status, "the user's client stays open").to.equal('ready');
    expect(await kit.masterConnectionsNamed(`${PREFIX}watch`), 'subscription connections left after close()').to.equal(0);
    expect(await kit.masterConnectionsNamed(`${PREFIX}write`), 'write connections left after close()').to.equal(0);
  });

  it('a Cluster client that reads from replicas is refused (a replica answers before it has the latest write)', () => {
    const client = kit.cluster.client({ scaleReads: 'slave' });
    expect(() => new RedisStore({ client })).to.throw(TypeError, /scaleReads/);
  });

  it('a prefix with a hash tag of its own (every key in one slot): the stores subscribe to that slot alone, and a logout on one is what the other reads', async () => {
    const prefix = 'wxt{7}:';
    const [a, b] = await kit.twoInstances({ prefix });
    const id = sampleId();
    await a.set(id, sampleRecord(), 60_000);
    await sleep(20);
    await warm(b, [id]);
    const master = kit.admin(await kit.cluster.masterOf(`${prefix}${id}`));
    expect(await master.call('PUBSUB', 'SHARDNUMSUB', `${prefix}changed`), 'subscribers of the one channel').to.deep.equal([`${prefix}changed`, 2]);
    await a.destroy(id);
    expect(await b.get(id), 'read on B after the logout on A').to.equal(undefined);
  });

  it('after close(), a write is refused: the store opens no connection again (reads still go on the user\'s client)', async () => {
    const s = kit.store();
    expect(await s.ready()).to.equal(true);
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await s.close();
    const refused = await attempt(() => s.set(sampleId(), sampleRecord(), 60_000));
    expect(refused.ok, 'a write after close()').to.equal(false);
    expect(String((refused.error as Error).message)).to.match(/the store is closed/);
    expect(await kit.masterConnectionsNamed(`${PREFIX}write`), 'write connections after close()').to.equal(0);
    expect(await s.get(id)).to.have.property('openid');
    expect(await s.ready(), 'ready after close()').to.equal(false);
  });

  it('a prefix with braces that make no hash tag: every slot still has a channel, each in its slot (CLUSTER KEYSLOT agrees)', async () => {
    const node = kit.admin((await kit.cluster.masters())[0]!);
    const channels = slotChannels('odd{}prefix:changed');
    expect(channels.filter((channel) => channel === undefined), 'slots without a channel').to.have.length(0);
    for (let slot = 0; slot < 16384; slot += 97) expect(await node.call('CLUSTER', 'KEYSLOT', channels[slot]!), `slot ${slot}`).to.equal(slot);
  });
});
