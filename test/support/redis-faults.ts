// The Redis half of the fault matrix, shared by the test/faults-redis-*.test.ts files: a real
// redis-server under the real RedisStore, made slow (paused past the store timeout), killed
// mid-request, killed and restarted with persistence (nothing acknowledged is lost), refusing
// connections, restarted without persistence (everything lost: 401 WX_SESSION_EXPIRED, never a
// copy from the in-process cache). 503 WX_STORE_UNAVAILABLE where the store is needed, within the
// store timeout + margin, and the server recovers.
// Columns of each row: POST /wx/login (needs Redis: 503) · GET /me of a session the app never read
// (required: 503) · GET /whoami (optional: 200, the reason kept) · POST /wx/logout with a token
// (503: it could not be destroyed) and without (204) · GET /me of a session the app has cached
// (200 while the subscription that keeps the cache coherent is up, 503 once it is down) — then the
// pre-existing sessions' raw records and answers, and recovery.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Response } from 'supertest';
import { createWxSession, type WxSessionCore } from '../../src/index.js';
import { RedisStore } from '../../src/redis.js';
import { startMockWeChat, type MockWeChat } from '../../src/testing/index.js';
import { adapters, coreOptions, sleep, startApp, type AdapterName, type TestApp } from '../../harness/apps.js';
import { requireRedis, startControlledRedis, type ControlledRedis } from '../../harness/redis.js';
import { commandCalls, waitFor, waitForSubscribers } from '../../harness/redis-tools.js';
import { sessionIdOf } from './stores.js';
import { expectError, H, TIMEOUT } from './wechat-faults.js';

/** The RedisStore's `timeout`. */
export const STORE_TIMEOUT = 300;
const STORE_BOUND = STORE_TIMEOUT + 700;

export const auth = (token: string) => ({ [H]: token });

/** A session made before the fault: where Redis keeps it, what it holds, what GET /me answered. */
export interface StoredSession {
  label: string;
  openid: string;
  token: string;
  key: string;
  /** The raw value Redis holds. */
  raw: string;
  me: unknown;
}

/** Waits until `client` answers again (after a restart). */
export const reachable = (client: Redis, what: string) => waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', what, 5000);

export function expectUnavailable(res: Response, ms: number, what: string): void {
  expectError(res, 503, 'WX_STORE_UNAVAILABLE');
  expect(res.headers).to.not.have.property('www-authenticate');
  expect(ms, `${what} answered after ${ms} ms`).to.be.below(STORE_BOUND);
}

export function expectWhoamiUnavailable(res: Response, ms: number): void {
  expect(res.status).to.equal(200);
  expect(res.body).to.deep.equal({ session: false, openid: null, error: 'WX_STORE_UNAVAILABLE' });
  expect(ms).to.be.below(STORE_BOUND);
}

/** `token`'s session is in `target`'s cache: GET /me answers without a Redis GET. */
export async function expectServedFromCache(target: TestApp, token: string, redis: Redis): Promise<void> {
  const before = await commandCalls(redis, 'get');
  expect((await target.http.get('/me').set(auth(token))).status).to.equal(200);
  expect((await commandCalls(redis, 'get')) - before, 'Redis GETs for a cached session').to.equal(0);
}

/** Logins answer 200 again once the app's client is back (it reconnects every 50 ms). */
export async function recovered(target: TestApp, mock: MockWeChat): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await target.http.post('/wx/login').send({ code: mock.issueCode() });
    if (res.status === 200) return res.body.token as string;
    expect(res.status, `while recovering: ${JSON.stringify(res.body)}`).to.equal(503);
    if (Date.now() > deadline) throw new Error('the app did not recover within 5 s of Redis coming back');
    await sleep(50);
  }
}

/** The servers every adapter's rows share: a Redis that keeps everything, one that keeps nothing, the mock. */
export interface RedisFaultServers {
  /** Appends and fsyncs every write: a SIGKILL loses nothing acknowledged. */
  durable: ControlledRedis;
  /** Keeps nothing: a restart comes up empty. */
  volatile: ControlledRedis;
  mock: MockWeChat;
}

/** One adapter's app on the durable Redis, with sessions made before any fault. */
export class RedisFaultBench {
  readonly prefix: string;
  admin!: Redis;
  /** The app's own ioredis client: pinged to know the commands it queued have run. */
  appClient!: Redis;
  appStore!: RedisStore;
  app!: TestApp;
  /** Another instance, without a cache, for sessions the app has never seen (it must ask Redis). */
  otherStore!: RedisStore;
  other!: WxSessionCore;
  existing: StoredSession[] = [];
  /** Run after each test (a row's own apps and stores). */
  readonly cleanups: Array<() => Promise<void>> = [];

