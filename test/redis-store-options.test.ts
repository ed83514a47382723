// RedisStore's options are checked once, when the store is built: a wrong one is a TypeError whose
// message starts "wx-session:" and names it, as with every option of the library. No Redis is
// needed: a store without a cache, on a single Redis, opens nothing until it is used.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../src/redis.js';

/** A stand-in for an ioredis client: enough to be told apart from something else. */
const client = { get() {} } as unknown as Redis;

describe('RedisStore options', () => {
  it('refuses a missing client, or one that is not an ioredis client', () => {
    for (const options of [undefined, null, {}, { client: undefined }, { client: {} }, { client: 'redis://127.0.0.1' }]) {
      expect(() => new RedisStore(options as unknown as RedisStoreOptions), JSON.stringify(options)).to.throw(TypeError, /^wx-session: RedisStore needs \{ client \}/);
    }
  });

  it('refuses a timeout that is not a positive number', () => {
    for (const timeout of [0, -1, Number.NaN, '1000']) {
      expect(() => new RedisStore({ client, timeout: timeout as number }), String(timeout)).to.throw(TypeError, /^wx-session: RedisStore timeout must be a positive number/);
    }
  });

  it('refuses a cache lease that is not a positive number', () => {
    for (const lease of [0, -5, Number.NaN]) {
      expect(() => new RedisStore({ client, cache: { lease } }), String(lease)).to.throw(TypeError, /^wx-session: RedisStore cache\.lease must be a positive number/);
    }
  });

  it('refuses wait.replicas that is not a whole number >= 1, and a wait.timeout that is not a positive number', () => {
    for (const replicas of [0, 1.5, -1]) {
      expect(() => new RedisStore({ client, cache: false, wait: { replicas } }), String(replicas)).to.throw(TypeError, /^wx-session: RedisStore wait\.replicas must be a whole number >= 1/);
    }
    for (const timeout of [0, -1, Number.NaN]) {
      expect(() => new RedisStore({ client, cache: false, wait: { timeout } }), String(timeout)).to.throw(TypeError, /^wx-session: RedisStore wait\.timeout must be a positive number/);
    }
  });

  it('without a cache, ready() is true at once; limitSessions refuses a max that is not a whole number >= 0', async () => {
    const store = new RedisStore({ client, cache: false });
    expect(await store.ready(0)).to.equal(true);
    for (const max of [-1, 1.5, Number.NaN]) {
      let refused: unknown;
      await store.limitSessions('oSomeone', max).catch((error: unknown) => (refused = error));
      expect(refused, String(max)).to.be.instanceOf(TypeError);
      expect((refused as Error).message).to.match(/^wx-session: limitSessions max must be a whole number >= 0/);
    }
    await store.close();
  });
});
