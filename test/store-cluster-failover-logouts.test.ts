// RedisStore on a real Redis Cluster (issue #10 part 9; SECURITY.md, "Many instances on a Redis
// Cluster"): the master carrying the other instance's subscription for a slot is killed, or paused
// (SIGSTOP): no logout acknowledged meanwhile or after the failover is answered from that
// instance's cache, and it subscribes to the new master and caches again.
import { expect } from 'chai';
import type { SessionRecord } from '../src/store.js';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { attempt } from './support/outcomes.js';
import { PREFIX, useClusterStores, warm } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: logouts across a failover', function () {
  const kit = useClusterStores(this);

  for (const fault of ['killed', 'paused'] as const) {
    it(`the master carrying B's subscription for some slots ${fault}: B answers no logout acknowledged meanwhile or after the failover from its cache`, async () => {
      // A's client looks at the slot map every 500 ms by itself; B's (ioredis' default) only on
      // MOVED and closed connections, which a paused master never sends: B has nothing but its
      // own subscription's heartbeat to tell it its copies of that master's slots went stale.
      const a = kit.store({ client: kit.cluster.client({ slotsRefreshInterval: 500 }) });
      const b = kit.store();
      expect(await a.ready(), 'A subscribed on every master').to.equal(true);
      expect(await b.ready(), 'B subscribed on every master').to.equal(true);
      const victim = await kit.cluster.masterOf(`${PREFIX}${sampleId()}`);
      const onVictim = await kit.idsOn(victim, 150);
      const elsewhere = await kit.idsOn(victim, 150, true);
      const ids = [...onVictim, ...elsewhere];
      const records = new Map<string, SessionRecord>(ids.map((id) => [id, sampleRecord()]));
      await Promise.all(ids.map((id) => a.set(id, records.get(id)!, 60_000)));
      await sleep(20);
      await warm(b, ids);

      const started = Date.now();
      if (fault === 'killed') await victim.kill();
      else victim.pause();
      // Logouts right away: those on the failed master fail (503) until the failover, within the
      // store's timeout (1000 ms).
      const first = await Promise.all(ids.map(async (id) => ({ id, result: await attempt(() => a.destroy(id)) })));
      expect(Date.now() - started, 'ms until every logout was answered').to.be.below(1000 + 500);
      const acked = first.filter((entry) => entry.result.ok).map((entry) => entry.id);
      const pending = first.filter((entry) => !entry.result.ok).map((entry) => entry.id);
      const staleAtOnce = (await Promise.all(acked.map((id) => attempt(() => b.get(id))))).filter((read) => read.ok && read.value !== undefined).length;

      // Until the failover is done, the failed ones are retried; each acknowledged logout is read on B at once.
      let staleLater = 0;
      let failoverMs = 0;
      while (pending.length > 0) {
        if (Date.now() - started > 15_000) throw new Error(`${pending.length} logouts still failing 15 s after the master was ${fault}`);
        const id = pending[0]!;
        if ((await attempt(() => a.destroy(id))).ok) {
          pending.shift();
          failoverMs ||= Date.now() - started;
          const read = await attempt(() => b.get(id));
          if (read.ok && read.value !== undefined) staleLater++;
        } else {
          await sleep(20);
        }
      }
      let staleAfter = 0;
      for (const id of ids) if ((await b.get(id)) !== undefined) staleAfter++;
      console.log(
        `      master ${fault}: ${acked.length} logouts acknowledged at once, ${ids.length - acked.length} waited for the failover (first after ${failoverMs} ms); ` +
          `stale on B: ${staleAtOnce} at once, ${staleLater} during, ${staleAfter} after`,
      );
      expect(elsewhere.every((id) => acked.includes(id)), 'the logouts on the healthy masters were acknowledged at once').to.equal(true);
      expect(staleAtOnce, 'logouts acknowledged right after the fault, still answered by B').to.equal(0);
      expect(staleLater, 'logouts acknowledged by the promoted replica, still answered by B').to.equal(0);
      expect(staleAfter, 'logged-out sessions B still answers').to.equal(0);
      // B subscribes to the new master and uses its cache again.
      expect(await b.ready(5000), 'B subscribed again on every master').to.equal(true);
      const id = onVictim[0]!;
      await a.set(id, records.get(id)!, 60_000);
      await sleep(20);
      await warm(b, [id]);
      await a.destroy(id);
      expect(await b.get(id), 'a logout after B resubscribed').to.equal(undefined);
    });
  }
});
