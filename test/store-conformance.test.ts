// The exported conformance suite, run against both stores we ship.
import { MemoryStore } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { testStore } from '../src/testing/index.js';
import { requireRedis, startRedis, type RedisServer } from './support-redis.js';

describe('MemoryStore', () => {
  testStore(() => new MemoryStore({ max: 1000 }));
});

describe('RedisStore', function () {
  requireRedis(this);
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  testStore(() => new RedisStore({ client: redis.client(), prefix: 'conf:' }), { cleanup: (store) => (store as RedisStore).close() });
  testStore(() => new RedisStore({ client: redis.client(), prefix: 'conf-nocache:', cache: false }), {
    title: 'SessionStore conformance (cache off)',
    cleanup: (store) => (store as RedisStore).close(),
  });
});
