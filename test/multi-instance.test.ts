// Several instances, one Redis (issue parts 3-6): two separate app processes (test/fixtures/
// instance.ts, the Express example's routes on a RedisStore) share a real redis-server and a
// real mock WeChat, and talk to the test over real HTTP.
//   - a session made on A works on B, and B's data write is seen on A;
//   - a logout on A is refused on B within 1 s although B held the session in its cache;
//   - both instances restarted: the sessions Redis holds are still valid;
//   - Redis killed: 503 WX_STORE_UNAVAILABLE within the bound, no crash; back: everything works;
//     Redis paused (slow): 503 within the bound, and afterwards the sessions it held still work;
//   - the access token: one stable_token call for all the checks of both instances.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { accessTokenContext, Sealer } from '../src/seal.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { SECRET } from './helpers.js';
import { commandCalls, requireRedis, startControlledRedis, type ControlledRedis } from './support-redis-extra.js';

const FIXTURE = 'test/fixtures/instance.ts';
/** 503s must come within the store's default timeout (1 s) plus this much for HTTP and scheduling. */
const FAULT_BOUND_MS = 1500;
const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  /** What the process wrote to stdout/stderr (for failure messages). */
  output(): string;
  alive(): boolean;
}

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  ms: number;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function spawnInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'], // stdin stays open while we live: the instance exits when it closes
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${name} did not get ready within 10 s: ${output}`));
    }, 10_000);
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        let parsed: { ready?: boolean; port?: number };
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          continue;
        }
        if (parsed.ready && typeof parsed.port === 'number') {
          clearTimeout(timer);
          resolve({
            name,
            url: `http://127.0.0.1:${parsed.port}`,
            child,
            output: () => output,
            alive: () => child.exitCode === null && child.signalCode === null,
          });
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited (${code ?? signal}) before it was ready: ${output}`));
    });
  });
}

/** SIGTERM, and SIGKILL when it has not exited after `graceMs`. Resolves to how it ended. */
function stopInstance(instance: Instance | undefined, graceMs = 4000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (!instance) return Promise.resolve({ code: null, signal: null });
  const { child } = instance;
  if (!instance.alive()) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

async function call(instance: Instance, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
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

describe('multi-instance: two app processes sharing one Redis', function () {
  requireRedis(this);
  this.timeout(20_000);

  let redis: ControlledRedis;
  let admin: Redis;
  let mock: MockWeChat;
  let A: Instance | undefined;
  let B: Instance | undefined;
  const extra: Instance[] = [];

  const env = (more: Record<string, string> = {}) => ({
    REDIS_PORT: String(redis.port),
    MOCK_URL: mock.url,
    WX_APPID: mock.appId,
    WX_APPSECRET: mock.appSecret,
    ...more,
  });

  async function login(instance: Instance, openid?: string): Promise<{ token: string; openid: string }> {
    const res = await call(instance, 'POST', '/wx/login', { json: { code: mock.issueCode(openid) } });
    expect(res.status, `login on ${instance.name}: ${JSON.stringify(res.body)}`).to.equal(200);
    return res.body as { token: string; openid: string };
  }

  /** A request `instance` serves from its own cache: GET /me answers 200 without Redis seeing a GET. */
  async function expectServedFromCache(instance: Instance, token: string, openid: string): Promise<void> {
    // Two reads to warm up: a read that overlaps any announcement (e.g. of the login that made
    // this session) is, rightly, not cached.
    for (let i = 0; i < 2; i++) {
      const warm = await call(instance, 'GET', '/me', { token });
      expect(warm.status, JSON.stringify(warm.body)).to.equal(200);
      await sleep(20);
    }
    const before = await commandCalls(admin, 'get');
    const hot = await call(instance, 'GET', '/me', { token });
    const after = await commandCalls(admin, 'get');
    expect(hot.status, JSON.stringify(hot.body)).to.equal(200);
    expect(hot.body.openid).to.equal(openid);
    expect(after - before, `Redis GETs while ${instance.name} served a session it had just read`).to.equal(0);
  }

  /** Polls GET /me on `instance` until `accept(body)`; fails unless that happens within 1 s. */
  async function within1s(instance: Instance, token: string, accept: (body: any) => boolean): Promise<Answer> { // eslint-disable-line @typescript-eslint/no-explicit-any
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
  async function logoutReachesOther(from: Instance, to: Instance, token: string): Promise<number> {
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

  before(async function () {
    this.timeout(20_000);
    redis = await startControlledRedis();
    admin = redis.client();
    mock = await startMockWeChat();
    [A, B] = await Promise.all([spawnInstance('A', env()), spawnInstance('B', env())]);
  });

  beforeEach(async function () {
    // A test that failed midway may have left an instance down or Redis paused/killed.
    if (redis.paused) redis.resume();
    if (!redis.running) await redis.restart();
    if (!A?.alive()) A = await spawnInstance('A', env());
    if (!B?.alive()) B = await spawnInstance('B', env());
  });

  after(async function () {
    this.timeout(20_000);
    await Promise.all([stopInstance(A), stopInstance(B), ...extra.map((instance) => stopInstance(instance))]);
    await redis?.stop();
    await mock?.close();
  });

  it('a session made on A works on B, and data written on B is seen on A', async () => {
    const user = await login(A!);
    const onA = await call(A!, 'GET', '/me', { token: user.token });
    expect(onA.status).to.equal(200);
    expect(onA.body).to.deep.equal({ openid: user.openid, data: {} });

    const onB = await call(B!, 'GET', '/me', { token: user.token });
    expect(onB.status, JSON.stringify(onB.body)).to.equal(200);
    expect(onB.body).to.deep.equal({ openid: user.openid, data: {} });

    const write = await call(B!, 'POST', '/me/score', { token: user.token, json: { score: 42 } });
    expect(write.status, JSON.stringify(write.body)).to.equal(200);
    // A has this session in its cache (it made it): B's change reaches it through pub/sub, which
    // is asynchronous, so A may answer the old record for a moment - within 1 s at most.
    const seenOnA = await within1s(A!, user.token, (body) => body.data?.score === 42);
    expect(seenOnA.body).to.deep.equal({ openid: user.openid, data: { score: 42 } });

    const second = await call(A!, 'POST', '/me/score', { token: user.token, json: { score: 43 } });
    expect(second.status).to.equal(200);
    expect((await within1s(B!, user.token, (body) => body.data?.score === 43)).body.data).to.deep.equal({ score: 43 });
  });

  it('a logout on A is refused on B within 1 s, although B served the token from its cache', async () => {
    const user = await login(A!);
    await expectServedFromCache(B!, user.token, user.openid);
    const elapsed = await logoutReachesOther(A!, B!, user.token);
    expect(elapsed, 'ms from the logout on A to the first refusal on B').to.be.below(1000);
    // A refuses it too, and so does B from now on.
    expect((await call(A!, 'GET', '/me', { token: user.token })).body.code).to.equal('WX_SESSION_EXPIRED');
    expect((await call(B!, 'GET', '/me', { token: user.token })).status).to.equal(401);
  });

  for (const where of ['on the other instance', 'on the same instance'] as const) {
    it(`a logout sticks while session.data saves of that session keep coming ${where} (issue #10 part 1)`, async () => {
      // The attacker holds the token and keeps saving; the owner logs out. Every save that was
      // in flight, or came after, must not bring the session back, in Redis or in a cache.
      const saver = where === 'on the other instance' ? B! : A!;
      const users = await Promise.all(Array.from({ length: 40 }, () => login(A!)));
      for (const user of users) expect((await call(saver, 'GET', '/me', { token: user.token })).status).to.equal(200); // cached there
      let attacking = true;
      const attacks = users.flatMap((user, i) =>
        Array.from({ length: 4 }, async (_, j) => {
          let score = (i * 4 + j) * 100_000;
          while (attacking) await call(saver, 'POST', '/me/score', { token: user.token, json: { score: ++score } });
        }),
      );
      await sleep(50);
      const logouts = await Promise.all(users.map((user) => call(A!, 'POST', '/wx/logout', { token: user.token })));
      for (const out of logouts) expect(out.status).to.equal(204);
      await sleep(300); // the saves go on meanwhile
      attacking = false;
      await Promise.all(attacks);
      const back: string[] = [];
      for (const user of users) {
        for (const instance of [A!, B!]) {
          const res = await call(instance, 'GET', '/me', { token: user.token });
          if (res.status !== 401) back.push(`${user.openid} on ${instance.name}: ${res.status}`);
        }
      }
      expect(back, 'logged-out sessions answering again').to.deep.equal([]);
    });
  }

  it('both instances restarted: the sessions Redis holds are still valid on both', async () => {
    const one = await login(A!);
    const two = await login(B!);
    expect((await call(A!, 'POST', '/me/score', { token: one.token, json: { score: 7 } })).status).to.equal(200);
    expect((await call(B!, 'POST', '/me/score', { token: two.token, json: { score: 8 } })).status).to.equal(200);
    const oldPids = [A!.child.pid, B!.child.pid];

    const ends = await Promise.all([stopInstance(A), stopInstance(B)]);
    expect(ends, 'both exit 0 on SIGTERM (server, store and client closed)').to.deep.equal([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    [A, B] = await Promise.all([spawnInstance('A', env()), spawnInstance('B', env())]);
    expect([A.child.pid, B.child.pid]).to.not.include.members(oldPids.filter(Boolean) as number[]);

    for (const instance of [A, B]) {
      const first = await call(instance, 'GET', '/me', { token: one.token });
      expect(first.status, `${instance.name}: ${JSON.stringify(first.body)}`).to.equal(200);
      expect(first.body).to.deep.equal({ openid: one.openid, data: { score: 7 } });
      const second = await call(instance, 'GET', '/me', { token: two.token });
      expect(second.status).to.equal(200);
      expect(second.body).to.deep.equal({ openid: two.openid, data: { score: 8 } });
    }
  });

  it('Redis killed: 503 WX_STORE_UNAVAILABLE within the bound, no crash; restarted: logins and requests work again', async () => {
    const before = await login(A!);
    expect((await call(B!, 'GET', '/me', { token: before.token })).status).to.equal(200);

    await redis.kill();
    await sleep(100); // the instances see their connections close

    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all([
        call(A!, 'GET', '/me', { token: before.token }),
        call(B!, 'GET', '/me', { token: before.token }),
        call(B!, 'POST', '/me/score', { token: before.token, json: { score: 1 } }),
        call(A!, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
        call(B!, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
      ]);
      for (const answer of answers) {
        expect(answer.status, JSON.stringify(answer.body)).to.equal(503);
        expect(answer.body.code).to.equal('WX_STORE_UNAVAILABLE');
        expect(answer.ms).to.be.below(FAULT_BOUND_MS);
      }
    }
    for (const instance of [A!, B!]) {
      expect(instance.alive(), `${instance.name} is still running: ${instance.output()}`).to.equal(true);
      expect((await call(instance, 'GET', '/health')).status).to.equal(200);
    }

    await redis.restart();
    // Logins work again as soon as the clients reconnected (they retry every 50 ms).
    const deadline = Date.now() + 5000;
    let recovered: Answer;
    for (;;) {
      recovered = await call(A!, 'POST', '/wx/login', { json: { code: mock.issueCode() } });
      if (recovered.status === 200 || Date.now() > deadline) break;
      await sleep(50);
    }
    expect(recovered.status, `login after Redis came back: ${JSON.stringify(recovered.body)}`).to.equal(200);

    const after = await login(A!);
    const onB = await call(B!, 'GET', '/me', { token: after.token });
    expect(onB.status).to.equal(200);
    expect(onB.body.openid).to.equal(after.openid);
    expect((await call(B!, 'POST', '/me/score', { token: after.token, json: { score: 5 } })).status).to.equal(200);
    expect((await within1s(A!, after.token, (body) => body.data?.score === 5)).body.data).to.deep.equal({ score: 5 });
    // Pub/sub is back as well: B caches again, and a logout on A still reaches it within 1 s.
    await expectServedFromCache(B!, after.token, after.openid);
    expect(await logoutReachesOther(A!, B!, after.token)).to.be.below(1000);
    // The session made before the kill is gone with Redis's memory (nothing was saved): expected.
    const lost = await call(B!, 'GET', '/me', { token: before.token });
    expect(lost.status).to.equal(401);
    expect(lost.body.code).to.equal('WX_SESSION_EXPIRED');
  });

  it('Redis paused (slow): 503 within the bound meanwhile; resumed: the sessions it held still work', async () => {
    const held = await login(A!);
    expect((await call(B!, 'POST', '/me/score', { token: held.token, json: { score: 11 } })).status).to.equal(200);
    const unread = await login(A!); // never read on B: B must ask Redis for it

    redis.pause();
    try {
      const answers = await Promise.all([
        call(B!, 'GET', '/me', { token: unread.token }),
        call(A!, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
        call(B!, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
      ]);
      for (const answer of answers) {
        expect(answer.status, JSON.stringify(answer.body)).to.equal(503);
        expect(answer.body.code).to.equal('WX_STORE_UNAVAILABLE');
        expect(answer.ms).to.be.below(FAULT_BOUND_MS);
      }
      for (const instance of [A!, B!]) {
        expect(instance.alive(), `${instance.name} is still running: ${instance.output()}`).to.equal(true);
        expect((await call(instance, 'GET', '/health')).status).to.equal(200);
      }
    } finally {
      redis.resume();
    }

    for (const instance of [A!, B!]) {
      const one = await call(instance, 'GET', '/me', { token: held.token });
      expect(one.status, `${instance.name}: ${JSON.stringify(one.body)}`).to.equal(200);
      expect(one.body).to.deep.equal({ openid: held.openid, data: { score: 11 } });
      const two = await call(instance, 'GET', '/me', { token: unread.token });
      expect(two.status, `${instance.name}: ${JSON.stringify(two.body)}`).to.equal(200);
      expect(two.body).to.deep.equal({ openid: unread.openid, data: {} });
    }
    const fresh = await login(B!);
    expect((await call(A!, 'GET', '/me', { token: fresh.token })).status).to.equal(200);
    for (const instance of [A!, B!]) expect(instance.alive()).to.equal(true);
  });

  it('checks on many sessions on both instances at once make one stable_token call in total', async () => {
    // Fresh instances that check the session_key on every request, under a prefix of their own
    // (so no shared token exists yet).
    const more = { CHECK_INTERVAL: '0', PREFIX: `tok${Date.now()}:` };
    const [C, D] = await Promise.all([spawnInstance('C', env(more)), spawnInstance('D', env(more))]);
    extra.push(C, D);
    const users = await Promise.all([...Array.from({ length: 6 }, () => login(C)), ...Array.from({ length: 6 }, () => login(D))]);
    mock.resetCalls();

    const requests = users.flatMap((user) => [C, D].map((instance) => call(instance, 'GET', '/me', { token: user.token })));
    const answers = await Promise.all(requests);
    for (const answer of answers) expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    // Every request did check its session's key (so each needed a token)...
    expect(mock.callsTo(CHECK).length).to.equal(requests.length);
    expect(mock.callsTo(CHECK).every((c) => c.errcode === 0)).to.equal(true);
    // ...and the two instances fetched the token once between them.
    expect(mock.callsTo(STABLE).length).to.equal(1);
    // Kept sealed (DESIGN.md §8, nothing usable at rest): the instances' signing secret opens it.
    const stored = await admin.get(`${more.PREFIX}token:${mock.appId}`);
    expect(new Sealer([SECRET]).open(stored, accessTokenContext(mock.appId))).to.equal(mock.currentAccessToken());

    // A second wave uses the same token: still one call.
    const again = await Promise.all(users.flatMap((user) => [C, D].map((instance) => call(instance, 'GET', '/me', { token: user.token }))));
    for (const answer of again) expect(answer.status).to.equal(200);
    expect(mock.callsTo(STABLE).length).to.equal(1);
    expect(mock.callsTo(CHECK).length).to.equal(2 * requests.length);

    const ends = await Promise.all([stopInstance(C), stopInstance(D)]);
    expect(ends.map((end) => end.code)).to.deep.equal([0, 0]);
  });
});
