// RedisStore on a real Redis Cluster, two stores on two Cluster clients as two app instances
// (issue #10 part 9; SECURITY.md, "Many instances on a Redis Cluster"): read-your-write across
// instances, 200 logouts and 200 saves read on the other instance 1, 5 and 20 ms after the
// acknowledgement (0 stale at 5 ms; the 1 and 20 ms counts are logged), also while a slot is
// migrated to another master, whose subscription then follows the slot.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { keySlot } from '../harness/cluster.js';
import { PREFIX, useClusterStores, warm } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: what one instance acknowledged is what the other reads', function () {
  const kit = useClusterStores(this);

  it('a logout or a save acknowledged on A is what B reads 1, 5 and 20 ms later (200 each): 0 stale at 5 ms', async () => {
    const [a, b] = await kit.twoInstances();
    const counts: Record<string, number> = {};
    for (const delay of [1, 5, 20]) {
      let stale = 0;
      const rounds = Array.from({ length: 200 }, (_, i) => i);
      // 20 sessions at a time, spread over every slot and master.
      for (let start = 0; start < rounds.length; start += 20) {
        await Promise.all(
          rounds.slice(start, start + 20).map(async (i) => {
            const id = sampleId();
            const record = sampleRecord(60_000, { data: { v: 1 } });
            await a.set(id, record, 60_000);
            await b.get(id);
            await b.get(id); // B has it cached
            if (i % 2 === 0) {
              await a.destroy(id);
              await sleep(delay);
              if ((await b.get(id)) !== undefined) stale++;
            } else {
              expect(await a.update(id, { ...record, data: { v: 2 } }, 60_000)).to.equal(true);
              await sleep(delay);
              if ((await b.get(id))?.data.v !== 2) stale++;
            }
          }),
        );
      }
      counts[`${delay} ms`] = stale;
    }
    console.log(`      stale reads on B after an acknowledged logout/save on A (of 200): ${JSON.stringify(counts)}`);
    expect(counts['5 ms'], 'stale reads 5 ms after the acknowledgement').to.equal(0);
    expect(counts['20 ms'], 'stale reads 20 ms after the acknowledgement').to.equal(0);
  });

  it('a slot migrated to another master while it is written: B never answers a stale copy, and its subscription follows the slot', async () => {
    const [a, b] = await kit.twoInstances();
    const from = await kit.cluster.masterOf(`${PREFIX}${sampleId()}`);
    const to = (await kit.cluster.masters()).find((master) => master.port !== from.port)!;
    const [id] = await kit.idsOn(from, 1);
    const slot = keySlot(`${PREFIX}${id!}`);
    const record = sampleRecord(60_000, { data: { v: 0 } });
    await a.set(id!, record, 60_000);
    await sleep(20);
    await warm(b, [id!]);
    const version = async (v: number) => {
      expect(await a.update(id!, { ...record, data: { v } }, 60_000)).to.equal(true);
      const seen = await b.get(id!);
      expect(seen?.data.v, `B after save ${v}`).to.equal(v);
      await b.get(id!);
    };

    const source = kit.admin(from);
    const target = kit.admin(to);
    const [sourceId, targetId] = [(await source.cluster('MYID')) as string, (await target.cluster('MYID')) as string];
    await target.cluster('SETSLOT', slot, 'IMPORTING', sourceId);
    await source.cluster('SETSLOT', slot, 'MIGRATING', targetId);
    await version(1); // the key is still on the source
    const keys = (await source.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    await source.migrate('127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
    await version(2); // the key is on the target (ASK), the slot still the source's
    for (const master of await kit.cluster.masters()) await kit.admin(master).cluster('SETSLOT', slot, 'NODE', targetId);
    await version(3); // the slot is the target's (MOVED)
    expect(await b.ready(5000), "B subscribed to the slot's new master").to.equal(true);
    await version(4);
    await a.destroy(id!);
    expect(await b.get(id!)).to.equal(undefined);
  });
});
