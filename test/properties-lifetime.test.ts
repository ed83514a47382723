// Properties (SECURITY.md, "A stolen token"), through every adapter: a token is accepted exactly
// until its logout or expiry, and only for its own session. A model-based test runs random
// sequences of logins, uses (three routes, three ways to send the token), logouts, expiries and
// near-expiries over several sessions against a model; another lets a real 1-second TTL run out.
// How many cases and which adapters: test/support/properties-run.ts.
import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode, MemoryStore } from '../src/index.js';
import { sleep, type TestApp } from '../harness/apps.js';
import { INVALID_TOKEN } from './support/wire.js';
import { sessionIdOf } from './support/stores.js';
import { ADAPTERS, BIG, TEST_TIMEOUT, params, startFuzzApp } from './support/properties-run.js';
import { authHeaders, expectHealthy, send, utf8, type Form } from './support/properties-http.js';
import { TTL_S, expectOneOf, type Outcome } from './support/properties-outcomes.js';

// ---- the model-based test's commands

type UseRoute = '/me' | '/whoami' | '/me/coins';

interface ModelSession {
  token: string;
  openid: string;
  /** Issued, not logged out, not expired. */
  live: boolean;
  coins: number;
}
interface Model {
  sessions: ModelSession[];
}
interface Real {
  app: TestApp;
  store: MemoryStore;
}

const MAX_SESSIONS = 6;

class LoginCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number | undefined) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length < MAX_SESSIONS;
  }
  async run(m: Model, r: Real): Promise<void> {
    // A few shared openids: one user's sessions must not disturb each other either.
    const openid = this.user === undefined ? undefined : `oModelUser${this.user}`;
    const res = await send(r.app.url, { method: 'POST', target: '/wx/login', headers: { 'Content-Type': 'application/json' }, body: utf8(JSON.stringify({ code: r.app.mock.issueCode(openid) })) });
    expect(res.status, 'login').to.equal(200);
    const body = res.json as { token: string; openid: string };
    if (openid !== undefined) expect(body.openid).to.equal(openid);
    expect(m.sessions.map((s) => s.token), 'a login always creates a new session').to.not.include(body.token);
    m.sessions.push({ token: body.token, openid: body.openid, live: true, coins: 0 });
  }
  toString(): string {
    return `login(${this.user ?? 'new user'})`;
  }
}

/** Picks one of the model's sessions by a generated number (commands are generated before the model exists). */
const pick = (m: Readonly<Model>, n: number) => m.sessions[n % m.sessions.length]!;

class UseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly route: UseRoute, readonly form: Form) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const method = this.route === '/me/coins' ? 'POST' : 'GET';
    const res = await send(r.app.url, { method, target: this.route, headers: authHeaders(s.token, this.form) });
    const what = `${this} on session ${m.sessions.indexOf(s)} (${s.live ? 'live' : 'dead'})`;
    if (!s.live) {
      const outcome: Outcome = this.route === '/whoami'
        ? { kind: 'whoami', error: ErrorCode.WX_SESSION_EXPIRED }
        : { kind: 'error', code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN };
      expectOneOf(res, [outcome], what);
      return;
    }
    expect(res.status, what).to.equal(200);
    if (this.route === '/whoami') expect(res.json, what).to.deep.equal({ session: true, openid: s.openid, error: null });
    else if (this.route === '/me') expect(res.json, what).to.deep.equal({ openid: s.openid, unionid: null, data: s.coins === 0 ? {} : { coins: s.coins } });
    else {
      s.coins += 1;
      expect(res.json, what).to.deep.equal({ coins: s.coins });
    }
    // Rolling: after an accepted request at least half the TTL is left.
    const record = await r.store.get(sessionIdOf(s.token));
    expect(record, `${what}: stored`).to.not.equal(undefined);
    expect(record!.expiresAt - Date.now(), `${what}: renewed when less than half the TTL was left`).to.be.above((TTL_S * 1000) / 2 - 60_000);
  }
  toString(): string {
    return `${this.route === '/me/coins' ? 'POST' : 'GET'} ${this.route} #${this.n} via ${this.form}`;
  }
}

class LogoutCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly form: Form) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const res = await send(r.app.url, { method: 'POST', target: '/wx/logout', headers: authHeaders(s.token, this.form) });
    expectOneOf(res, [{ kind: 'empty' }], `${this}`);
    s.live = false;
  }
  toString(): string {
    return `logout #${this.n} via ${this.form}`;
  }
}

