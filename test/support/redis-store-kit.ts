// The fixture of the RedisStore tests on one private redis-server (test/redis-store-*.test.ts,
// test/redis-promises.test.ts): the server, which tests pause, kill and restart (it is brought back
// after each test), an admin connection, a mock WeChat, and the clients, proxies, stores and apps
// a test makes, closed after it.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createWxSession, type SessionRecord, type WxSession, type WxSessionCore } from '../../src/index.js';
import { RedisStore, type RedisStoreOptions } from '../../src/redis.js';
import { accessTokenContext, Sealer } from '../../src/seal.js';
import { startMockWeChat, type MockWeChat } from '../../src/testing/index.js';
import { coreOptions, SECRET, sleep, startApp, type AdapterName, type StartOptions, type TestApp } from '../../harness/apps.js';
import { requireRedis, startControlledRedis, type ControlledRedis } from '../../harness/redis.js';
import { commandCalls, startHoldingProxy, type HoldingProxy } from '../../harness/redis-tools.js';

export type StoreOptions = Omit<RedisStoreOptions, 'client'> & { client?: Redis };

/** Call at the top of a describe(): starts Redis and the mock before its tests, cleans up after each. */
export function useRedisStores(suite: Mocha.Suite): RedisStoreKit {
  requireRedis(suite);
  suite.timeout(15_000);
  const kit = new RedisStoreKit();
  suite.beforeAll(() => kit.start());
  suite.afterEach(() => kit.cleanUp());
  suite.afterAll(() => kit.stop());
  return kit;
}

export class RedisStoreKit {
  #redis: ControlledRedis | undefined;
  #admin: Redis | undefined;
  #mock: MockWeChat | undefined;
  #clients: Redis[] = [];
  #proxies: HoldingProxy[] = [];
  #stores: RedisStore[] = [];
  #apps: TestApp[] = [];

  async start(): Promise<void> {
    this.#redis = await startControlledRedis();
    this.#admin = this.#redis.client();
    this.#mock = await startMockWeChat();
  }

  /** Brings Redis back (resumed, running) and closes what the test made. */
  async cleanUp(): Promise<void> {
    const redis = this.#redis;
    if (redis?.paused) redis.resume();
    if (redis && !redis.running) await redis.restart();
    for (const proxy of this.#proxies.splice(0)) await proxy.close();
    await Promise.all(this.#apps.splice(0).map((app) => app.close()));
    await Promise.all(this.#stores.splice(0).map((made) => made.close()));
    for (const made of this.#clients.splice(0)) made.disconnect();
    this.#mock?.clearFaults();
  }

  async stop(): Promise<void> {
    await this.#redis?.stop();
    await this.#mock?.close();
  }

  get redis(): ControlledRedis {
    return started(this.#redis);
  }

  /** A connection of the test's own, for looking at Redis behind the stores' backs. */
  get admin(): Redis {
    return started(this.#admin);
  }

  get mock(): MockWeChat {
    return started(this.#mock);
  }

  /** A client of the test's own, closed after the test. */
  client(): Redis {
    const made = this.redis.client();
    this.#clients.push(made);
    return made;
  }

  /** A client that reaches Redis through a proxy which can hold its answers; both closed after the test. */
  async proxied(): Promise<{ proxy: HoldingProxy; client: Redis }> {
    const proxy = await startHoldingProxy(this.redis.port);
    this.#proxies.push(proxy);
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => {});
    this.#clients.push(client);
    return { proxy, client };
  }

  /** A RedisStore (on a client of its own unless given one), closed after the test. */
  store(options: StoreOptions = {}): RedisStore {
    const made = new RedisStore({ client: options.client ?? this.client(), ...options });
    this.#stores.push(made);
    return made;
  }

  /** A core on the kit's mock, with a RedisStore made by store(options). */
  core(options?: StoreOptions): WxSessionCore {
    return createWxSession(coreOptions(this.mock, { store: this.store(options) }));
  }

  /** A session of `core`, logged in with a code of the mock. */
  async session(core: WxSessionCore, openid?: string): Promise<WxSession> {
    return (await core.login(this.mock.issueCode(openid))).session;
  }

  /** A test app on the kit's mock, closed after the test. */
  async app(name: AdapterName, options: StartOptions = {}): Promise<TestApp> {
    const made = await startApp(name, { mock: this.mock, ...options });
    this.#apps.push(made);
    return made;
  }

  /** How many GETs Redis ran while `fn` ran (0: what it read came from a cache). */
  async getsDuring(fn: () => Promise<unknown>): Promise<number> {
    const before = await commandCalls(this.admin, 'get');
    await fn();
    return (await commandCalls(this.admin, 'get')) - before;
  }

  /**
   * Reads `id` through `store` twice, once announcements in flight have landed (a read that
   * overlaps one is, rightly, not cached): both answer `record` (when given), the second from the
   * store's cache.
   */
  async expectCached(store: RedisStore, id: string, record: SessionRecord | undefined, what: string): Promise<void> {
    const read = async () => {
      const got = await store.get(id);
      if (record) expect(got).to.deep.equal(record);
    };
    await sleep(30);
    await read();
    expect(await this.getsDuring(read), what).to.equal(0);
  }

  /** An access token as a core stores it (sealed under the test secret), opened; null for none. */
  openToken(sealed: string | null): string | null | undefined {
    return sealed === null ? null : new Sealer([SECRET]).open(sealed, accessTokenContext(this.mock.appId));
  }
}

/** How many connections named `name` (CLIENT SETNAME) `client`'s server has. */
export async function connectionsNamed(client: Redis, name: string): Promise<number> {
  return ((await client.call('CLIENT', 'LIST')) as string).split('\n').filter((line) => line.includes(`name=${name}`)).length;
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the Redis store kit is used before its suite started');
  return value;
}
