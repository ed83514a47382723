// RedisStore's in-process cache on a real redis-server (docs/redis.md, "The in-process cache"): a
// second read costs no Redis round trip, and a change announced by another store drops the copy at
// once.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { waitForSubscribers } from '../harness/redis-tools.js';
import { pollUntil } from './support/outcomes.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: the in-process cache', function () {
  const kit = useRedisStores(this);

  it('serves a second read without a Redis round trip (and without the cache, every read is one)', async () => {
    const writer = kit.store({ prefix: 'hot:' });
    const reader = kit.store({ prefix: 'hot:' });
    const uncached = kit.store({ prefix: 'hot:', cache: false });
    await waitForSubscribers(kit.admin, 'hot:changed', 2);
    const id = sampleId();
    const record = sampleRecord();
    await writer.set(id, record, 60_000);
    await sleep(30); // a read that overlaps an announcement is (rightly) not cached

    const first = await kit.getsDuring(async () => expect(await reader.get(id)).to.deep.equal(record));
    expect(first, 'the first read goes to Redis').to.equal(1);
    const hits = await kit.getsDuring(async () => {
      for (let i = 0; i < 5; i++) expect(await reader.get(id)).to.deep.equal(record);
    });
    expect(hits, 'Redis GETs for five cached reads').to.equal(0);

    // The counter does see reads that miss.
    const misses = await kit.getsDuring(async () => {
      await uncached.get(id);
      await uncached.get(id);
    });
    expect(misses).to.equal(2);
  });

  it('a set, touch or destroy announced by another store drops the cached copy within 100 ms', async () => {
    const a = kit.store({ prefix: 'coh:' });
    const b = kit.store({ prefix: 'coh:' });
    await waitForSubscribers(kit.admin, 'coh:changed', 2);
    const id = sampleId();
    const first = sampleRecord(60_000, { data: { score: 1 } });
    await b.set(id, first, 60_000);
    await kit.expectCached(a, id, first, 'A serves its cached copy');

    const second = { ...first, data: { score: 2 } };
    await b.set(id, second, 60_000);
    const seen = await pollUntil(() => a.get(id), (r) => (r?.data as { score?: number } | undefined)?.score === 2, 100);
    expect(seen.accepted, `A still had ${JSON.stringify(seen.value)} after ${seen.ms} ms`).to.equal(true);
    expect(seen.value).to.deep.equal(second);

    const touchedFrom = Date.now();
    await b.touch(id, 120_000);
    const touched = await pollUntil(() => a.get(id), (r) => !!r && r.expiresAt >= touchedFrom + 120_000, 100);
    expect(touched.accepted, 'A sees the touched expiresAt').to.equal(true);

    await b.destroy(id);
    const gone = await pollUntil(() => a.get(id), (r) => r === undefined, 100);
    expect(gone.accepted, `A still served the destroyed record ${gone.ms} ms later`).to.equal(true);
  });
});
