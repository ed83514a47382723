// RedisStore on a real Redis Cluster (SECURITY.md, "Many instances on a Redis Cluster"): a slot's
// cached entries are served only while its subscription's lease holds (an answered PING within
// `cache.lease` ms). A process that stalled longer than that (a long GC pause, a busy loop) could
// not hear its heartbeat's answers: it trusts its cache again only once it has subscribed anew, and
// reads Redis meanwhile.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { PREFIX, useClusterStores, warm } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: the lease of a subscription', function () {
  const kit = useClusterStores(this);

  it('after a stall longer than the lease, the cache is not served: ready() is false and reads go to Redis until the store has subscribed again', async () => {
    // 500 ms: the most the harness's node timeout (1000 ms) allows, so a loaded machine's late
    // heartbeat does not end the lease before the stall does.
    const s = kit.store({ cache: { lease: 500 } });
    expect(await s.ready()).to.equal(true);
    const id = sampleId();
    const v1 = sampleRecord(60_000, { data: { v: 1 } });
    await s.set(id, v1, 60_000);
    await sleep(20);
    await warm(s, [id]);
    // A write behind the store's back (not announced): the cache hides it while the lease holds.
    const v2 = { ...v1, data: { v: 2 } };
    const master = await kit.cluster.masterOf(`${PREFIX}${id}`);
    await kit.admin(master).set(`${PREFIX}${id}`, JSON.stringify(v2), 'PX', 60_000);
    expect(await s.get(id), 'served from the cache while the lease holds').to.deep.equal(v1);

    const until = Date.now() + 1200; // stalled: no heartbeat is sent, no answer is read
    while (Date.now() < until) {
      // spin
    }
    expect(await s.ready(0), 'the cache in use right after the stall').to.equal(false);
    expect(await s.get(id), 'read after the stall').to.deep.equal(v2);
    expect(await s.ready(), 'subscribed again').to.equal(true);
  });
});
