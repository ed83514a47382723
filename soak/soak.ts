// The soak test: many simulated mini-game players against two app instances that share one
// Redis, for a bounded time, with the mock WeChat rotating session_keys and expiring access
// tokens underneath them. `runSoak(options)` returns a SoakReport; soak/run.ts (`npm run soak`)
// runs it for minutes, test/soak.test.ts for seconds.
//
// Topology: this process hosts the players; the mock WeChat (soak/mock-process.ts, driven over
// IPC), a private redis-server (test/support-redis.ts) or, with `redis: 'cluster'`, a private
// Redis Cluster of 3 masters with a replica each (test/support-cluster.ts), and two app processes
// (test/fixtures/instance.ts: the Express example's routes on a RedisStore, checking the
// session_key on every request) run as children.
//
// On the Cluster, a master is SIGKILLed mid-run (`killNodeAt`), and restarted once the failover
// is done (it rejoins as a replica). The checks stay the same. The one thing the kill may
// legitimately cause is a 503 WX_STORE_UNAVAILABLE for requests whose keys are on the dead master
// until its replica took over: those are allowed only for requests that overlap the failover
// window (from the kill until the cluster is healthy again, plus FAILOVER_MARGIN_MS). A 503
// write or logout is not acknowledged: the write counts as uncertain, the logout is retried
// until answered 204. A write answered 200 must survive the failover, and a logout answered 204
// must stay final on both instances, as anywhere else.
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
import { Redis } from 'ioredis';
import { createSessionClient, type SessionClient, type WxApi, type WxRequestOptions } from '../src/client/index.js';
import type { MockReady, MockRequest, MockResults, MockTally } from './mock-process.js';
import { startControlledRedis } from '../test/support-redis.js';
import { keySlot, startRedisCluster, type ClusterNode, type RedisCluster } from '../test/support-cluster.js';
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
/**
 * Cluster: after the harness saw the cluster healthy again, requests may still answer 503 for this
 * long. The instances' Cluster clients re-read the slot map every 1000 ms (the fixture's
 * slotsRefreshInterval), so one may route a key to the dead master or find its slots unserved
 * until then; 500 ms more for timers firing late on a loaded machine. (A request's own wait, up to
 * the store's timeout, is covered by counting every request that overlaps the window.)
 */
const FAILOVER_MARGIN_MS = 1500;
/** Cluster: `cluster-node-timeout` of the nodes (a dead master is failed over after roughly twice this). */
const CLUSTER_NODE_TIMEOUT_MS = 1000;
/** Cluster: the failover, and the rejoin of the restarted node, must be done within this long (else the rig failed). */
const CLUSTER_HEAL_WITHIN_MS = 30_000;
/** A logout answered 503 is retried (not acknowledged) for at most this long. */
const LOGOUT_RETRY_MS = 15_000;

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
  /**
   * Where the instances' RedisStore runs: one redis-server, or a Redis Cluster of 3 masters with
   * one replica each (test/support-cluster.ts), on which a master is killed mid-run. @default 'single'
   */
  redis?: 'single' | 'cluster';
  /** Cluster: when to SIGKILL a master, in seconds into the load phase; false: never. @default a third of the run */
  killNodeAt?: number | false;
  /**
   * Cluster: which master to kill. Every master carries both instances' shard subscriptions (the
   * store subscribes on each master to the slots it serves; the report lists them), so any kill
   * also cuts subscriptions; the choice is about the keys:
   *   'most-sessions'  the master holding the most session records at that moment (ties: the one
   *                    holding the shared access token): the most players go through the failover;
   *   'access-token'   the master of the shared access token and its refresh locks.
   * @default 'most-sessions'
   */
  killNode?: 'most-sessions' | 'access-token';
  /**
   * Cluster: restart the killed node this many seconds after the failover window closed (the
   * cluster healthy again + FAILOVER_MARGIN_MS; so a 503 the rejoin causes is not excused), and it
   * rejoins as a replica. The default is longer than the store's timeout (1 s), so every request
   * that overlapped the window has been answered before the restart. false: never. @default 2
   */
  restartNodeAfter?: number | false;
}

