// The soak test: many simulated mini-game players against two app instances that share one
// Redis, for a bounded time, with the mock WeChat rotating session_keys and expiring access
// tokens underneath them. `runSoak(options)` returns a SoakReport; soak/run.ts (`npm run soak`)
// runs it for minutes, test/soak.test.ts for seconds.
//
// Topology: this process hosts the players; the mock WeChat (soak/mock-process.ts, driven over
// IPC), a private redis-server (test/support-redis.ts) and two app processes
// (test/fixtures/instance.ts: the Express example's routes on a RedisStore, checking the
// session_key on every request) run as children.
//
// Each player is one WeChat user (its own openid) running the real wx-session/client with a fake
// `wx`: wx.login takes codes from the mock, wx.request does real HTTP and sends every request to
// one of the two instances at random (a load balancer). A player's operations are sequential (a
// session's concurrent writes are last-writer-wins by design, not a loss), so in-flight requests
// are bounded by the number of players. Operations, chosen at random by weight:
//   read    GET /me: the answer's openid is the player's, its data the last acknowledged write;
//   write   POST /me/score with an ever larger score; acknowledged when answered 200 with it;
//   rotate  the mock gives the user a new session_key; the player's next request must get 401
//           WX_SESSION_KEY_EXPIRED, retry with X-WX-Code and be answered 200 with the same token;
//   logout  client.logout(), then the old token is tried on both instances directly: 401
//           WX_SESSION_EXPIRED (within 1 s, the cross-instance bound); the next request logs in.
// Meanwhile the driver expires every access token a few times (the instances must fetch a new
// one) and samples the current token, so the secrets check knows every token that existed.
//
// Afterwards, with the players stopped: every session a player holds is read on both instances
// (data = last acknowledged write), every logged-out token is tried on both, the session records
// in Redis are compared with the sessions the players hold, and everything captured (both
// instances' stdout/stderr, every answer's status, headers and body, the soak's own output) is
// searched for every session_key the mock issued, every access token, the AppSecret and the
// signing secret. The report never contains a secret: it names kinds and places, not values.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { createSessionClient, type SessionClient, type WxApi, type WxRequestOptions } from '../src/client/index.js';
import type { MockReady, MockRequest, MockResults, MockTally } from './mock-process.js';
import { startControlledRedis, type ControlledRedis } from '../test/support-redis.js';
import { SecretScanner } from '../test/secret-scan.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const INSTANCE = join(ROOT, 'test', 'fixtures', 'instance.ts');
const MOCK_PROCESS = join(ROOT, 'soak', 'mock-process.ts');
/** The client's baseUrl; the fake wx.request swaps it for one instance's address. */
const BALANCER = 'http://balancer.invalid';
/** Key prefix of the instances' RedisStore: sessions are `soak:<43-char id>`. */
const PREFIX = 'soak:';
const SESSION_KEY = /^soak:[A-Za-z0-9_-]{43}$/;
/** How long a logged-out token may still be served by the other instance (its cache, pub/sub). */
const LOGOUT_BOUND_MS = 1000;
/** A request not answered within this long is a failure (and must not hang the soak). */
const REQUEST_TIMEOUT_MS = 10_000;
/** After a rotation, this many requests may pass before the refresh must have happened. */
const ROTATION_GRACE = 3;
/** The instances' `timeout` per WeChat call (the library's default). */
const WECHAT_TIMEOUT_MS = 5000;
/** Players start spread over this long (at most a tenth of the run), not all at one instant. */
const RAMP_UP_MS = 3000;
/** Before the clock starts, a few players warm the instances up (JIT), under the same checks, for up to a fifth of the run. */
const WARM_UP_PLAYERS = 16;
const WARM_UP_MS = 2000;
/** Each player's scores lie in its own range of this size. */
const SCORE_SPACE = 10_000_000;

// ---------------------------------------------------------------------------------------------
// Options and report

export type OpKind = 'read' | 'write' | 'rotate' | 'logout';

export interface SoakOptions {
  /** Length of the load phase, in seconds. */
  seconds: number;
  /** Simulated players (each a distinct openid). */
  clients: number;
  /** Each player pauses a random 0..thinkMs ms between operations. @default 10 */
  thinkMs?: number;
  /** Relative weights of the operations. @default { read: 45, write: 35, rotate: 10, logout: 10 } */
  mix?: Partial<Record<OpKind, number>>;
  /** Every this many ms the mock expires all access tokens. @default a fifth of the run, at least 1000 */
  expireTokensEveryMs?: number;
  /** Progress lines (captured too, and searched for secrets). @default none */
  log?: (line: string) => void;
  /** Aborts the run: everything is stopped and runSoak rejects. */
  signal?: AbortSignal;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SoakCheck {
  name: string;
  ok: boolean;
  /** How many violations were seen. */
  violations: number;
  /** What was examined, in numbers. */
  detail: string;
  /** A few violations, described without secrets. */
  examples: string[];
}

export interface SoakReport {
  ok: boolean;
  config: { seconds: number; clients: number; thinkMs: number; mix: Record<OpKind, number>; expireTokensEveryMs: number; checkInterval: number; wechatTimeoutMs: number; rampUpMs: number; warmUp: { players: number; ms: number } };
  /** The load phase only. */
  durationSeconds: number;
  /** HTTP requests to the instances during the load phase (players and the logout checks). */
  requests: number;
  throughput: number;
  latencyMs: { overall: LatencySummary; byOp: Record<string, LatencySummary> };
  /** Requests per instance and answers per status, load phase. */
  perInstance: Record<string, number>;
  statuses: Record<string, number>;
  counts: {
    operations: Record<OpKind, number>;
    /** POST /wx/login answered 200. */
    logins: number;
    /** Requests retried with X-WX-Code after WX_SESSION_KEY_EXPIRED and answered 200. */
    refreshes: number;
    /** session_key rotations at the mock, and how many needed more than the next request to repair. */
    rotations: number;
    rotationsRepairedLate: number;
    /** POST /wx/logout answered 204. */
    logouts: number;
    /** POST /me/score answered 200 with the score sent. */
    writes: number;
    /** GET /me answered 200. */
    reads: number;
    /** Mock side: code2Session redemptions, checksession calls (and their 87009s), stable_token calls. */
    code2Session: number;
    checkSession: number;
    checkSession87009: number;
    stableToken: number;
    /** expireAccessTokens() calls, and distinct access tokens seen. */
    tokenExpiries: number;
    accessTokens: number;
    sessionKeys: number;
    /** Sessions the players hold at the end, and the session records Redis holds. */
    sessionsHeld: number;
    sessionsInRedis: number;
    /** `warn:` lines the instances logged (e.g. a checksession outage, failing open). */
    instanceWarnings: number;
    /** The same, by message. */
    instanceWarningMessages: Record<string, number>;
    /** Bytes searched for secrets. */
    capturedBytes: number;
  };
  /** Event-loop delay of the soak process (the players live there), ms. */
  driverLoopDelayMs: { p50: number; p99: number; max: number };
  /** GET /health on each instance every 250 ms during the load phase: how responsive each process was. */
  healthMs: Record<string, LatencySummary>;
  checks: SoakCheck[];
}

const DEFAULT_MIX: Record<OpKind, number> = { read: 45, write: 35, rotate: 10, logout: 10 };

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

function summarize(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { count: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1]! : 0) };
}

