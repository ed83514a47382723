// RedisStore on a real redis-server (docs/redis.md, "When Redis fails"): every operation is bounded
// by `timeout`. A paused (SIGSTOP) Redis makes each one reject, not hang, and the late answers
// cause no unhandled rejection; a killed one makes them reject too, and they work again once it is
// back.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { waitForSubscribers } from '../harness/redis-tools.js';
import { attempt, pollUntil, unhandledDuring } from './support/outcomes.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: bounded operations', function () {
  const kit = useRedisStores(this);

  it('every operation rejects within timeout + slack while Redis is paused, and the late answers are absorbed', async () => {
    const { redis, admin } = kit;
    const own = kit.client();
    const s = kit.store({ client: own, prefix: 'pause:', timeout: 200 });
    await waitForSubscribers(admin, 'pause:changed', 1);
    const kept = sampleId();
    await s.set(kept, sampleRecord(), 60_000);
    // A key of the wrong type: its late answer to GET is an error, which must not surface either.
    await admin.hset('pause:wrongtype', 'field', 'value');
    expect(await attempt(() => s.get('wrongtype'))).to.include({ ok: false });

    const unhandled = await unhandledDuring(async () => {
      redis.pause();
      const results = await Promise.all([
        attempt(() => s.get(sampleId())),
        attempt(() => s.get('wrongtype')),
        attempt(() => s.set(sampleId(), sampleRecord(), 60_000)),
        attempt(() => s.destroy(sampleId())),
        attempt(() => s.touch(kept, 60_000)),
        attempt(() => s.accessTokens.get('wxpaused')),
        attempt(() => s.accessTokens.set('wxpaused', 'token', 60_000)),
        attempt(() => s.accessTokens.drop('wxpaused', 'token')),
        attempt(() => s.accessTokens.lock('wxpaused', 'fetch', 5000)),
      ]);
      redis.resume();
      for (const [index, result] of results.entries()) {
        expect(result.ok, `operation ${index} settled while Redis was paused`).to.equal(false);
        expect(result.error, `operation ${index}`).to.be.instanceOf(Error);
        expect(result.ms, `operation ${index} took ${result.ms} ms`).to.be.within(150, 600);
      }
      // Same connection, so once this answers every queued command was answered too.
      expect(await own.ping()).to.equal('PONG');
    });
    expect(unhandled, 'unhandled rejections from late answers').to.deep.equal([]);
    // And the store works again.
    const id = sampleId();
    const record = sampleRecord();
    await s.set(id, record, 60_000);
    expect(await s.get(id)).to.deep.equal(record);
  });

  it('a killed Redis makes operations reject within the timeout, and they work again once it is back', async () => {
    const { redis, admin } = kit;
    const s = kit.store({ prefix: 'kill:', timeout: 300 });
    await waitForSubscribers(admin, 'kill:changed', 1);
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await redis.kill();
    try {
      // (A record it had cached may still be served for the few ms until it sees the connection close.)
      const results = await Promise.all([
        attempt(() => s.get(sampleId())),
        attempt(() => s.set(sampleId(), sampleRecord(), 60_000)),
        attempt(() => s.destroy(id)),
        attempt(() => s.accessTokens.get('wxkill')),
      ]);
      for (const result of results) {
        expect(result.ok).to.equal(false);
        expect(result.ms).to.be.below(300 + 300);
      }
    } finally {
      await redis.restart();
    }
    const back = await pollUntil(() => attempt(() => s.set(id, sampleRecord(), 60_000)), (r) => r.ok, 3000, 50);
    expect(back.accepted, 'set works again after the restart').to.equal(true);
    expect(await s.get(id)).to.have.property('openid');
    await waitForSubscribers(admin, 'kill:changed', 1); // resubscribed before the store is closed
  });
});
