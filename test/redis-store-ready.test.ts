// RedisStore.ready() on a real redis-server: it resolves true once the store hears the other
// instances' changes (its subscription is up, its cache in use), false when that takes longer
// than asked (Redis paused) or once the store is closed; the store works meanwhile, uncached.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: ready()', function () {
  const kit = useRedisStores(this);

  it('false while Redis cannot be subscribed to within the time given, true once it can, false after close()', async () => {
    const { redis } = kit;
    redis.pause();
    const s = kit.store({ prefix: 'ready:' });
    try {
      expect(await s.ready(200), 'ready while Redis is paused').to.equal(false);
    } finally {
      redis.resume();
    }
    expect(await s.ready(), 'ready once Redis answers').to.equal(true);
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await s.close();
    expect(await s.ready(), 'ready after close()').to.equal(false);
    expect(await s.get(id), 'still read, uncached').to.have.property('openid');
  });
});