export interface FailoverReport {
  /** When the master was SIGKILLed, in seconds since the load phase began; undefined: no kill happened. */
  killedAt?: number;
  killedPort?: number;
  /** Why that master (killNode, and what it held). */
  why?: string;
  /** The masters at the kill: session records, pub/sub connections (the instances' subscriptions), the access token. */
  masters: { port: number; sessions: number; subscribers: number; accessToken: boolean }[];
  /** The replica that took over. */
  promotedPort?: number;
  /** The cluster was healthy again (every slot served, all nodes agree), seconds since the load phase began. */
  healthyAt?: number;
  /** The end of the window in which 503 WX_STORE_UNAVAILABLE is allowed: healthyAt + marginMs. */
  windowEnd?: number;
  marginMs: number;
  /** The killed node started again, and the cluster was healthy again with it. */
  restartedAt?: number;
  rejoinedAt?: number;
  /** What the restarted node says it is now. */
  rejoinedAs?: 'master' | 'replica';
  /** 503 WX_STORE_UNAVAILABLE answers: inside the window (allowed), and outside it (each also a violation of the statuses check). */
  store503: {
    inWindow: number;
    outside: number;
    /** By request kind, inside the window. */
    byRequest: Record<string, number>;
    /** All of them sent after the kill (inside the window or not), by when: [0] in the first second after the kill, [1] in the next... */
    bySecondAfterKill: number[];
    /** Seconds since the load phase began: when the first and the last allowed one was sent, and when the last one was answered. */
    first?: number;
    last?: number;
    lastAnswered?: number;
  };
  /** Logouts answered 503 at first and retried until 204, and those never acknowledged within LOGOUT_RETRY_MS. */
  logoutsRetried: number;
  logoutsAbandoned: number;
  /** The instances' `warn:` lines (store failures), by when they were logged: before the kill, and by second after it. */
  warnings: { beforeKill: number; bySecondAfterKill: number[] };
  /** Requests sent after the window (from the next whole second on) and answered below 500: the players went on after the failover. */
  answeredAfterWindow: number;
  /** Session records in Redis at the end that no player holds and that could come from a login answered 503 (its record may have been written), or from an abandoned logout (never a logged-out one). */
  orphanSessions: number;
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
  config: {
    seconds: number;
    clients: number;
    thinkMs: number;
    mix: Record<OpKind, number>;
    expireTokensEveryMs: number;
    checkInterval: number;
    wechatTimeoutMs: number;
    rampUpMs: number;
    warmUp: { players: number; ms: number };
    redis: 'single' | 'cluster';
    /** Cluster: the nodes' ports, their node timeout, and the kill plan. */
    cluster?: { ports: number[]; nodeTimeoutMs: number; killNodeAt: number | false; killNode: 'most-sessions' | 'access-token'; restartNodeAfter: number | false };
  };
  /** Cluster only: the master kill, the failover window and the 503s. */
  failover?: FailoverReport;
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
    /** Cluster: rotations repaired by an X-WX-Code retry answered 503 that saved the new session_key anyway (the next request passed the key check). */
    rotationsRepairedUnacknowledged: number;
    /** X-WX-Code retries answered 200 after a 401 WX_SESSION_KEY_EXPIRED that was not a pending rotation's (each such 401 is a statuses violation). */
    unexpectedRefreshes: number;
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
  /** Each `warn: ` line (without that), with when it arrived. */
  warnings: { at: number; message: string }[];
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
  const warnings: Instance['warnings'] = [];
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderr.push(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith('warn: ')) warnings.push({ at: Date.now(), message: line.slice(6) });
  });
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
            warnings,
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
  /** When it was sent (Date.now()). */
  sentAt?: number;
}

/** 503 WX_STORE_UNAVAILABLE: allowed on the Cluster during a failover only (see FAILOVER_MARGIN_MS). */
function isStoreUnavailable(ex: { status: number; errorCode?: string }): boolean {
  return ex.status === 503 && ex.errorCode === 'WX_STORE_UNAVAILABLE';
}

/** A 503 WX_STORE_UNAVAILABLE, judged once the failover window is known. */
interface Store503 {
  sentAt: number;
  answeredAt: number;
  /** The request kind, e.g. 'read', 'login', 'logout (retry)'. */
  label: string;
  /** A login, or a request carrying X-WX-Code: the mock may have redeemed its code. */
  redeemsCode: boolean;
  where: string;
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
  /** Start of the load phase, and the requests answered below 500 by the second they were sent in since then. */
  started = 0;
  readonly okBySecond: number[] = [];

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
    if (this.started > 0 && exchange.status < 500 && exchange.sentAt !== undefined && exchange.sentAt >= this.started) {
      const second = Math.floor((exchange.sentAt - this.started) / 1000);
      while (this.okBySecond.length <= second) this.okBySecond.push(0);
      this.okBySecond[second]! += 1;
    }
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