/** The session's time runs out: its record says so ('past', kept by a store that ignores TTLs), or the store dropped it. */
class ExpireCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly how: 'past' | 'evicted') {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const id = sessionIdOf(s.token);
    const record = await r.store.get(id);
    if (s.live) expect(record, `${this}: a live session is stored`).to.not.equal(undefined);
    if (this.how === 'evicted') await r.store.destroy(id);
    else if (record) await r.store.set(id, { ...record, expiresAt: Date.now() - 1 }, 60_000);
    s.live = false;
  }
  toString(): string {
    return `expire #${this.n} (${this.how})`;
  }
}

/** Moves a live session close to its end (a quarter of the TTL left): still accepted, and renewed on use. */
class AgeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    if (!s.live) return;
    const id = sessionIdOf(s.token);
    const record = await r.store.get(id);
    expect(record, `${this}: a live session is stored`).to.not.equal(undefined);
    const left = (TTL_S * 1000) / 4;
    await r.store.set(id, { ...record!, expiresAt: Date.now() + left }, left);
  }
  toString(): string {
    return `age #${this.n}`;
  }
}

/** The model-based test's commands as fast-check generates them; each picks its session when it runs. */
const anyForm = fc.constantFrom<Form>('x-wx-session', 'bearer', 'bearer-lower');
const commands = [
  fc.option(fc.nat({ max: 2 }), { nil: undefined }).map((user) => new LoginCommand(user)),
  fc.tuple(fc.nat(), fc.constantFrom<UseRoute>('/me', '/whoami', '/me/coins'), anyForm).map(([pick, route, form]) => new UseCommand(pick, route, form)),
  fc.tuple(fc.nat(), anyForm).map(([pick, form]) => new LogoutCommand(pick, form)),
  fc.tuple(fc.nat(), fc.constantFrom<'past' | 'evicted'>('past', 'evicted')).map(([pick, how]) => new ExpireCommand(pick, how)),
  fc.nat().map((pick) => new AgeCommand(pick)),
];

for (const name of ADAPTERS) describe(`properties (${name}): accepted exactly until logout or expiry`, () => {
  it('a token is accepted exactly until logout or expiry, and only for its own session (model-based)', async function () {
    this.timeout(TEST_TIMEOUT);
    // Its own app and store: the test rewrites records behind the core's back.
    const modelStore = new MemoryStore();
    const modelApp = await startFuzzApp(name, { store: modelStore });
    const real: Real = { app: modelApp, store: modelStore };
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 15, size: 'medium' }), async (cmds) => {
        await fc.asyncModelRun(() => ({ model: { sessions: [] }, real }), cmds);
        await expectHealthy(modelApp);
      }),
      params(),
    ).finally(() => modelApp.close());
  });

  it('with a real short TTL, a token is accepted until it runs out, then refused as expired', async function () {
    this.timeout(TEST_TIMEOUT);
    const ttl = 1; // second
    const short = await startFuzzApp(name, { ttl });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.constantFrom<Form>('x-wx-session', 'bearer')), { minLength: 1, maxLength: 4 }), async (plan) => {
          const sessions: Array<{ token: string; openid: string; form: Form; out: boolean; at: number }> = [];
          for (const [out, form] of plan) {
            const at = Date.now();
            const { token, openid } = await short.login();
            sessions.push({ token, openid, form, out, at });
          }
          for (const s of sessions) {
            const res = await send(short.url, { method: 'GET', target: '/me', headers: authHeaders(s.token, s.form) });
            if (Date.now() - s.at < ttl * 1000 - 200) {
              expect(res.status, 'accepted before its TTL').to.equal(200);
              expect((res.json as { openid: string }).openid).to.equal(s.openid);
            } else {
              // A stalled machine: the session may have run out already; it must not be anything else.
              expect(res.status).to.be.oneOf([200, 401]);
            }
            if (s.out) expect((await send(short.url, { method: 'POST', target: '/wx/logout', headers: authHeaders(s.token, s.form) })).status).to.equal(204);
          }
          // The last accepted request may have renewed a session to a full TTL from then on.
          await sleep(ttl * 1000 + 150);
          for (const s of sessions) {
            const res = await send(short.url, { method: 'GET', target: '/me', headers: authHeaders(s.token, s.form) });
            expectOneOf(res, [{ kind: 'error', code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN }], `after the TTL (${s.out ? 'logged out' : 'expired'})`);
          }
        }),
        params(BIG ? 3 : 1),
      );
    } finally {
      await short.close();
    }
  });
});