  constructor(
    readonly name: AdapterName,
    readonly servers: RedisFaultServers,
  ) {
    this.prefix = `faults-${name}:`;
  }

  get mock(): MockWeChat {
    return this.servers.mock;
  }

  /** An app of `name` on `store`, as the rows start them. */
  startApp(store: RedisStore): Promise<TestApp> {
    return startApp(this.name, { mock: this.mock, core: { store, timeout: TIMEOUT, checkSessionKey: false } });
  }

  async snapshot(label: string, token: string, openid: string): Promise<StoredSession> {
    const key = `${this.prefix}${sessionIdOf(token)}`;
    const raw = await this.admin.get(key);
    expect(raw, `${label} is in Redis`).to.be.a('string');
    const me = await this.app.http.get('/me').set(auth(token));
    expect(me.status).to.equal(200);
    return { label, openid, token, key, raw: raw!, me: me.body };
  }

  /** Raw records in Redis identical, GET /me identical (read from Redis when the cache was emptied). */
  async expectExistingIntact(when: string): Promise<void> {
    const { admin, existing } = this;
    for (const one of existing) expect(await admin.get(one.key), `${when}: Redis's record of ${one.label}`).to.equal(one.raw);
    for (const one of existing) {
      const res = await this.app.http.get('/me').set(auth(one.token));
      expect(res.status, `${when}: GET /me of ${one.label}: ${JSON.stringify(res.body)}`).to.equal(200);
      expect(res.body, `${when}: GET /me of ${one.label}`).to.deep.equal(one.me);
      const seen = await this.other.authenticate(one.token);
      expect(seen.session?.toJSON(), `${when}: ${one.label} read by another instance`).to.deep.include({ openid: one.openid, data: (one.me as { data: unknown }).data });
    }
    for (const one of existing) expect(await admin.get(one.key), `${when}: ${one.label} after reading it`).to.equal(one.raw);
  }

  /** A session made by the other instance: the app has never read it. */
  async loginOther(): Promise<string> {
    return (await this.other.login(this.mock.issueCode())).token;
  }

  async start(): Promise<void> {
    const { durable } = this.servers;
    const { prefix, name } = this;
    this.admin = durable.client();
    this.appClient = durable.client();
    this.appStore = new RedisStore({ client: this.appClient, prefix, timeout: STORE_TIMEOUT });
    this.otherStore = new RedisStore({ client: durable.client(), prefix, timeout: STORE_TIMEOUT, cache: false });
    this.other = createWxSession(coreOptions(this.mock, { store: this.otherStore, checkSessionKey: false }));
    this.app = await this.startApp(this.appStore);
    await waitForSubscribers(this.admin, `${prefix}changed`, 1);

    this.existing = [];
    for (const [index, coins] of [3, 1, 0].entries()) {
      const openid = `oR${index}${name}`;
      const { token } = await this.app.login(openid, index === 0 ? { unionid: `uR0${name}` } : undefined);
      for (let i = 0; i < coins; i++) expect((await this.app.http.post('/me/coins').set(auth(token))).status).to.equal(200);
      this.existing.push(await this.snapshot(`R${index} (coins ${coins})`, token, openid));
    }
  }

  /** Whatever a row left paused or killed comes back; the row's own apps and stores close. */
  async afterEach(): Promise<void> {
    for (const redis of [this.servers.durable, this.servers.volatile]) {
      if (redis.paused) redis.resume();
      if (!redis.running) await redis.restart();
    }
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
  }

  async stop(): Promise<void> {
    await this.app?.close();
    await reachable(this.admin, 'Redis before closing the stores');
    await Promise.all([this.appStore?.close(), this.otherStore?.close()]);
  }
}

/**
 * The suite of a faults-redis file: the servers started once, then one describe() per adapter
 * with its bench, and the file's rows from `rows`.
 */
export function redisFaultSuite(title: string, rows: (bench: RedisFaultBench) => void): void {
  describe(`faults: Redis ${title} (a real redis-server, the real RedisStore)`, function () {
    requireRedis(this);
    this.timeout(20_000);
    const servers = {} as RedisFaultServers;

    before(async () => {
      [servers.durable, servers.volatile, servers.mock] = await Promise.all([startControlledRedis({ persist: true }), startControlledRedis(), startMockWeChat()]);
    });

    after(async () => {
      await Promise.all([servers.durable?.stop(), servers.volatile?.stop(), servers.mock?.close()]);
    });

    for (const name of adapters) {
      describe(`through ${name}`, () => {
        const bench = new RedisFaultBench(name, servers);
        before(() => bench.start());
        afterEach(() => bench.afterEach());
        after(() => bench.stop());
        rows(bench);
      });
    }
  });
}
