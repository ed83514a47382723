// RedisStore on a real redis-server while its subscription is down (docs/redis.md, "The in-process
// cache"): nothing is served from the cache then, and a read made while it was down is not cached
// once it is back (the changes announced meanwhile are lost to the store; that record may be one of
// them).
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { waitFor, waitForSubscribers } from '../harness/redis-tools.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: while the subscription is down', function () {
  const kit = useRedisStores(this);

  it('while its subscription is down, a store reads Redis every time instead of its cache', async () => {
    const { admin } = kit;
    const a = kit.store({ prefix: 'down:' });
    await waitForSubscribers(admin, 'down:changed', 1);
    const id = sampleId();
    const v1 = sampleRecord(60_000, { data: { v: 1 } });
    await a.set(id, v1, 60_000);
    // A write behind the store's back (not announced): the cache hides it while subscribed.
    const v2 = { ...v1, data: { v: 2 } };
    await admin.set(`down:${id}`, JSON.stringify(v2), 'PX', 60_000);
    expect(await a.get(id), 'served from the cache while subscribed').to.deep.equal(v1);

    // Take the subscription down and keep it down: kill it and refuse its reconnection.
    const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
    await admin.config('SET', 'maxclients', String(connected - 1));
    try {
      expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).to.equal(1);
      await sleep(200);
      expect(((await admin.pubsub('NUMSUB', 'down:changed')) as [string, number])[1]).to.equal(0);

      expect(await a.get(id), 'read from Redis once the subscription is down').to.deep.equal(v2);
      const v3 = { ...v1, data: { v: 3 } };
      await admin.set(`down:${id}`, JSON.stringify(v3), 'PX', 60_000);
      const reads = await kit.getsDuring(async () => {
        expect(await a.get(id), 'nothing was cached while down').to.deep.equal(v3);
        expect(await a.get(id)).to.deep.equal(v3);
      });
      expect(reads, 'each read went to Redis').to.equal(2);
    } finally {
      await admin.config('SET', 'maxclients', '10000');
    }
    // Subscribed again: the cache is back in use.
    await waitForSubscribers(admin, 'down:changed', 1);
    await a.get(id);
    expect(await kit.getsDuring(() => a.get(id)), 'cached again once resubscribed').to.equal(0);
  });

  it('a read that started while the subscription was down is not cached once it is back', async () => {
    // Changes announced while A was not listening are lost to A; a record A read in that time
    // may be one of them, so it must not be cached even if its answer arrives after A
    // resubscribed. The proxy holds A's answers to freeze it at each step.
    const { admin } = kit;
    const { proxy, client } = await kit.proxied();
    const a = kit.store({ client, prefix: 'gap:' });
    const b = kit.store({ prefix: 'gap:' });
    await waitForSubscribers(admin, 'gap:changed', 2);
    const id = sampleId();
    const v1 = sampleRecord(60_000, { data: { v: 1 } });
    const v2 = { ...v1, data: { v: 2 } };
    await b.set(id, v1, 60_000);

    // A's subscription connection drops; its reconnection stalls before ready.
    proxy.holdWhenSent('info');
    proxy.drop('subscribe');
    await waitFor(() => proxy.holding('info') === 1, "A's subscriber reconnecting");
    // A reads (Redis answers v1, A hears it late)...
    proxy.holdWhenSent('get');
    const reading = a.get(id);
    reading.catch(() => {}); // awaited below
    await waitFor(() => proxy.holding('get') === 1, "A's read sent");
    // ...B changes the record, announced while A is not listening...
    await b.set(id, v2, 60_000);
    // ...A subscribes again, then hears the answer to its read.
    proxy.release('info');
    await waitForSubscribers(admin, 'gap:changed', 2);
    proxy.release('get');
    expect(await reading, 'what Redis held when it answered').to.deep.equal(v1);

    expect(JSON.parse((await admin.get(`gap:${id}`))!)).to.deep.equal(v2);
    expect(await a.get(id), 'A serves a record Redis no longer holds').to.deep.equal(v2);
  });
});
