// A logout is final on every instance's cache (SECURITY.md, "A stolen token"; issue #10 part 1), on
// a real redis-server: a logout that timed out but landed later, and a save whose answer arrives
// after another instance's logout, leave no instance serving the session.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { waitFor, waitForSubscribers } from '../harness/redis-tools.js';
import { attempt, pollUntil } from './support/outcomes.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: a logout is final on every instance', function () {
  const kit = useRedisStores(this);

  it('a destroy that timed out while Redis was paused but landed when it resumed does not leave another store serving the record', async () => {
    // B's logout answered 503 (timeout), yet Redis ran the DEL once it resumed. A, which had the
    // session cached, must not keep serving it: Redis no longer holds it.
    const { redis, admin } = kit;
    const a = kit.store({ prefix: 'late:', timeout: 200 });
    const bClient = kit.client();
    const b = kit.store({ client: bClient, prefix: 'late:', timeout: 200 });
    await waitForSubscribers(admin, 'late:changed', 2);
    const id = sampleId();
    const record = sampleRecord();
    await b.set(id, record, 60_000);
    await kit.expectCached(a, id, record, 'A has the record cached');

    redis.pause();
    const timedOut = await attempt(() => b.destroy(id));
    redis.resume();
    expect(timedOut.ok, 'destroy timed out while paused').to.equal(false);
    await bClient.ping(); // the queued DEL has run
    expect(await admin.exists(`late:${id}`), 'Redis ran the late DEL').to.equal(0);

    const gone = await pollUntil(() => a.get(id), (r) => r === undefined, 1000, 50);
    expect(gone.accepted, `A still served a record Redis no longer holds ${gone.ms} ms after Redis resumed`).to.equal(true);
  });

  it("a save whose answer arrives after another instance's logout of that session does not put the session back into the cache", async () => {
    // B's update ran in Redis just before A's logout; B hears its answer only after it heard A's
    // announcement. B must not cache what it wrote: the session is gone.
    const { admin } = kit;
    const { proxy, client } = await kit.proxied();
    const a = kit.store({ prefix: 'recache:' });
    const b = kit.store({ client, prefix: 'recache:' });
    await waitForSubscribers(admin, 'recache:changed', 2);
    const id = sampleId();
    const record = sampleRecord();
    await a.set(id, record, 60_000);
    proxy.holdWhenSent('set'); // B's command connection: Redis runs its SET ... XX, B hears nothing yet
    const saving = b.update(id, { ...record, data: { saved: true } }, 60_000);
    saving.catch(() => {}); // awaited below
    await waitFor(() => proxy.holding('set') === 1, "B's save sent");
    await waitFor(async () => (await admin.exists(`recache:${id}`)) === 1 && JSON.parse((await admin.get(`recache:${id}`))!).data.saved === true, "B's save ran");
    await a.destroy(id); // announced: B's subscription (not held) hears it
    await sleep(30);
    proxy.release('set');
    expect(await saving, 'the save ran before the logout').to.equal(true);
    expect(await admin.exists(`recache:${id}`)).to.equal(0);
    expect(await b.get(id), 'B serves the logged-out session from its cache').to.equal(undefined);
  });
});
