// RedisStore on a real Redis Cluster (SECURITY.md, "Many instances on a Redis Cluster"), writes
// that cannot be done: one Redis itself refuses (here the key holds a hash, not a session) answers
// Redis' own error, and is not waited for (a write that did not happen needs no replica, so it
// costs no WAIT, even with the master's replica stalled); one made before the Cluster client knows
// which master serves its slot fails at once, and is never run later.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { attempt } from './support/outcomes.js';
import { PREFIX, useClusterStores } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: writes that cannot be done', function () {
  const kit = useClusterStores(this);

  it("a write Redis refuses answers Redis' own error, the store's first write there or not, and is not waited for (even with the replica stalled)", async () => {
    const s = kit.store();
    expect(await s.ready()).to.equal(true);
    const master = await kit.cluster.masterOf(`${PREFIX}${sampleId()}`);
    const [bad, good] = await kit.idsOn(master, 2);
    await kit.admin(master).hset(`${PREFIX}${bad}`, 'field', 'value');
    // The store's first write on that master: it asks the master about its replicas meanwhile.
    const first = await attempt(() => s.touch(bad!, 60_000));
    expect(first.ok, 'a touch of a key holding a hash').to.equal(false);
    expect(String((first.error as Error).message)).to.match(/WRONGTYPE/);
    // Confirmed by the replica: later writes there WAIT. (On a busy machine a first confirmation can
    // miss the 500 ms WAIT; the test is about what follows, so it tries again.)
    let confirmed = await attempt(() => s.set(good!, sampleRecord(), 60_000));
    for (let tries = 1; !confirmed.ok && tries < 5; tries++) confirmed = await attempt(() => s.set(good!, sampleRecord(), 60_000));
    expect(confirmed.ok, `a save the replica confirms: ${String(confirmed.error)}`).to.equal(true);
    const [replica] = await kit.cluster.replicasOf(master);
    replica!.pause();
    try {
      const refused = await attempt(() => s.touch(bad!, 60_000));
      expect(refused.ok, 'the same touch, with the replica stalled').to.equal(false);
      expect(String((refused.error as Error).message)).to.match(/WRONGTYPE/);
      expect(refused.ms, 'ms to answer it (a WAIT runs to 500 ms)').to.be.below(250);
      const unconfirmed = await attempt(() => s.update(good!, sampleRecord(), 60_000));
      expect(unconfirmed.ok, 'a save no replica confirmed').to.equal(false);
      expect(String((unconfirmed.error as Error).message)).to.match(/not confirmed by 1 replica/);
    } finally {
      replica!.resume();
    }
  });

  it('a write made before the Cluster client knows its slot map fails at once, and is never run later', async () => {
    const s = kit.store({ client: kit.cluster.client() }); // connecting: no slot map yet
    const id = sampleId();
    const early = await attempt(() => s.set(id, sampleRecord(), 60_000));
    expect(early.ok, 'a write before the slot map is known').to.equal(false);
    expect(String((early.error as Error).message)).to.match(/no master is known for slot/);
    expect(early.ms, 'ms to answer it').to.be.below(50);
    expect(await s.ready()).to.equal(true);
    await sleep(100);
    expect(await s.get(id), 'the early write, run later').to.equal(undefined);
    await s.set(id, sampleRecord(), 60_000);
    expect(await s.get(id)).to.have.property('openid');
  });
});
