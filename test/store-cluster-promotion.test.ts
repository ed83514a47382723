// RedisStore on a real Redis Cluster (SECURITY.md, "Many instances on a Redis Cluster"): a master
// promoted by a failover has no replica until the old master rejoins; it costs no WAIT timeout, and
// saves while the old master restarts and rejoins as a replica (fresh from its resynchronisation)
// are not refused.
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { attempt } from './support/outcomes.js';
import { PREFIX, saveUntilAcknowledged, useClusterStores } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: a promoted master, and the old one rejoining', function () {
  const kit = useClusterStores(this);

  it('a master promoted by a failover (no replica until the old one rejoins) costs no WAIT timeout: 20 concurrent saves there answer at once, none refused', async () => {
    const warm = kit.store();
    expect(await warm.ready()).to.equal(true);
    const victim = await kit.cluster.masterOf(`${PREFIX}${sampleId()}`);
    const ids = await kit.idsOn(victim, 20);
    for (const id of ids) await warm.set(id, sampleRecord(60_000, { data: { n: 0 } }), 60_000);
    const [replica] = await kit.cluster.replicasOf(victim);
    await victim.kill();
    await kit.cluster.waitUntilHealthy(20_000);
    expect(await replica!.role(), 'the replica was promoted').to.equal('master');
    await saveUntilAcknowledged(warm, ids[0]!, sampleRecord(60_000, { data: { n: 1 } }));
    const fresh = kit.store();
    expect(await fresh.ready()).to.equal(true);
    const timings: string[] = [];
    for (const [name, s] of [['a store that wrote there before', warm], ['a new store', fresh]] as const) {
      for (let round = 2; round < 5; round++) {
        const started = performance.now();
        const results = await Promise.all(ids.map((id) => attempt(() => s.update(id, sampleRecord(60_000, { data: { n: round } }), 60_000))));
        const ms = performance.now() - started;
        timings.push(`${name} ${ms.toFixed(0)} ms`);
        expect(results.filter((result) => !result.ok).map((result) => String((result as { error: Error }).error.message)), `${name}: refused saves`).to.deep.equal([]);
        expect(ms, `${name}: ms for 20 concurrent saves on the promoted master`).to.be.below(250);
      }
    }
    console.log(`      20 concurrent saves on a promoted master without a replica: ${timings.join(', ')}`);
  });

  it('saves while the killed master restarts and rejoins as a replica are not refused (a replica fresh from its resynchronisation)', async () => {
    const s = kit.store();
    expect(await s.ready()).to.equal(true);
    const victim = await kit.cluster.masterOf(`${PREFIX}${sampleId()}`);
    const ids = await kit.idsOn(victim, 20);
    for (const id of ids) await s.set(id, sampleRecord(), 60_000);
    await victim.kill();
    await kit.cluster.waitUntilHealthy(20_000);
    await saveUntilAcknowledged(s, ids[0]!, sampleRecord());
    let saving = true;
    const refused: string[] = [];
    let acknowledged = 0;
    const savers = ids.map(async (id) => {
      while (saving) {
        const result = await attempt(() => s.update(id, sampleRecord(), 60_000));
        if (result.ok) acknowledged++;
        else refused.push(String((result.error as Error).message));
        await sleep(Math.random() * 5);
      }
    });
    await sleep(200);
    await victim.restart();
    await kit.cluster.waitUntilHealthy(20_000);
    expect(await victim.role(), 'the old master rejoined as a replica').to.equal('replica');
    await sleep(1500);
    saving = false;
    await Promise.all(savers);
    console.log(`      saves during the rejoin: ${acknowledged} acknowledged, ${refused.length} refused`);
    expect(refused, 'saves refused while the old master rejoined').to.deep.equal([]);
  });
});