  /** `at`: when it happened (Date.now()), if not now. */
  add(check: string, example: string, at = Date.now()): void {
    this.counts.set(check, (this.counts.get(check) ?? 0) + 1);
    const list = this.examples.get(check) ?? [];
    if (list.length < 5) list.push(`[${((at - this.started) / 1000).toFixed(1)} s] ${example}`);
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
  counts: { logins: number; refreshes: number; rotations: number; rotationsRepairedLate: number; rotationsRepairedUnacknowledged: number; unexpectedRefreshes: number; logouts: number; writes: number; reads: number; operations: Record<OpKind, number> };
  /** Every 503 WX_STORE_UNAVAILABLE; allowed or not is decided at the end, against the failover window. */
  store503s: Store503[];
  /** Sessions whose logout was answered 503 and never 204 on retrying: not logged out, not held. */
  abandoned: Set<string>;
  logoutsRetried: { count: number };
  /** Logins and X-WX-Code requests that got no answer (network error): their code may have been redeemed. */
  codeRequestsUnanswered: { count: number };
}

function newCounts(): Shared['counts'] {
  return { logins: 0, refreshes: 0, rotations: 0, rotationsRepairedLate: 0, rotationsRepairedUnacknowledged: 0, unexpectedRefreshes: 0, logouts: 0, writes: 0, reads: 0, operations: { read: 0, write: 0, rotate: 0, logout: 0 } };
}

class Player {
  readonly openid: string;
  readonly client: SessionClient;
  readonly #shared: Shared;
  /** The exchanges of the operation under way. */
  #exchanges: Exchange[] = [];
  /** Score of the last write answered 200 on the current session; undefined: none yet. */
  lastAck: number | undefined;
  /**
   * Writes since the last acknowledged one whose outcome is unknown (they failed, e.g. 503 during
   * a failover): the server may hold any of them, or the last ack. Oldest first.
   */
  uncertain: number[] = [];
  /** Scores are `player number * SCORE_SPACE + n`: a score from another player's range is that player's data. */
  readonly #scoreBase: number;
  #nextScore: number;
  /** Rotated at the mock, not yet repaired, and how many requests have passed since. */
  #rotationPending = false;
  #sinceRotation = 0;
  #tokenAtRotation: string | undefined;
  /** An X-WX-Code retry for the pending rotation was answered 503: it may have saved the new session_key anyway. */
  #repairUncertain = false;
  /** What the requests since the rotation were answered (for the violation's example). */
  #rotationLog: string[] = [];
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
        const sentAt = Date.now();
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
              sentAt,
            };
            recorder.record(exchange, text, answer.headers);
            this.#exchanges.push(exchange);
            options.success?.({ statusCode: answer.status, data: answer.data, header: answer.headers });
          },
          (error: unknown) => {
            recorder.networkErrors += 1;
            // Unanswered: the instance may still redeem its code (a statuses violation already).
            if (path === '/wx/login' || sentCode) this.#shared.codeRequestsUnanswered.count += 1;
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
    let storeDown = false;
    /** The X-WX-Code retries counted as the repair of the pending rotation. */
    const repairs = new Set<Exchange>();
    if (this.#rotationPending) {
      this.#rotationLog.push(exchanges.map((ex) => `${ex.method} ${ex.path}${ex.sentCode ? '+code' : ''} ${ex.instance} ${ex.status}${ex.errorCode ? ` ${ex.errorCode}` : ''}`).join(' > ') || 'network error');
    }
    for (const [index, ex] of exchanges.entries()) {
      const where = `${this.openid.slice(0, 10)}… ${ex.method} ${ex.path}${ex.sentCode ? ' (with X-WX-Code)' : ''} on ${ex.instance}`;
      if (isStoreUnavailable(ex)) {
        // Judged at the end against the failover window; the request was not acknowledged.
        storeDown = true;
        if (ex.sentCode && this.#rotationPending) this.#repairUncertain = true;
        deferStore503(this.#shared, ex, where);
        continue;
      }
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
        this.uncertain = [];
        continue;
      }
      if (ex.status === 200 && !ex.sentCode) {
        // Every request checks its session_key (CHECK_INTERVAL 0): once an X-WX-Code retry answered
        // 503 may have saved the new key, a plain 200 means it did. Repaired, though not acknowledged.
        if (this.#rotationPending && this.#repairUncertain) {
          counts.rotationsRepairedUnacknowledged += 1;
          this.#rotationPending = false;
        }
        continue;
      }
      if (ex.status === 401 && ex.errorCode === 'WX_SESSION_KEY_EXPIRED' && !ex.sentCode && this.#rotationPending) {
        const retry = exchanges[index + 1];
        if (retry?.sentCode && retry.status === 200 && retry.token === ex.token) {
          counts.refreshes += 1;
          repairs.add(retry);
          if (ex.token !== this.#tokenAtRotation) violations.add(CHECK.rotations, `${where}: the refresh used another token than the rotated session's`);
          if (this.#sinceRotation > 0) counts.rotationsRepairedLate += 1;
          this.#rotationPending = false;
        }
        continue; // the retry is checked on its own
      }
      if (ex.status === 200 && ex.sentCode) {
        const before = exchanges[index - 1];
        if (before?.status === 401 && before.errorCode === 'WX_SESSION_KEY_EXPIRED') {
          // Not the repair of a pending rotation (a violation is counted for the 401 before it): its
          // code was redeemed all the same.
          if (!repairs.has(ex)) counts.unexpectedRefreshes += 1;
          continue;
        }
      }
      violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''} during ${what}${this.#rotationPending ? '' : ' (no rotation pending)'}`);
    }
    // A request the store could not serve does not count towards the rotation's grace: it never
    // got as far as the session_key (or its repair could not be saved).
    if (this.#rotationPending && !storeDown) {
      this.#sinceRotation += 1;
      if (this.#sinceRotation >= ROTATION_GRACE) {
        violations.add(CHECK.rotations, `${this.openid.slice(0, 10)}…: no refresh within ${ROTATION_GRACE} requests after a session_key rotation: ${this.#rotationLog.join(' | ')}`);
        this.#rotationPending = false;
      }
    }
  }

  /** This player's score range (see SCORE_SPACE). */
  get scoreRange(): number {
    return this.#scoreBase / SCORE_SPACE;
  }

  /** The data a read should see: the last acknowledged write, or one of the uncertain ones after it. */
  #checkData(data: unknown, where: string): void {
    const expected = this.lastAck === undefined ? {} : { score: this.lastAck };
    const score = isRecord(data) ? data.score : undefined;
    if (typeof score === 'number' && this.uncertain.includes(score)) {
      // It landed: from now on it is what must be read (or a later uncertain one).
      this.lastAck = score;
      this.uncertain = this.uncertain.filter((later) => later > score);
      return;
    }
    if (JSON.stringify(data) === JSON.stringify(expected)) return;
    if (typeof score === 'number' && Math.floor(score / SCORE_SPACE) !== this.scoreRange) {
      this.#shared.violations.add(CHECK.openid, `${where}: read another player's data ${JSON.stringify(data)}`);
      return;
    }
    this.#shared.violations.add(
      CHECK.readYourWrites,
      `${where}: read ${JSON.stringify(data)}, last acknowledged ${JSON.stringify(expected)}${this.uncertain.length ? ` (not acknowledged since: ${this.uncertain.join(', ')})` : ''}`,
    );
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
      this.#checkExchanges('a write'); // a login in it starts a new session: after it, then
      this.uncertain.push(score);
      return;
    }
    this.#checkExchanges('a write');
    if (res.statusCode === 200 && isRecord(res.data) && res.data.score === score) {
      this.lastAck = score;
      this.uncertain = [];
      this.#shared.counts.writes += 1;
    } else {
      this.uncertain.push(score);
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
    this.#repairUncertain = false;
    this.#rotationLog = [];
  }

  async logout(): Promise<void> {
    const token = this.client.token()!;
    await this.client.logout(); // never rejects; the exchange is checked below
    const ex = this.#exchanges.find((e) => e.path === '/wx/logout');
    this.#exchanges = [];
    this.lastAck = undefined;
    this.uncertain = [];
    if (ex && isStoreUnavailable(ex)) {
      // Not acknowledged: the player tries again (with the token itself: the client forgot it)
      // until the logout is answered 204; only then must it be final.
      deferStore503(this.#shared, ex, `${this.openid.slice(0, 10)}… POST /wx/logout on ${ex.instance}`);
      this.#shared.logoutsRetried.count += 1;
      if (!(await this.#retryLogout(token))) {
        this.#shared.abandoned.add(idOf(token));
        return;
      }
      this.#shared.counts.logouts += 1;
    } else if (!ex || ex.status !== 204) {
      this.#shared.violations.add(CHECK.statuses, `${this.openid.slice(0, 10)}… POST /wx/logout: ${ex ? `${ex.status} ${ex.errorCode ?? ''}` : 'network error'}`);
    } else {
      this.#shared.counts.logouts += 1;
    }
    this.#shared.loggedOut.push({ token, openid: this.openid });
    await Promise.all(this.#shared.instances.map((instance) => refusedAfterLogout(this.#shared, instance, token, this.openid)));
  }

  /** POST /wx/logout with `token` on a random instance until answered 204 (true); false when the store stayed unavailable, or on another answer (a violation). */
  async #retryLogout(token: string): Promise<boolean> {
    const { instances, recorder, violations } = this.#shared;
    const giveUp = Date.now() + LOGOUT_RETRY_MS;
    while (Date.now() < giveUp) {
      await sleep(100);
      const instance = instances[Math.floor(Math.random() * instances.length)]!;
      const where = `${this.openid.slice(0, 10)}… POST /wx/logout (retry after 503) on ${instance.name}`;
      const sentAt = Date.now();
      const started = performance.now();
      let answer: Answer;
      let text: string;
      try {
        ({ answer, text } = await send(`${instance.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': token } }));
      } catch (error) {
        recorder.networkErrors += 1;
        violations.add(CHECK.statuses, `${where}: network error ${String((error as Error).message)}`);
        return false;
      }
      const code = errorCodeOf(answer.data);
      const ex: Exchange = { label: 'logout (retry after 503)', instance: instance.name, method: 'POST', path: '/wx/logout', sentCode: false, token, status: answer.status, ...(code ? { errorCode: code } : {}), data: answer.data, ms: performance.now() - started, sentAt };
      recorder.record(ex, text, answer.headers);
      if (answer.status === 204) return true;
      if (isStoreUnavailable(ex)) {
        deferStore503(this.#shared, ex, where);
        continue;
      }
      violations.add(CHECK.statuses, `${where}: ${answer.status} ${code ?? ''}`);
      return false;
    }
    return false;
  }
}

/** Keeps a 503 WX_STORE_UNAVAILABLE to be judged against the failover window at the end. */
function deferStore503(shared: Shared, ex: Exchange, where: string): void {
  const answeredAt = Date.now();
  shared.store503s.push({
    sentAt: ex.sentAt ?? answeredAt - ex.ms,
    answeredAt,
    label: ex.label,
    redeemsCode: ex.path === '/wx/login' || ex.sentCode,
    where,
  });
}

/**
 * Tries a logged-out token on `instance` until it is refused (401 WX_SESSION_EXPIRED); a
 * violation unless that happens within LOGOUT_BOUND_MS of the first try.
 */
async function refusedAfterLogout(shared: Shared, instance: Instance, token: string, openid: string, phase = 'right after the logout'): Promise<void> {
  const first = Date.now();
  for (;;) {
    const started = performance.now();
    const sentAt = Date.now();
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
    const ex: Exchange = { label: 'logged-out token', instance: instance.name, method: 'GET', path: '/me', sentCode: false, status: answer.status, ...(code ? { errorCode: code } : {}), data: answer.data, ms: performance.now() - started, sentAt };
    shared.recorder.record(ex, text, answer.headers);
    if (answer.status === 401 && code === 'WX_SESSION_EXPIRED') return;
    const where = `${openid.slice(0, 10)}… logged-out token ${shortId(token)} on ${instance.name} ${phase}`;
    if (isStoreUnavailable(ex)) {
      // The store could not say: not a stale answer (judged against the failover window); ask again.
      // Answered 200 later than LOGOUT_BOUND_MS after the first try is still a violation.
      deferStore503(shared, ex, where);
      if (Date.now() - first > LOGOUT_RETRY_MS) return;
      await sleep(100);
      continue;
    }
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

/** A plain connection to one node (no retries: a dead node fails at once). */
function nodeClient(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, protocol: 2, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 5000 });
  client.on('error', () => {});
  return client;
}

/** The Redis the instances share. */
interface Backend {
  env: Record<string, string>;
  describe: string;
  cluster?: RedisCluster;
  /** The session records (and the other keys under the prefix) in Redis now; on a Cluster, on every master. */
  sessions(): Promise<{ ids: Set<string>; other: number }>;
  stop(): Promise<void>;
}

async function startBackend(kind: 'single' | 'cluster'): Promise<Backend> {
  if (kind === 'single') {
    const redis = await startControlledRedis();
    return {
      env: { REDIS_PORT: String(redis.port) },
      describe: `redis :${redis.port}`,
      async sessions() {
        const admin = redis.client();
        try {
          return await sessionIdsInRedis(admin);
        } finally {
          admin.disconnect();
        }
      },
      stop: () => redis.stop(),
    };
  }
  const cluster = await startRedisCluster({ nodeTimeout: CLUSTER_NODE_TIMEOUT_MS });
  return {
    env: { REDIS_CLUSTER_NODES: cluster.startupNodes.map((node) => `${node.host}:${node.port}`).join(',') },
    describe: `redis cluster ${cluster.nodes.map((node) => `:${node.port}`).join(' ')}`,
    cluster,
    async sessions() {
      const ids = new Set<string>();
      let other = 0;
      for (const master of await cluster.masters()) {
        const admin = nodeClient(master.port);
        try {
          const held = await sessionIdsInRedis(admin);
          for (const id of held.ids) ids.add(id);
          other += held.other;
        } finally {
          admin.disconnect();
        }
      }
      return { ids, other };
    },
    stop: () => cluster.stop(),
  };
}

interface MasterView {
  node: ClusterNode;
  sessions: number;
  /** Connections with a subscription (CLIENT LIST sub/psub/ssub > 0): the instances' invalidation subscriptions. */
  subscribers: number;
  /** It serves the slot of the shared access token (and its refresh lock). */
  accessToken: boolean;
}

/** Each master now: how many session records it holds, how many subscribed connections, whether the access token is there. */
async function inspectMasters(cluster: RedisCluster, appId: string): Promise<MasterView[]> {
  const tokenMaster = await cluster.masterOf(`${PREFIX}token:${appId}`);
  const views: MasterView[] = [];
  for (const node of await cluster.masters()) {
    const admin = nodeClient(node.port);
    try {
      const { ids } = await sessionIdsInRedis(admin);
      const list = String(await admin.call('CLIENT', 'LIST'));
      const subscribers = list.split('\n').filter((line) => /\b(?:sub|psub|ssub)=[1-9]/.test(line)).length;
      views.push({ node, sessions: ids.size, subscribers, accessToken: node.port === tokenMaster.port });
    } finally {
      admin.disconnect();
    }
  }
  return views;
}

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

  const topology = options.redis ?? 'single';
  if (topology !== 'single' && topology !== 'cluster') throw new TypeError("soak: redis must be 'single' or 'cluster'");
  const killNodeAt = topology !== 'cluster' ? false : options.killNodeAt === undefined ? seconds / 3 : options.killNodeAt;
  const killNode = options.killNode ?? 'most-sessions';
  if (killNode !== 'most-sessions' && killNode !== 'access-token') throw new TypeError("soak: killNode must be 'most-sessions' or 'access-token'");
  const restartNodeAfter = options.restartNodeAfter === undefined ? 2 : options.restartNodeAfter;
  if (killNodeAt !== false && !(killNodeAt >= 0)) throw new TypeError('soak: killNodeAt must be a number of seconds >= 0, or false');
  if (restartNodeAfter !== false && !(restartNodeAfter >= 0)) throw new TypeError('soak: restartNodeAfter must be a number of seconds >= 0, or false');

  const signingSecret = randomBytes(32).toString('base64url');
  let redis: Backend | undefined;
  let mock: MockControl | undefined;
  const instances: Instance[] = [];
  const timers: NodeJS.Timeout[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });

  try {
    redis = await startBackend(topology);
    const cluster = redis.cluster;
    mock = await startMockProcess();
    const env = {
      ...redis.env,
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
      store503s: [],
      abandoned: new Set(),
      logoutsRetried: { count: 0 },
      codeRequestsUnanswered: { count: 0 },
    };
    const control = mock;
    const appId = mock.appId;
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

    log(`soak: ${clients} players, ${seconds} s, instances ${instances.map((i) => `${i.name} ${i.url}`).join(', ')}, ${redis.describe}`);

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
    recorder.started = started;
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

    // ---- the Cluster: kill a master mid-run, wait for the failover, restart it (it rejoins as a replica)
    const at = (ms: number | undefined) => (ms === undefined ? undefined : Math.round((ms - started) / 100) / 10);
    const failover: FailoverReport | undefined = cluster
      ? { masters: [], marginMs: FAILOVER_MARGIN_MS, store503: { inWindow: 0, outside: 0, byRequest: {}, bySecondAfterKill: [] }, logoutsRetried: 0, logoutsAbandoned: 0, orphanSessions: 0, answeredAfterWindow: 0, warnings: { beforeKill: 0, bySecondAfterKill: [] } }
      : undefined;
    const times: { killed?: number; healthy?: number; restarted?: number; rejoined?: number } = {};
    let healing: Promise<void> | undefined;
    const killAndHeal = async (cluster: RedisCluster, report: FailoverReport) => {
      const masters = await inspectMasters(cluster, appId);
      report.masters = masters.map((m) => ({ port: m.node.port, sessions: m.sessions, subscribers: m.subscribers, accessToken: m.accessToken }));
      const target =
        killNode === 'access-token'
          ? masters.find((m) => m.accessToken)!
          : [...masters].sort((a, b) => b.sessions - a.sessions || Number(b.accessToken) - Number(a.accessToken))[0]!;
      const total = masters.reduce((sum, m) => sum + m.sessions, 0);
      const [replica] = await cluster.replicasOf(target.node);
      report.killedPort = target.node.port;
      report.why =
        `${killNode}: it held ${target.sessions} of the ${total} session records, ${target.subscribers} subscribed connection(s)` +
        `${target.accessToken ? ' and the access token' : ''}; replica :${replica?.port ?? '?'}`;
      times.killed = Date.now();
      await target.node.kill();
      log(`soak: ${at(times.killed)} s: killed master :${target.node.port} (${report.why})`);
      await cluster.waitUntilHealthy(CLUSTER_HEAL_WITHIN_MS);
      times.healthy = Date.now();
      if (replica && (await replica.role()) === 'master') report.promotedPort = replica.port;
      log(`soak: ${at(times.healthy)} s: the cluster is healthy again (${((times.healthy - times.killed) / 1000).toFixed(1)} s after the kill), :${report.promotedPort ?? '?'} promoted`);
      if (restartNodeAfter === false) return;
      // After the 503 window has closed, so that what the rejoin causes is told apart from the failover.
      await sleep(FAILOVER_MARGIN_MS + restartNodeAfter * 1000);
      if (abort.signal.aborted) return;
      times.restarted = Date.now();
      await target.node.restart();
      await cluster.waitUntilHealthy(CLUSTER_HEAL_WITHIN_MS);
      times.rejoined = Date.now();
      report.rejoinedAs = await target.node.role();
      log(`soak: ${at(times.rejoined)} s: :${target.node.port} restarted at ${at(times.restarted)} s, rejoined as ${report.rejoinedAs ?? '?'}`);
    };
    if (cluster && failover && killNodeAt !== false && killNodeAt < seconds) {
      timers.push(
        setTimeout(() => {
          healing = killAndHeal(cluster, failover).catch((error: unknown) => {
            rigErrors.push(`the cluster did not fail over or rejoin: ${String((error as Error)?.message ?? error)}`);
          });
        }, killNodeAt * 1000),
      );
    }

    await Promise.all(players.map((player) => player.run(deadline, mix, thinkMs, abort.signal)));
    const durationSeconds = (Date.now() - started) / 1000;
    for (const timer of timers.splice(0)) clearInterval(timer);
    // The checks below run on a healthy cluster: the failover (and the rejoin) finish first.
    if (healing) {
      log('soak: waiting for the failover and the rejoin to finish');
      await healing;
    }
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
    /** The data the first instance answered for each player: the other must answer the same. */
    const endData = new Map<Player, { instance: string; data: string }>();
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
        } else if (typeof score === 'number' && player.uncertain.includes(score)) {
          // A write that was not acknowledged (a 503) but landed: allowed, it came after the last
          // ack; both instances must answer it, though.
        } else if (JSON.stringify(answer.data.data) !== JSON.stringify(expected)) {
          violations.add(
            CHECK.lostWrites,
            `${where}: holds ${JSON.stringify(answer.data.data)}, last acknowledged ${JSON.stringify(expected)}${player.uncertain.length ? ` (not acknowledged since: ${player.uncertain.join(', ')})` : ''}`,
          );
        }
        const data = JSON.stringify(answer.data.data);
        const other = endData.get(player);
        if (!other) endData.set(player, { instance: instance.name, data });
        else if (other.data !== data) violations.add(CHECK.lostWrites, `${where}: holds ${data}, instance ${other.instance} ${other.data}`);
      },
    );
    await pool(
      shared.loggedOut.flatMap((entry) => instances.map((instance) => ({ entry, instance }))),
      32,
      ({ entry, instance }) => refusedAfterLogout(shared, instance, entry.token, entry.openid, 'at the end'),
    );

    // ---- 503 WX_STORE_UNAVAILABLE: allowed only for requests that overlap the failover window
    // (from the kill until the cluster was healthy again + FAILOVER_MARGIN_MS); a violation anywhere else.
    const windowEnd = times.healthy === undefined ? undefined : times.healthy + FAILOVER_MARGIN_MS;
    let codes503 = 0; // logins and X-WX-Code requests answered 503: the mock may have redeemed their code
    let logins503 = 0; // logins answered 503: their record may have been written
    for (const e of shared.store503s) {
      // Outside the window too (such a 503 is a statuses violation already, not to be counted twice).
      if (e.redeemsCode) codes503 += 1;
      if (e.label === 'login') logins503 += 1;
      if (failover && times.killed !== undefined && e.answeredAt >= times.killed) {
        const second = Math.max(0, Math.floor((e.sentAt - times.killed) / 1000));
        while (failover.store503.bySecondAfterKill.length <= second) failover.store503.bySecondAfterKill.push(0);
        failover.store503.bySecondAfterKill[second]! += 1;
      }
      const inWindow = times.killed !== undefined && windowEnd !== undefined && e.answeredAt >= times.killed && e.sentAt <= windowEnd;
      if (inWindow && failover) {
        const f = failover.store503;
        f.inWindow += 1;
        f.byRequest[e.label] = (f.byRequest[e.label] ?? 0) + 1;
        f.first = Math.min(f.first ?? Infinity, at(e.sentAt)!);
        f.last = Math.max(f.last ?? -Infinity, at(e.sentAt)!);
        f.lastAnswered = Math.max(f.lastAnswered ?? -Infinity, at(e.answeredAt)!);
        continue;
      }
      if (failover) failover.store503.outside += 1;
      const when = !cluster
        ? 'on a single Redis (never allowed)'
        : times.killed === undefined
          ? '(no node was killed)'
          : e.answeredAt < times.killed
            ? 'before the kill'
            : times.restarted !== undefined && e.sentAt >= times.restarted && (times.rejoined === undefined || e.sentAt <= times.rejoined + FAILOVER_MARGIN_MS)
              ? `during the rejoin of the restarted node (restarted ${at(times.restarted)} s, rejoined ${at(times.rejoined) ?? '?'} s)`
              : windowEnd === undefined
                ? 'after the kill, the cluster never healthy again'
                : `${e.sentAt - windowEnd} ms after the failover window (${at(times.killed)}-${at(windowEnd)} s) closed`;
      violations.add(CHECK.statuses, `${e.where}: 503 WX_STORE_UNAVAILABLE ${when}; sent ${at(e.sentAt)} s, answered ${at(e.answeredAt)} s`, e.sentAt);
    }

    const inRedis = await redis.sessions();
    const heldIds = new Set(held.map((player) => idOf(player.client.token()!)));
    const loggedOutIds = new Set(shared.loggedOut.map((entry) => idOf(entry.token)));
    // A session nobody holds is allowed only where a request that was not acknowledged may have
    // left it: a logout answered 503 and never 204 on retrying, or a login answered 503 (one
    // record at most each). Never a logged-out one.
    let orphanBudget = logins503;
    let orphans = 0;
    for (const id of inRedis.ids) {
      if (heldIds.has(id)) continue;
      if (!loggedOutIds.has(id) && shared.abandoned.has(id)) orphans += 1;
      else if (!loggedOutIds.has(id) && orphanBudget > 0) {
        orphanBudget -= 1;
        orphans += 1;
      } else violations.add(CHECK.afterLogout, `Redis holds session ${shortId(id)} that no player holds`);
    }
    for (const id of heldIds) {
      if (!inRedis.ids.has(id)) violations.add(CHECK.lostWrites, `a player holds session ${shortId(id)} that Redis does not`);
    }
    for (const id of loggedOutIds) {
      if (inRedis.ids.has(id)) violations.add(CHECK.afterLogout, `Redis still holds logged-out session ${shortId(id)}`);
    }

    // ---- accounting: every code the mock redeemed was a login or a refresh (or a login or an
    // X-WX-Code retry answered 503 after its code was redeemed)
    const { counts } = shared;
    const redeemed = counts.logins + counts.refreshes + counts.unexpectedRefreshes;
    const unanswered = shared.codeRequestsUnanswered.count;
    const accountingDetail =
      `${tally.code2Session} code2Session calls (${tally.code2SessionErrors} not answered 0); ${counts.logins} logins + ${counts.refreshes} refreshes` +
      (counts.unexpectedRefreshes ? ` + ${counts.unexpectedRefreshes} refreshes after a 401 WX_SESSION_KEY_EXPIRED with no rotation pending` : '') +
      ` = ${redeemed}` +
      (codes503 > 0 ? ` (+ at most ${codes503} logins/X-WX-Code retries answered 503)` : '') +
      (unanswered > 0 ? ` (+ at most ${unanswered} never answered)` : '');
    if (tally.code2Session < redeemed || tally.code2Session > redeemed + codes503 + unanswered || tally.code2SessionErrors > 0) violations.add(CHECK.accounting, accountingDetail);
    if (failover) {
      failover.killedAt = at(times.killed);
      failover.healthyAt = at(times.healthy);
      failover.windowEnd = at(windowEnd);
      failover.restartedAt = at(times.restarted);
      failover.rejoinedAt = at(times.rejoined);
      failover.logoutsRetried = shared.logoutsRetried.count;
      failover.logoutsAbandoned = shared.abandoned.size;
      failover.orphanSessions = orphans;
      for (const { at: when } of instances.flatMap((instance) => instance.warnings)) {
        if (when < started) continue; // the warm-up
        if (times.killed === undefined || when < times.killed) {
          failover.warnings.beforeKill += 1;
          continue;
        }
        const second = Math.floor((when - times.killed) / 1000);
        while (failover.warnings.bySecondAfterKill.length <= second) failover.warnings.bySecondAfterKill.push(0);
        failover.warnings.bySecondAfterKill[second]! += 1;
      }
      if (windowEnd !== undefined) failover.answeredAfterWindow = recorder.okBySecond.slice(Math.ceil((windowEnd - started) / 1000)).reduce((sum, n) => sum + n, 0);
    }

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
      config: {
        seconds,
        clients,
        thinkMs,
        mix,
        expireTokensEveryMs,
        checkInterval: 0,
        wechatTimeoutMs: WECHAT_TIMEOUT_MS,
        rampUpMs: Math.min(RAMP_UP_MS, (seconds * 1000) / 10),
        warmUp: { players: WARM_UP_PLAYERS, ms: Math.min(WARM_UP_MS, (seconds * 1000) / 5) },
        redis: topology,
        ...(cluster ? { cluster: { ports: cluster.nodes.map((node) => node.port), nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS, killNodeAt, killNode, restartNodeAfter } } : {}),
      },
      ...(failover ? { failover } : {}),
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
        rotationsRepairedUnacknowledged: counts.rotationsRepairedUnacknowledged,
        unexpectedRefreshes: counts.unexpectedRefreshes,
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
      [CHECK.afterLogout]: `${shared.loggedOut.length} logged-out tokens tried on both instances right after and at the end; Redis holds ${inRedis.ids.size} sessions (and ${inRedis.other} token/lock/user keys), the players ${heldIds.size}${failover ? `; ${orphans} left by requests answered 503 (not acknowledged)` : ''}`,
      [CHECK.statuses]:
        `${loadRequests} requests; ${recorder.networkErrors} network errors; statuses ${JSON.stringify(recorder.statuses)}` +
        (failover ? `; 503 WX_STORE_UNAVAILABLE: ${failover.store503.inWindow} in the failover window (allowed), ${failover.store503.outside} outside it` : ''),
      [CHECK.rotations]:
        `${counts.rotations} rotations, ${counts.refreshes} refreshes (${counts.rotationsRepairedLate} after more than one request)` +
        (counts.rotationsRepairedUnacknowledged ? `, ${counts.rotationsRepairedUnacknowledged} repaired by an X-WX-Code retry answered 503 that saved the key anyway` : ''),
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
  const cluster = report.config.cluster;
  if (!cluster) lines.push('  redis: one redis-server');
  else {
    lines.push(`  redis: a Cluster of 3 masters + 3 replicas (node timeout ${cluster.nodeTimeoutMs} ms); kill ${cluster.killNode} master at ${cluster.killNodeAt === false ? 'never' : `${+cluster.killNodeAt.toFixed(1)} s`}, restart ${cluster.restartNodeAfter === false ? 'never' : `${cluster.restartNodeAfter} s after the failover`}`);
  }
  const f = report.failover;
  if (f) {
    if (f.killedAt === undefined) lines.push('  failover: no master was killed');
    else {
      lines.push(`  masters at the kill: ${f.masters.map((m) => `:${m.port} ${m.sessions} sessions, ${m.subscribers} subscribed conns${m.accessToken ? ', access token' : ''}`).join('; ')}`);
      lines.push(`  failover: killed :${f.killedPort} at ${f.killedAt} s (${f.why}); healthy again at ${f.healthyAt ?? '?'} s${f.healthyAt !== undefined ? ` (+${(f.healthyAt - f.killedAt).toFixed(1)} s)` : ''}, :${f.promotedPort ?? '?'} promoted`);
      lines.push(`  503 window: ${f.killedAt}-${f.windowEnd ?? '?'} s (healthy + ${f.marginMs} ms); rejoin: ${f.restartedAt === undefined ? 'not restarted' : `restarted ${f.restartedAt} s, healthy ${f.rejoinedAt ?? '?'} s, now a ${f.rejoinedAs ?? '?'}`}`);
      const s = f.store503;
      lines.push(
        `  503 WX_STORE_UNAVAILABLE: ${s.inWindow} in the window${s.inWindow ? ` (sent ${s.first}-${s.last} s, last answered ${s.lastAnswered} s; ${Object.entries(s.byRequest).map(([label, n]) => `${label} ${n}`).join(', ')})` : ''}, ${s.outside} outside it`,
      );
      const seconds = (counts: number[]) => counts.map((n, i) => `${i}-${i + 1} s: ${n}`).join(', ') || 'none';
      lines.push(`    by second after the kill (sent; the window closed ${(f.windowEnd! - f.killedAt).toFixed(1)} s after it): ${seconds(s.bySecondAfterKill)}`);
      lines.push(`  instance warnings (load phase): ${f.warnings.beforeKill} before the kill; by second after it: ${seconds(f.warnings.bySecondAfterKill)}`);
      lines.push(`  after the window: ${f.answeredAfterWindow} requests answered below 500`);
      lines.push(`  not acknowledged: ${f.logoutsRetried} logouts answered 503 and retried (${f.logoutsAbandoned} never 204); ${f.orphanSessions} session records left by them or by logins answered 503`);
    }
  }
  lines.push(`  ${report.requests} requests, ${report.throughput} req/s; latency p50 ${report.latencyMs.overall.p50} ms, p99 ${report.latencyMs.overall.p99} ms, max ${report.latencyMs.overall.max} ms`);
  lines.push(`  per instance ${JSON.stringify(report.perInstance)}; statuses ${JSON.stringify(report.statuses)}`);
  lines.push('  latency by request (ms):');
  for (const [label, summary] of Object.entries(report.latencyMs.byOp)) {
    lines.push(`    ${label.padEnd(26)} n=${String(summary.count).padEnd(8)} p50 ${String(summary.p50).padEnd(7)} p99 ${String(summary.p99).padEnd(7)} max ${summary.max}`);
  }
  lines.push(
    `  counts: ${c.logins} logins, ${c.refreshes} refreshes, ${c.rotations} rotations (${c.rotationsRepairedLate} repaired late${c.rotationsRepairedUnacknowledged ? `, ${c.rotationsRepairedUnacknowledged} by a retry answered 503` : ''}), ${c.logouts} logouts, ${c.writes} writes, ${c.reads} reads`,
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
