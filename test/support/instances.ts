// For the multi-instance tests (test/multi-instance-*.test.ts): app processes (harness/instance.ts,
// the Express example's routes on a RedisStore) sharing one private redis-server and one mock
// WeChat, requests to them over real HTTP with their timing, and the checks those tests share.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startMockWeChat, type MockWeChat } from '../../src/testing/index.js';
import { sleep } from '../../harness/apps.js';
import { startInstance, type Instance } from '../../harness/instance-process.js';
import { requireRedis, startControlledRedis, type ControlledRedis } from '../../harness/redis.js';
import { commandCalls } from '../../harness/redis-tools.js';

export type { Instance } from '../../harness/instance-process.js';

/** 503s must come within the store's default timeout (1 s) plus this much for HTTP and scheduling. */
export const FAULT_BOUND_MS = 1500;

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  ms: number;
}

export async function call(instance: Instance, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token) headers['X-WX-Session'] = options.token;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(`${instance.url}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      // A hang must fail the assertion on time, not the mocha timeout.
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new Error(`${method} ${path} on ${instance.name} failed after ${Date.now() - started} ms: ${String(error)}\n${instance.output()}`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, ms: Date.now() - started };
}

/** The Redis, the mock and the instances of one suite. */
export class Fleet {
  redis!: ControlledRedis;
  /** A client of the test's own, for INFO commandstats and reads. */
  admin!: Redis;
  mock!: MockWeChat;
  A!: Instance;
  B!: Instance;
  readonly #extra: Instance[] = [];

  env(more: Record<string, string> = {}): Record<string, string> {
    return { REDIS_PORT: String(this.redis.port), MOCK_URL: this.mock.url, WX_APPID: this.mock.appId, WX_APPSECRET: this.mock.appSecret, ...more };
  }

  /** Another instance on the same Redis and mock (`more` over the usual environment), stopped after the suite. */
  async start(name: string, more: Record<string, string> = {}): Promise<Instance> {
    const instance = await startInstance(name, this.env(more));
    this.#extra.push(instance);
    return instance;
  }

  async login(instance: Instance, openid?: string): Promise<{ token: string; openid: string }> {
    const res = await call(instance, 'POST', '/wx/login', { json: { code: this.mock.issueCode(openid) } });
    expect(res.status, `login on ${instance.name}: ${JSON.stringify(res.body)}`).to.equal(200);
    return res.body as { token: string; openid: string };
  }

  /** A request `instance` serves from its own cache: GET /me answers 200 without Redis seeing a GET. */
  async expectServedFromCache(instance: Instance, token: string, openid: string): Promise<void> {
    // Two reads to warm up: a read that overlaps any announcement (e.g. of the login that made
    // this session) is, rightly, not cached.
    for (let i = 0; i < 2; i++) {
      const warm = await call(instance, 'GET', '/me', { token });
      expect(warm.status, JSON.stringify(warm.body)).to.equal(200);
      await sleep(20);
    }
    const before = await commandCalls(this.admin, 'get');
    const hot = await call(instance, 'GET', '/me', { token });
    const after = await commandCalls(this.admin, 'get');
    expect(hot.status, JSON.stringify(hot.body)).to.equal(200);
    expect(hot.body.openid).to.equal(openid);
    expect(after - before, `Redis GETs while ${instance.name} served a session it had just read`).to.equal(0);
  }

  /** Polls GET /me on `instance` until `accept(body)`; fails unless that happens within 1 s. */
  async within1s(instance: Instance, token: string, accept: (body: any) => boolean): Promise<Answer> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const started = Date.now();
    for (;;) {
      const res = await call(instance, 'GET', '/me', { token });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      if (accept(res.body)) return res;
      if (Date.now() - started > 1000) throw new Error(`${instance.name} still answers ${JSON.stringify(res.body)} ${Date.now() - started} ms later`);
      await sleep(20);
    }
  }

  /** Logs out on `from`, then polls `to` every 50 ms; returns ms from sending the logout to the first refusal. */
  async logoutReachesOther(from: Instance, to: Instance, token: string): Promise<number> {
    const sent = Date.now();
    const out = await call(from, 'POST', '/wx/logout', { token });
    expect(out.status).to.equal(204);
    for (;;) {
      const res = await call(to, 'GET', '/me', { token });
      const elapsed = Date.now() - sent;
      if (res.status !== 200) {
        expect(res.status, JSON.stringify(res.body)).to.equal(401);
        expect(res.body.code).to.equal('WX_SESSION_EXPIRED');
        return elapsed;
      }
      if (elapsed > 3000) throw new Error(`${to.name} still serves the logged-out token ${elapsed} ms after the logout on ${from.name}`);
      await sleep(50);
    }
  }

  /** Every answer is 503 WX_STORE_UNAVAILABLE within the bound; both instances still run and answer /health. */
  async expectStoreUnavailable(answers: Answer[]): Promise<void> {
    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).to.equal(503);
      expect(answer.body.code).to.equal('WX_STORE_UNAVAILABLE');
      expect(answer.ms).to.be.below(FAULT_BOUND_MS);
    }
    for (const instance of [this.A, this.B]) {
      expect(instance.alive(), `${instance.name} is still running: ${instance.output()}`).to.equal(true);
      expect((await call(instance, 'GET', '/health')).status).to.equal(200);
    }
  }

  async startAB(): Promise<void> {
    [this.A, this.B] = await Promise.all([startInstance('A', this.env()), startInstance('B', this.env())]);
  }

  async stopAll(): Promise<void> {
    await Promise.all([this.A, this.B, ...this.#extra].filter(Boolean).map((instance) => instance.stop()));
    await this.redis?.stop();
    await this.mock?.close();
  }
}

/**
 * A suite on its own Redis and mock WeChat with instances A and B running (`withAB: false`: none,
 * the tests start their own with fleet.start()).
 */
export function multiInstance(title: string, tests: (fleet: Fleet) => void, { withAB = true } = {}): void {
  describe(`multi-instance: ${title}`, function () {
    requireRedis(this);
    this.timeout(20_000);
    const fleet = new Fleet();

    before(async function () {
      this.timeout(20_000);
      fleet.redis = await startControlledRedis();
      fleet.admin = fleet.redis.client();
      fleet.mock = await startMockWeChat();
      if (withAB) await fleet.startAB();
    });

    // A test that failed midway may have left an instance down or Redis paused/killed.
    beforeEach(async () => {
      if (fleet.redis.paused) fleet.redis.resume();
      if (!fleet.redis.running) await fleet.redis.restart();
      if (!withAB) return;
      if (!fleet.A?.alive()) fleet.A = await startInstance('A', fleet.env());
      if (!fleet.B?.alive()) fleet.B = await startInstance('B', fleet.env());
    });

    after(async function () {
      this.timeout(20_000);
      await fleet.stopAll();
    });

    tests(fleet);
  });
}