/** Runs `work` on every item, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

function shortId(value: string): string {
  return `${value.slice(0, 6)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Secrets: a registry of every secret that existed during the run, and a scanner for them

export type SecretKind = 'session_key' | 'access_token' | 'AppSecret' | 'signing secret';

export interface SecretHit {
  kind: SecretKind;
  /** Where it was found, e.g. 'instance A stderr', 'answer to GET /me'. */
  source: string;
}

export interface CapturedText {
  source: string;
  text: string;
}

/**
 * Every source in `captured` where one of the secrets registered in `secrets` occurs, as it is,
 * URL-encoded or JSON-escaped (the suite's own scanner, test/secret-scan.ts), one hit per kind
 * and source.
 */
export function findSecrets(captured: readonly CapturedText[], secrets: SecretScanner<SecretKind>): SecretHit[] {
  const hits: SecretHit[] = [];
  const seen = new Set<string>();
  for (const { source, text } of captured) {
    for (const { kind } of secrets.find(text, source)) {
      const key = `${kind} ${source}`;
      if (!seen.has(key)) {
        seen.add(key);
        hits.push({ kind, source });
      }
    }
  }
  return hits;
}

// ---------------------------------------------------------------------------------------------
// The app instances (child processes)

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, stdout and stderr apart. */
  stdout: string[];
  stderr: string[];
  exited(): boolean;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function spawnInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', INSTANCE], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'], // stdin stays open while we live: the instance exits when it closes
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`soak: instance ${name} was not ready within 15 s: ${stderr.join('').slice(-2000)}`));
    }, 15_000);
    let pending = '';
    let ready = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stdout.push(text);
      if (ready) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        let parsed: { ready?: boolean; port?: number } | undefined;
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          continue;
        }
        if (parsed?.ready && typeof parsed.port === 'number') {
          ready = true;
          clearTimeout(timer);
          resolve({
            name,
            url: `http://127.0.0.1:${parsed.port}`,
            child,
            stdout,
            stderr,
            exited: () => child.exitCode !== null || child.signalCode !== null,
          });
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`soak: instance ${name} exited (${code ?? signal}) before it was ready: ${stderr.join('').slice(-2000)}`));
    });
  });
}

/** SIGTERM, SIGKILL after `graceMs`; resolves to the exit code (null when killed by a signal). */
function stopInstance(instance: Instance | undefined, graceMs = 4000): Promise<number | null> {
  if (!instance) return Promise.resolve(null);
  const { child } = instance;
  if (instance.exited()) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP, recorded

interface Answer {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** One HTTP exchange with an instance. `label` is the operation it belongs to, for latencies. */
interface Exchange {
  label: string;
  instance: string;
  method: string;
  path: string;
  sentCode: boolean;
  token?: string;
  status: number;
  /** The `code` of a wx-session error body. */
  errorCode?: string;
  data: unknown;
  ms: number;
}

class Recorder {
  readonly latencies = new Map<string, number[]>();
  readonly all: number[] = [];
  readonly perInstance: Record<string, number> = {};
  readonly statuses: Record<string, number> = {};
  /** Answers (status, headers, body as text) not yet searched for secrets, with when they came. */
  #unscanned: { at: number; text: string }[] = [];
  /** Bytes of answers searched so far, and what was found in them. */
  scannedBytes = 0;
  readonly hits: SecretHit[] = [];
  capturing = true;
  requests = 0;
  networkErrors = 0;

  record(exchange: Exchange, rawText: string, headers: Record<string, string>): void {
    this.#unscanned.push({ at: Date.now(), text: `${exchange.status} ${JSON.stringify(headers)} ${rawText}` });
    if (!this.capturing) return;
    this.requests += 1;
    this.all.push(exchange.ms);
    let list = this.latencies.get(exchange.label);
    if (!list) this.latencies.set(exchange.label, (list = []));
    list.push(exchange.ms);
    this.perInstance[exchange.instance] = (this.perInstance[exchange.instance] ?? 0) + 1;
    this.statuses[exchange.status] = (this.statuses[exchange.status] ?? 0) + 1;
  }

  /**
   * Searches the answers that came before `before` for `secrets`, then forgets them, so a long
   * soak does not hold every answer in memory. Complete as long as every secret is registered
   * before `before`: session_keys are registered when the mock makes them (before any server
   * has them), access tokens are sampled every 50 ms, and `before` lags by a second.
   */
  scan(secrets: SecretScanner<SecretKind>, before = Infinity): void {
    let count = 0;
    while (count < this.#unscanned.length && this.#unscanned[count]!.at < before) count++;
    if (count === 0) return;
    const text = this.#unscanned
      .splice(0, count)
      .map((answer) => answer.text)
      .join('\n');
    this.scannedBytes += text.length;
    for (const hit of findSecrets([{ source: 'answers to the players and the checks', text }], secrets)) {
      if (!this.hits.some((seen) => seen.kind === hit.kind && seen.source === hit.source)) this.hits.push(hit);
    }
  }
}

/** fetch with a timeout; the answer parsed as wx.request does (JSON when it parses). */
async function send(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<{ answer: Answer; text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: keep the text, as wx.request does
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return { answer: { status: response.status, headers, data }, text };
}

function errorCodeOf(data: unknown): string | undefined {
  return isRecord(data) && typeof data.code === 'string' ? data.code : undefined;
}

function labelOf(method: string, path: string, sentCode: boolean): string {
  const base = path === '/wx/login' ? 'login' : path === '/wx/logout' ? 'logout' : path === '/me' ? 'read' : path === '/me/score' ? 'write' : `${method} ${path}`;
  return sentCode ? `${base} (X-WX-Code retry)` : base;
}

// ---------------------------------------------------------------------------------------------
// Violations, gathered per check

class Violations {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, string[]>();
  /** Examples say when they happened, in seconds from here (the start of the load phase). */
  started = Date.now();

  add(check: string, example: string): void {
    this.counts.set(check, (this.counts.get(check) ?? 0) + 1);
    const list = this.examples.get(check) ?? [];
    if (list.length < 5) list.push(`[${((Date.now() - this.started) / 1000).toFixed(1)} s] ${example}`);
    this.examples.set(check, list);
  }

  count(check: string): number {
    return this.counts.get(check) ?? 0;
  }
}

const CHECK = {
  openid: 'zero answers carrying another user\'s openid or data',
  readYourWrites: 'every read during the run sees the player\'s last acknowledged write',
  lostWrites: 'zero lost data writes (end state on both instances = last acknowledged write)',
  afterLogout: 'zero sessions alive after logout',
  secrets: 'zero secrets in captured logs and answers',
  statuses: 'zero 5xx, zero unexpected statuses, zero network errors',
  rotations: 'every rotation repaired in place by X-WX-Code (same token)',
  accounting: 'code2Session redemptions = logins + X-WX-Code refreshes, all answered 0',
  shutdown: 'both instances exit 0 on SIGTERM',
} as const;

// ---------------------------------------------------------------------------------------------
// The simulated player

interface Shared {
  mock: MockControl;
  instances: Instance[];
  recorder: Recorder;
  violations: Violations;
  secrets: SecretScanner<SecretKind>;
  loggedOut: { token: string; openid: string }[];
  counts: { logins: number; refreshes: number; rotations: number; rotationsRepairedLate: number; logouts: number; writes: number; reads: number; operations: Record<OpKind, number> };
}

function newCounts(): Shared['counts'] {
  return { logins: 0, refreshes: 0, rotations: 0, rotationsRepairedLate: 0, logouts: 0, writes: 0, reads: 0, operations: { read: 0, write: 0, rotate: 0, logout: 0 } };
}

class Player {
  readonly openid: string;
  readonly client: SessionClient;
  readonly #shared: Shared;
  /** The exchanges of the operation under way. */
  #exchanges: Exchange[] = [];
  /** Score of the last write answered 200 on the current session; undefined: none yet. */
  lastAck: number | undefined;
  /** A write whose outcome is unknown (it failed): the server may hold it or the last ack. */
  #uncertain: number | undefined;
  /** Scores are `player number * SCORE_SPACE + n`: a score from another player's range is that player's data. */
  readonly #scoreBase: number;
  #nextScore: number;
  /** Rotated at the mock, not yet repaired, and how many requests have passed since. */
  #rotationPending = false;
  #sinceRotation = 0;
  #tokenAtRotation: string | undefined;
  #storage = new Map<string, unknown>();

  constructor(openid: string, number: number, shared: Shared) {
    this.openid = openid;
    this.#shared = shared;
    this.#scoreBase = (number + 1) * SCORE_SPACE;
    this.#nextScore = this.#scoreBase + 1;
    this.client = createSessionClient({ baseUrl: BALANCER, wx: this.#wx() });
  }

  /** The fake `wx` of this player's device. */
  #wx(): WxApi {
    const { mock, instances, recorder, secrets } = this.#shared;
    const storage = this.#storage;
    return {
      login: (options) => {
        mock.call({ op: 'issueCode', openid: this.openid }).then(
          ({ code, sessionKey }) => {
            // The first code creates the user's session_key: from now on it may leak, so look for it.
            secrets.add(sessionKey, 'session_key');
            options.success?.({ code });
          },
          (error: unknown) => options.fail?.({ errMsg: `login:fail ${String((error as Error).message)}` }),
        );
      },
      request: (options: WxRequestOptions) => {
        const instance = instances[Math.floor(Math.random() * instances.length)]!;
        const url = options.url.replace(BALANCER, instance.url);
        const method = options.method ?? 'GET';
        const path = options.url.slice(BALANCER.length);
        const headers: Record<string, string> = { ...options.header };
        let body: string | undefined;
        if (options.data !== undefined && method !== 'GET') {
          body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
          if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
        }
        const sentCode = Object.keys(headers).some((name) => name.toLowerCase() === 'x-wx-code');
        const token = headers['X-WX-Session'];
        const started = performance.now();
        send(url, { method, headers, body }).then(
          ({ answer, text }) => {
            const exchange: Exchange = {
              label: labelOf(method, path, sentCode),
              instance: instance.name,
              method,
              path,
              sentCode,
              ...(token !== undefined ? { token } : {}),
              status: answer.status,
              ...(errorCodeOf(answer.data) !== undefined ? { errorCode: errorCodeOf(answer.data) } : {}),
              data: answer.data,
              ms: performance.now() - started,
            };
            recorder.record(exchange, text, answer.headers);
            this.#exchanges.push(exchange);
            options.success?.({ statusCode: answer.status, data: answer.data, header: answer.headers });
          },
          (error: unknown) => {
            recorder.networkErrors += 1;
            this.#shared.violations.add(CHECK.statuses, `${method} ${path} on ${instance.name}: network error ${String((error as Error).message)}`);
            options.fail?.({ errMsg: `request:fail ${String((error as Error).message)}` });
          },
        );
      },
      uploadFile: (options) => {
        setImmediate(() => options.fail?.({ errMsg: 'uploadFile:fail not used by the soak' }));
      },
      getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
      setStorageSync: (key, value) => void storage.set(key, value),
      removeStorageSync: (key) => void storage.delete(key),
    };
  }

  /** Runs operations until `deadline`. */
  async run(deadline: number, mix: Record<OpKind, number>, thinkMs: number, signal: AbortSignal): Promise<void> {
    const total = mix.read + mix.write + mix.rotate + mix.logout;
    await sleep(Math.random() * Math.min(RAMP_UP_MS, (deadline - Date.now()) / 10));
    while (Date.now() < deadline && !signal.aborted) {
      let pick = Math.random() * total;
      let op: OpKind = 'read';
      for (const kind of ['read', 'write', 'rotate', 'logout'] as const) {
        if (pick < mix[kind]) {
          op = kind;
          break;
        }
        pick -= mix[kind];
      }
      // A rotation or a logout needs a session; without one, the read logs in first.
      if ((op === 'rotate' || op === 'logout') && !this.client.token()) op = 'read';
      // While a rotation waits for its repair, requests only (a logout would hide the outcome).
      if (this.#rotationPending && (op === 'rotate' || op === 'logout')) op = Math.random() < 0.5 ? 'read' : 'write';
      this.#shared.counts.operations[op] += 1;
      if (op === 'read') await this.read();
      else if (op === 'write') await this.write();
      else if (op === 'rotate') await this.rotate();
      else await this.logout();
      if (thinkMs > 0) await sleep(Math.random() * thinkMs);
    }
    // A rotation left unrepaired at the deadline: give it its remaining requests now.
    while (this.#rotationPending && !signal.aborted) await this.read();
  }

  /**
   * Checks the exchanges of one client.request: each answer is one the protocol allows here,
   * logins answer this user's openid, and a pending rotation is repaired (same token).
   */
  #checkExchanges(what: string): void {
    const { violations, counts } = this.#shared;
    const exchanges = this.#exchanges;
    this.#exchanges = [];
    for (const [index, ex] of exchanges.entries()) {
      const where = `${this.openid.slice(0, 10)}… ${ex.method} ${ex.path}${ex.sentCode ? ' (with X-WX-Code)' : ''} on ${ex.instance}`;
      if (ex.status >= 500) {
        violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
        continue;
      }
      if (ex.path === '/wx/login') {
        if (ex.status !== 200 || !isRecord(ex.data) || typeof ex.data.token !== 'string') {
          violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
          continue;
        }
        if (ex.data.openid !== this.openid) violations.add(CHECK.openid, `${where}: login answered another openid`);
        counts.logins += 1;
        // A new session: its data starts empty.
        this.lastAck = undefined;
        this.#uncertain = undefined;
        continue;
      }
      if (ex.status === 200 && !ex.sentCode) continue;
      if (ex.status === 401 && ex.errorCode === 'WX_SESSION_KEY_EXPIRED' && !ex.sentCode && this.#rotationPending) {
        const retry = exchanges[index + 1];
        if (retry?.sentCode && retry.status === 200 && retry.token === ex.token) {
          counts.refreshes += 1;
          if (ex.token !== this.#tokenAtRotation) violations.add(CHECK.rotations, `${where}: the refresh used another token than the rotated session's`);
          if (this.#sinceRotation > 0) counts.rotationsRepairedLate += 1;
          this.#rotationPending = false;
        }
        continue; // the retry is checked on its own
      }
      if (ex.status === 200 && ex.sentCode) {
        const before = exchanges[index - 1];
        if (before?.status === 401 && before.errorCode === 'WX_SESSION_KEY_EXPIRED') continue;
      }
      violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''} during ${what}${this.#rotationPending ? '' : ' (no rotation pending)'}`);
    }
    if (this.#rotationPending) {
      this.#sinceRotation += 1;
      if (this.#sinceRotation >= ROTATION_GRACE) {
        violations.add(CHECK.rotations, `${this.openid.slice(0, 10)}…: no refresh within ${ROTATION_GRACE} requests after a session_key rotation`);
        this.#rotationPending = false;
      }
    }
  }

  /** This player's score range (see SCORE_SPACE). */
  get scoreRange(): number {
    return this.#scoreBase / SCORE_SPACE;
  }

  /** The data a read should see: the last acknowledged write, or the uncertain one. */
  #checkData(data: unknown, where: string): void {
    const expected = this.lastAck === undefined ? {} : { score: this.lastAck };
    const score = isRecord(data) ? data.score : undefined;
    if (this.#uncertain !== undefined && score === this.#uncertain) {
      this.lastAck = this.#uncertain;
      this.#uncertain = undefined;
      return;
    }
    if (JSON.stringify(data) === JSON.stringify(expected)) return;
    if (typeof score === 'number' && Math.floor(score / SCORE_SPACE) !== this.scoreRange) {
      this.#shared.violations.add(CHECK.openid, `${where}: read another player's data ${JSON.stringify(data)}`);
      return;
    }
    this.#shared.violations.add(CHECK.readYourWrites, `${where}: read ${JSON.stringify(data)}, last acknowledged ${JSON.stringify(expected)}`);
  }

  async read(): Promise<void> {
    let res;
    try {
      res = await this.client.request<{ openid?: string; data?: unknown }>({ url: '/me' });
    } catch {
      this.#checkExchanges('a read'); // the network error is already counted
      return;
    }
    const last = this.#exchanges[this.#exchanges.length - 1];
    this.#checkExchanges('a read');
    if (res.statusCode !== 200) return;
    this.#shared.counts.reads += 1;
    const where = `${this.openid.slice(0, 10)}… GET /me on ${last?.instance ?? '?'}`;
    if (!isRecord(res.data) || res.data.openid !== this.openid) {
      this.#shared.violations.add(CHECK.openid, `${where}: answered ${isRecord(res.data) && typeof res.data.openid === 'string' ? `openid ${res.data.openid.slice(0, 10)}…` : 'no openid'}`);
      return;
    }
    this.#checkData(res.data.data, where);
  }

  async write(): Promise<void> {
    const score = this.#nextScore++;
    let res;
    try {
      res = await this.client.request<{ score?: number }>({ url: '/me/score', method: 'POST', data: { score } });
    } catch {
      this.#uncertain = score;
      this.#checkExchanges('a write');
      return;
    }
    this.#checkExchanges('a write');
    if (res.statusCode === 200 && isRecord(res.data) && res.data.score === score) {
      this.lastAck = score;
      this.#uncertain = undefined;
      this.#shared.counts.writes += 1;
    } else {
      this.#uncertain = score;
      if (res.statusCode === 200) this.#shared.violations.add(CHECK.statuses, `${this.openid.slice(0, 10)}… POST /me/score: 200 without the score sent`);
    }
  }

  async rotate(): Promise<void> {
    const key = await this.#shared.mock.call({ op: 'rotateSessionKey', openid: this.openid });
    this.#shared.secrets.add(key, 'session_key');
    this.#shared.counts.rotations += 1;
    this.#rotationPending = true;
    this.#sinceRotation = 0;
    this.#tokenAtRotation = this.client.token();
  }

  async logout(): Promise<void> {
    const token = this.client.token()!;
    await this.client.logout(); // never rejects; the exchange is checked below
    const ex = this.#exchanges.find((e) => e.path === '/wx/logout');
    this.#exchanges = [];
    if (!ex || ex.status !== 204) {
      this.#shared.violations.add(CHECK.statuses, `${this.openid.slice(0, 10)}… POST /wx/logout: ${ex ? `${ex.status} ${ex.errorCode ?? ''}` : 'network error'}`);
    } else {
      this.#shared.counts.logouts += 1;
    }
    this.lastAck = undefined;
    this.#uncertain = undefined;
    this.#shared.loggedOut.push({ token, openid: this.openid });
    await Promise.all(this.#shared.instances.map((instance) => refusedAfterLogout(this.#shared, instance, token, this.openid)));
  }
}

/**
 * Tries a logged-out token on `instance` until it is refused (401 WX_SESSION_EXPIRED); a
 * violation unless that happens within LOGOUT_BOUND_MS of the first try.
 */
async function refusedAfterLogout(shared: Shared, instance: Instance, token: string, openid: string, phase = 'right after the logout'): Promise<void> {
  const first = Date.now();
  for (;;) {
    const started = performance.now();
    let answer: Answer;
    let text: string;
    try {
      ({ answer, text } = await send(`${instance.url}/me`, { method: 'GET', headers: { 'X-WX-Session': token } }));
    } catch (error) {
      shared.recorder.networkErrors += 1;
      shared.violations.add(CHECK.statuses, `logged-out token on ${instance.name}: network error ${String((error as Error).message)}`);
      return;
    }
    const code = errorCodeOf(answer.data);
    shared.recorder.record(
      { label: 'logged-out token', instance: instance.name, method: 'GET', path: '/me', sentCode: false, status: answer.status, ...(code ? { errorCode: code } : {}), data: answer.data, ms: performance.now() - started },
      text,
      answer.headers,
    );
    if (answer.status === 401 && code === 'WX_SESSION_EXPIRED') return;
    const where = `${openid.slice(0, 10)}… logged-out token ${shortId(token)} on ${instance.name} ${phase}`;
    if (answer.status !== 200) {
      shared.violations.add(CHECK.statuses, `${where}: ${answer.status} ${code ?? ''}`);
      return;
    }
    if (isRecord(answer.data) && answer.data.openid !== openid) shared.violations.add(CHECK.openid, `${where}: answered another openid`);
    if (Date.now() - first > LOGOUT_BOUND_MS) {
      shared.violations.add(CHECK.afterLogout, `${where}: still answered 200 ${Date.now() - first} ms after the first try`);
      return;
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// The mock WeChat, in its own process (see soak/mock-process.ts for why)

interface MockControl {
  url: string;
  appId: string;
  appSecret: string;
  call<R extends MockRequest['op']>(request: { op: R } & Omit<Extract<MockRequest, { op: R }>, 'id' | 'op'>): Promise<MockResults[R]>;
  close(): Promise<void>;
}

function startMockProcess(): Promise<MockControl> {
  const child = spawn(process.execPath, ['--import', 'tsx', MOCK_PROCESS], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
  children.add(child);
  let output = '';
  const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let next = 0;
  const gone = () => {
    children.delete(child);
    for (const waiter of pending.values()) waiter.reject(new Error(`soak: the mock process is gone: ${output}`));
    pending.clear();
  };
  child.once('exit', gone);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`soak: the mock process was not ready within 15 s: ${output}`));
    }, 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`soak: the mock process exited (${code ?? signal}) before it was ready: ${output}`));
    });
    child.on('message', (message: MockReady | { id: number; result?: unknown; error?: string }) => {
      if ('ready' in message) {
        clearTimeout(timer);
        resolve({
          url: message.url,
          appId: message.appId,
          appSecret: message.appSecret,
          call(request) {
            return new Promise((done, fail) => {
              if (!child.connected) return fail(new Error(`soak: the mock process is gone: ${output}`));
              const id = next++;
              pending.set(id, { resolve: done as (value: unknown) => void, reject: fail });
              child.send({ ...request, id });
            });
          },
          close() {
            if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
            return new Promise<void>((done) => {
              const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
              child.once('exit', () => {
                clearTimeout(kill);
                done();
              });
              child.disconnect(); // it closes the mock and exits
            });
          },
        });
        return;
      }
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(`soak: mock: ${message.error}`));
      else waiter?.resolve(message.result);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The run

async function sessionIdsInRedis(redis: Redis): Promise<{ ids: Set<string>; other: number }> {
  const ids = new Set<string>();
  let other = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      // Sessions are prefix + id; the shared access token and its locks are prefix + 'token:' / 'lock-'.
      if (SESSION_KEY.test(key)) ids.add(key.slice(PREFIX.length));
      else other += 1;
    }
  } while (cursor !== '0');
  return { ids, other };
}

/** The session id inside a token (`<id>.<signature>`). */
const idOf = (token: string) => token.slice(0, token.lastIndexOf('.'));

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const seconds = options.seconds;
  const clients = Math.round(options.clients);
  if (!(seconds > 0) || !(clients >= 1)) throw new TypeError('soak: seconds > 0 and clients >= 1 are required');
  const thinkMs = options.thinkMs ?? 10;
  const mix: Record<OpKind, number> = { ...DEFAULT_MIX, ...options.mix };
  const expireTokensEveryMs = options.expireTokensEveryMs ?? Math.max(1000, (seconds * 1000) / 5);
  const ownOutput: string[] = [];
  const log = (line: string) => {
    ownOutput.push(line);
    options.log?.(line);
  };
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) abort.abort();

  const signingSecret = randomBytes(32).toString('base64url');
  let redis: ControlledRedis | undefined;
  let mock: MockControl | undefined;
  const instances: Instance[] = [];
  const timers: NodeJS.Timeout[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });

  try {
    redis = await startControlledRedis();
    mock = await startMockProcess();
    const env = {
      REDIS_PORT: String(redis.port),
      MOCK_URL: mock.url,
      WX_APPID: mock.appId,
      WX_APPSECRET: mock.appSecret,
      WX_SESSION_SECRET: signingSecret,
      PREFIX,
      CHECK_INTERVAL: '0', // every request checks its session_key: a rotation is seen at once
      // The library's default: the fixture's 1 s is meant for the fault tests, and on a saturated
      // machine the mock may answer later than that (504s and fail-open checks from the rig).
      WX_TIMEOUT: String(WECHAT_TIMEOUT_MS),
    };
    instances.push(...(await Promise.all([spawnInstance('A', env), spawnInstance('B', env)])));
    if (abort.signal.aborted) throw new Error('soak: aborted');

    const secrets = new SecretScanner<SecretKind>();
    secrets.add(mock.appSecret, 'AppSecret');
    secrets.add(signingSecret, 'signing secret');
    const recorder = new Recorder();
    const violations = new Violations();
    const shared: Shared = {
      mock,
      instances,
      recorder,
      violations,
      secrets,
      loggedOut: [],
      counts: newCounts(),
    };
    const control = mock;
    const accessTokens = new Set<string>();
    const sampleToken = async () => {
      const token = await control.call({ op: 'currentAccessToken' });
      if (token && !accessTokens.has(token)) {
        accessTokens.add(token);
        secrets.add(token, 'access_token');
      }
    };
    /** Failures of the rig's own background work (the mock's IPC): the soak cannot be trusted then. */
    const rigErrors: string[] = [];
    const background = (work: Promise<unknown>) => void work.catch((error: unknown) => rigErrors.push(String((error as Error)?.message ?? error)));
    let tokenExpiries = 0;

    log(`soak: ${clients} players, ${seconds} s, instances ${instances.map((i) => `${i.name} ${i.url}`).join(', ')}, redis :${redis.port}`);

    // From now on every access token is sampled, and answers are searched as they age.
    timers.push(setInterval(() => background(sampleToken()), 50));
    // In small slices, so no scan holds up the players for long.
    timers.push(setInterval(() => recorder.scan(secrets, Date.now() - 1000), 250));

    // ---- warm-up: a few players, checked like the others but not counted, then logged out
    recorder.capturing = false;
    const warmShared: Shared = { ...shared, counts: newCounts() };
    const warmers = Array.from({ length: WARM_UP_PLAYERS }, (_, index) => new Player(`oWarm${String(index).padStart(6, '0')}${randomBytes(9).toString('base64url')}`, clients + index, warmShared));
    const warmUpMs = Math.min(WARM_UP_MS, (seconds * 1000) / 5);
    await Promise.all(warmers.map((player) => player.run(Date.now() + warmUpMs, mix, thinkMs, abort.signal)));
    await Promise.all(warmers.filter((player) => player.client.token() !== undefined).map((player) => player.logout()));
    if (abort.signal.aborted) throw new Error('soak: aborted');
    await control.call({ op: 'tally', reset: true }); // the load phase's accounting starts from zero
    recorder.capturing = true;
    log(`soak: warmed up (${warmers.length} players, ${Object.values(warmShared.counts.operations).reduce((a, b) => a + b, 0)} operations); load phase`);

    const players = Array.from({ length: clients }, (_, index) => new Player(`oSoak${String(index).padStart(6, '0')}${randomBytes(9).toString('base64url')}`, index, shared));

    // ---- load phase
    loopDelay.enable();
    const started = Date.now();
    violations.started = started;
    const deadline = started + seconds * 1000;
    const health: Record<string, number[]> = Object.fromEntries(instances.map((instance) => [instance.name, []]));
    timers.push(
      setInterval(() => {
        for (const instance of instances) {
          const sent = performance.now();
          send(`${instance.url}/health`, { method: 'GET', headers: {} }).then(
            () => health[instance.name]!.push(performance.now() - sent),
            () => health[instance.name]!.push(REQUEST_TIMEOUT_MS),
          );
        }
      }, 250),
    );
    timers.push(
      setInterval(() => {
        background(
          (async () => {
            await sampleToken();
            await control.call({ op: 'expireAccessTokens' });
            tokenExpiries += 1;
          })(),
        );
      }, expireTokensEveryMs),
    );
    timers.push(
      setInterval(() => {
        const elapsed = (Date.now() - started) / 1000;
        log(`soak: ${elapsed.toFixed(0)} s, ${recorder.requests} requests (${(recorder.requests / elapsed).toFixed(0)}/s), ${violations.counts.size === 0 ? 'no violations so far' : `${[...violations.counts.values()].reduce((a, b) => a + b, 0)} violations so far`}`);
      }, 10_000),
    );
    await Promise.all(players.map((player) => player.run(deadline, mix, thinkMs, abort.signal)));
    const durationSeconds = (Date.now() - started) / 1000;
    for (const timer of timers.splice(0)) clearInterval(timer);
    loopDelay.disable();
    await sampleToken();
    const tally: MockTally = await control.call({ op: 'tally' });
    if (abort.signal.aborted) throw new Error('soak: aborted');
    if (rigErrors.length > 0) throw new Error(`soak: the rig failed: ${rigErrors.slice(0, 3).join('; ')}`);
    recorder.capturing = false; // the checks below are not load
    const loadRequests = recorder.requests;
    log(`soak: load phase over after ${durationSeconds.toFixed(1)} s, ${loadRequests} requests; checking`);

    // ---- end state: every held session on both instances, every logged-out token on both
    await sleep(100); // the last announcements reach both instances
    const held = players.filter((player) => player.client.token() !== undefined);
    await pool(
      held.flatMap((player) => instances.map((instance) => ({ player, instance }))),
      32,
      async ({ player, instance }) => {
        const token = player.client.token()!;
        const where = `${player.openid.slice(0, 10)}… end state on ${instance.name}`;
        let answer: Answer;
        try {
          const sent = await send(`${instance.url}/me`, { method: 'GET', headers: { 'X-WX-Session': token } });
          answer = sent.answer;
          recorder.record({ label: 'end state', instance: instance.name, method: 'GET', path: '/me', sentCode: false, status: answer.status, data: answer.data, ms: 0 }, sent.text, answer.headers);
        } catch (error) {
          violations.add(CHECK.lostWrites, `${where}: network error ${String((error as Error).message)}`);
          return;
        }
        if (answer.status !== 200 || !isRecord(answer.data)) {
          violations.add(CHECK.lostWrites, `${where}: the session is gone (${answer.status} ${errorCodeOf(answer.data) ?? ''})`);
          return;
        }
        if (answer.data.openid !== player.openid) violations.add(CHECK.openid, `${where}: answered another openid`);
        const expected = player.lastAck === undefined ? {} : { score: player.lastAck };
        const score = isRecord(answer.data.data) ? answer.data.data.score : undefined;
        if (typeof score === 'number' && Math.floor(score / SCORE_SPACE) !== player.scoreRange) {
          violations.add(CHECK.openid, `${where}: holds another player's data ${JSON.stringify(answer.data.data)}`);
        } else if (JSON.stringify(answer.data.data) !== JSON.stringify(expected)) {
          violations.add(CHECK.lostWrites, `${where}: holds ${JSON.stringify(answer.data.data)}, last acknowledged ${JSON.stringify(expected)}`);
        }
      },
    );
    await pool(
      shared.loggedOut.flatMap((entry) => instances.map((instance) => ({ entry, instance }))),
      32,
      ({ entry, instance }) => refusedAfterLogout(shared, instance, entry.token, entry.openid, 'at the end'),
    );
    const admin = redis.client();
    const inRedis = await sessionIdsInRedis(admin);
    const heldIds = new Set(held.map((player) => idOf(player.client.token()!)));
    for (const id of inRedis.ids) {
      if (!heldIds.has(id)) violations.add(CHECK.afterLogout, `Redis holds session ${shortId(id)} that no player holds`);
    }
    for (const id of heldIds) {
      if (!inRedis.ids.has(id)) violations.add(CHECK.lostWrites, `a player holds session ${shortId(id)} that Redis does not`);
    }
    const loggedOutIds = new Set(shared.loggedOut.map((entry) => idOf(entry.token)));
    for (const id of loggedOutIds) {
      if (inRedis.ids.has(id)) violations.add(CHECK.afterLogout, `Redis still holds logged-out session ${shortId(id)}`);
    }
    admin.disconnect();

    // ---- accounting: every code the mock redeemed was a login or a refresh
    const { counts } = shared;
    const accountingDetail = `${tally.code2Session} code2Session calls (${tally.code2SessionErrors} not answered 0); ${counts.logins} logins + ${counts.refreshes} refreshes = ${counts.logins + counts.refreshes}`;
    if (tally.code2Session !== counts.logins + counts.refreshes || tally.code2SessionErrors > 0) violations.add(CHECK.accounting, accountingDetail);

    // ---- shutdown: the instances' output is complete once they exited
    const exits = await Promise.all(instances.map((instance) => stopInstance(instance)));
    exits.forEach((code, index) => {
      if (code !== 0) violations.add(CHECK.shutdown, `instance ${instances[index]!.name} exited with ${code}`);
    });

    // ---- the report, then the secrets search over everything (the report's own text included)
    const latencyByOp: Record<string, LatencySummary> = {};
    for (const [label, values] of [...recorder.latencies].sort(([a], [b]) => a.localeCompare(b))) latencyByOp[label] = summarize(values);
    const instanceWarningMessages: Record<string, number> = {};
    for (const instance of instances) {
      for (const line of instance.stderr.join('').match(/^warn: .*$/gm) ?? []) instanceWarningMessages[line.slice(6)] = (instanceWarningMessages[line.slice(6)] ?? 0) + 1;
    }
    const instanceWarnings = Object.values(instanceWarningMessages).reduce((sum, n) => sum + n, 0);
    recorder.scan(secrets);
    const captured: CapturedText[] = instances.flatMap((instance) => [
      { source: `instance ${instance.name} stdout`, text: instance.stdout.join('') },
      { source: `instance ${instance.name} stderr`, text: instance.stderr.join('') },
    ]);
    const capturedBytes = recorder.scannedBytes + captured.reduce((sum, part) => sum + part.text.length, 0);
    const toMs = (ns: number) => Math.round(ns / 1e5) / 10;
    const report: SoakReport = {
      ok: false,
      config: { seconds, clients, thinkMs, mix, expireTokensEveryMs, checkInterval: 0, wechatTimeoutMs: WECHAT_TIMEOUT_MS, rampUpMs: Math.min(RAMP_UP_MS, (seconds * 1000) / 10), warmUp: { players: WARM_UP_PLAYERS, ms: Math.min(WARM_UP_MS, (seconds * 1000) / 5) } },
      durationSeconds: Math.round(durationSeconds * 10) / 10,
      requests: loadRequests,
      throughput: Math.round(loadRequests / durationSeconds),
      latencyMs: { overall: summarize(recorder.all), byOp: latencyByOp },
      perInstance: recorder.perInstance,
      statuses: recorder.statuses,
      counts: {
        operations: counts.operations,
        logins: counts.logins,
        refreshes: counts.refreshes,
        rotations: counts.rotations,
        rotationsRepairedLate: counts.rotationsRepairedLate,
        logouts: counts.logouts,
        writes: counts.writes,
        reads: counts.reads,
        code2Session: tally.code2Session,
        checkSession: tally.checkSession,
        checkSession87009: tally.checkSession87009,
        stableToken: tally.stableToken,
        tokenExpiries,
        accessTokens: accessTokens.size,
        sessionKeys: secrets.counts().get('session_key') ?? 0,
        sessionsHeld: heldIds.size,
        sessionsInRedis: inRedis.ids.size,
        instanceWarnings,
        instanceWarningMessages,
        capturedBytes,
      },
      driverLoopDelayMs: { p50: toMs(loopDelay.percentile(50)), p99: toMs(loopDelay.percentile(99)), max: toMs(loopDelay.max) },
      healthMs: Object.fromEntries(Object.entries(health).map(([name, values]) => [name, summarize(values)])),
      checks: [],
    };
    const detail: Record<string, string> = {
      [CHECK.openid]: `${counts.reads} reads, ${counts.logins} logins, ${heldIds.size * 2} end-state reads`,
      [CHECK.readYourWrites]: `${counts.reads} reads`,
      [CHECK.lostWrites]: `${counts.writes} acknowledged writes; ${heldIds.size} sessions read on both instances at the end`,
      [CHECK.afterLogout]: `${shared.loggedOut.length} logged-out tokens tried on both instances right after and at the end; Redis holds ${inRedis.ids.size} sessions (and ${inRedis.other} token/lock keys), the players ${heldIds.size}`,
      [CHECK.statuses]: `${loadRequests} requests; ${recorder.networkErrors} network errors; statuses ${JSON.stringify(recorder.statuses)}`,
      [CHECK.rotations]: `${counts.rotations} rotations, ${counts.refreshes} refreshes (${counts.rotationsRepairedLate} after more than one request)`,
      [CHECK.accounting]: accountingDetail,
      [CHECK.shutdown]: `exit codes ${exits.join(', ')}`,
    };
    const names = Object.values(CHECK).filter((name) => name !== CHECK.secrets);
    const checkOf = (name: string, extraDetail = detail[name] ?? ''): SoakCheck => ({
      name,
      ok: violations.count(name) === 0,
      violations: violations.count(name),
      detail: extraDetail,
      examples: violations.examples.get(name) ?? [],
    });
    report.checks = names.map((name) => checkOf(name));
    // The report and the soak's output are searched too (before the secrets check is added).
    captured.push({ source: 'the soak\'s own output', text: ownOutput.join('\n') }, { source: 'the report', text: `${JSON.stringify(report)}\n${formatReport(report)}` });
    const found = [...recorder.hits, ...findSecrets(captured, secrets)];
    for (const hit of found) violations.add(CHECK.secrets, `${hit.kind} found in ${hit.source}`);
    const kinds = [...secrets.counts()].map(([kind, n]) => `${n} ${kind}`).join(', ');
    report.checks.splice(4, 0, checkOf(CHECK.secrets, `${capturedBytes} bytes searched for ${secrets.size} secrets (${kinds})`));
    report.ok = report.checks.every((check) => check.ok);
    log(`soak: ${report.ok ? 'all checks passed' : 'CHECKS FAILED'}`);
    return report;
  } finally {
    for (const timer of timers) clearInterval(timer);
    loopDelay.disable();
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all(instances.map((instance) => stopInstance(instance)));
    await redis?.stop();
    await mock?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the report

export function formatReport(report: SoakReport): string {
  const lines: string[] = [];
  const c = report.counts;
  lines.push(`wx-session soak: ${report.ok ? 'PASS' : 'FAIL'}`);
  lines.push(`  ${report.config.clients} players, ${report.durationSeconds} s, mix ${JSON.stringify(report.config.mix)}, think 0..${report.config.thinkMs} ms, access tokens expired every ${report.config.expireTokensEveryMs} ms`);
  lines.push(`  instances: checkSessionKey every request, WeChat timeout ${report.config.wechatTimeoutMs} ms; players ramped up over ${report.config.rampUpMs} ms after a ${report.config.warmUp.ms} ms warm-up by ${report.config.warmUp.players} others`);
  lines.push(`  ${report.requests} requests, ${report.throughput} req/s; latency p50 ${report.latencyMs.overall.p50} ms, p99 ${report.latencyMs.overall.p99} ms, max ${report.latencyMs.overall.max} ms`);
  lines.push(`  per instance ${JSON.stringify(report.perInstance)}; statuses ${JSON.stringify(report.statuses)}`);
  lines.push('  latency by request (ms):');
  for (const [label, summary] of Object.entries(report.latencyMs.byOp)) {
    lines.push(`    ${label.padEnd(26)} n=${String(summary.count).padEnd(8)} p50 ${String(summary.p50).padEnd(7)} p99 ${String(summary.p99).padEnd(7)} max ${summary.max}`);
  }
  lines.push(
    `  counts: ${c.logins} logins, ${c.refreshes} refreshes, ${c.rotations} rotations (${c.rotationsRepairedLate} repaired late), ${c.logouts} logouts, ${c.writes} writes, ${c.reads} reads`,
  );
  lines.push(
    `  mock: ${c.code2Session} code2Session, ${c.checkSession} checksession (${c.checkSession87009} x 87009), ${c.stableToken} stable_token; ${c.tokenExpiries} token expiries, ${c.accessTokens} access tokens, ${c.sessionKeys} session_keys`,
  );
  lines.push(`  end: ${c.sessionsHeld} sessions held by players, ${c.sessionsInRedis} in Redis; driver event-loop delay p50 ${report.driverLoopDelayMs.p50} ms, p99 ${report.driverLoopDelayMs.p99} ms, max ${report.driverLoopDelayMs.max} ms`);
  lines.push(`  instance responsiveness (GET /health every 250 ms): ${Object.entries(report.healthMs).map(([name, h]) => `${name} p50 ${h.p50} ms, p99 ${h.p99} ms, max ${h.max} ms`).join('; ')}`);
  lines.push(`  instance warnings: ${c.instanceWarnings}`);
  for (const [message, count] of Object.entries(c.instanceWarningMessages)) lines.push(`    ${count} x ${message}`);
  lines.push('  checks:');
  for (const check of report.checks) {
    lines.push(`    [${check.ok ? 'ok' : 'FAIL'}] ${check.name}${check.ok ? '' : ` - ${check.violations} violation(s)`}`);
    lines.push(`           ${check.detail}`);
    for (const example of check.examples) lines.push(`           e.g. ${example}`);
  }
  return lines.join('\n');
}
