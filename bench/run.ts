// `npm run bench`: throughput, memory and upstream-call benchmarks of wx-session.
//
//   node --import tsx bench/run.ts
//
// The orchestrator (this process) hosts the mock WeChat, starts a private redis-server, one
// server child per variant (bench/server.ts) and the load generator child (bench/load.ts,
// autocannon). Each round runs every variant once, in an order rotated by one per round; the
// report gives medians across rounds with min/max, and the ratio of each variant to its
// baseline computed per round (same round, neighbouring runs) and then its median.
// Then bench/heap.ts and bench/upstream.ts run as children. A table is printed and written to
// bench/results.md. A missed target gets a CPU profile of that variant (see BENCH_PROFILE).
//
// Env: BENCH_ROUNDS (5), BENCH_DURATION (3 s per run), BENCH_WARMUP (2 s per variant, once),
// BENCH_CONNECTIONS (50), BENCH_VARIANTS (comma list, default all but the diagnostics),
// BENCH_EXTRA (1: add the diagnostic variants), BENCH_PROFILE
// (auto: profile the variants that missed their target | always | off), BENCH_PROFILE_DURATION
// (6 s), BENCH_RESULTS (output file, default bench/results.md).
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MockWeChat, startMockWeChat as StartMockWeChat } from '../src/testing/index.js';
import type { LoadJob, LoadResult } from './load.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

// ---------------------------------------------------------------------------------------------
// Settings

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${raw}`);
  return value;
}

const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5, 1));
const DURATION = envNumber('BENCH_DURATION', 3, 1);
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 50, 1));
const PIPELINING = 1;
const PROFILE = (process.env.BENCH_PROFILE ?? 'auto').toLowerCase();
const PROFILE_DURATION = envNumber('BENCH_PROFILE_DURATION', 6, 1);
const RESULTS_FILE = process.env.BENCH_RESULTS ?? join(here, 'results.md');
const OPENID = 'oBench0000000000000000000000'; // 28 characters, like a real openid
/** Where src/ and adapters/ are compiled with tsc (gitignored), what the server children load. */
const LIB_DIR = join(here, '.tmp', 'lib');
const PAUSE_MS = 300; // between runs: sockets closed, the server's GC caught up

interface VariantSpec {
  name: string;
  group: 'express' | 'koa' | 'login';
  kind: 'get' | 'login';
  /** Diagnostic: only run when named in BENCH_VARIANTS or with BENCH_EXTRA=1. */
  extra?: boolean;
  /** The variant this one is a ratio to. */
  baseline?: string;
  target?: number;
  needsRedis?: boolean;
  describe: string;
}

const ALL_VARIANTS: VariantSpec[] = [
  { name: 'bare-express', group: 'express', kind: 'get', describe: 'Express 5, GET /me answers a constant { openid }, no auth' },
  { name: 'wx-express-memory', group: 'express', kind: 'get', baseline: 'bare-express', target: 0.95, describe: 'Express 5 + wxSession(core, MemoryStore), GET /me behind wx.required' },
  { name: 'wx-express-redis', group: 'express', kind: 'get', baseline: 'bare-express', target: 0.85, needsRedis: true, describe: 'Express 5 + wxSession(core, RedisStore with its default in-process cache)' },
  { name: 'express-session', group: 'express', kind: 'get', baseline: 'bare-express', describe: 'Express 5 + express-session (its MemoryStore), session cookie' },
  { name: 'bare-koa', group: 'koa', kind: 'get', describe: 'Koa 3 + @koa/router, GET /me answers a constant { openid }, no auth' },
  { name: 'wx-koa-memory', group: 'koa', kind: 'get', baseline: 'bare-koa', target: 0.9, describe: 'Koa 3 + @koa/router + wxSession(core, MemoryStore), GET /me behind wx.required' },
  { name: 'koa-session', group: 'koa', kind: 'get', baseline: 'bare-koa', describe: 'Koa 3 + @koa/router + koa-session (signed cookie session)' },
  { name: 'bare-login', group: 'login', kind: 'login', describe: 'Express 5 + express.json(), POST /bare/login: one fetch to code2Session, answer' },
  { name: 'wx-login', group: 'login', kind: 'login', baseline: 'bare-login', target: 0.9, describe: 'Express 5 + express.json() + wxSession, POST /wx/login (code2Session, new session, signed token)' },
  { name: 'bare-express-mw', group: 'express', kind: 'get', baseline: 'bare-express', extra: true, describe: 'diagnostic: bare-express plus one no-op app.use layer (what a layer costs in Express 5)' },
  { name: 'wx-express-route', group: 'express', kind: 'get', baseline: 'bare-express', extra: true, describe: 'diagnostic: Express 5, wx.required on the route only (no app.use(wx)), MemoryStore' },
];

/** Side-by-side ratios that have no target: wx-session beside the classic session middlewares. */
const COMPARISONS: Array<[string, string]> = [
  ['wx-express-memory', 'express-session'],
  ['wx-express-redis', 'express-session'],
  ['wx-koa-memory', 'koa-session'],
];

// ---------------------------------------------------------------------------------------------
// Children: every one is tracked and ended on the way out, however that comes

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];
let cleaningUp: Promise<void> | undefined;

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitExit(child, 3000))) {
    child.kill('SIGKILL');
    await waitExit(child, 2000);
  }
}

function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // keep going: everything else must still be stopped
      }
    }
    await Promise.all([...children].map((child) => stopChild(child)));
  })();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every child...\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// redis-server: private, temp dir, free port, nothing saved. It runs under a small sh watchdog
// that kills it when our pipe to the watchdog closes, so it dies with us even on a SIGKILL.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface RedisHandle {
  url: string;
  version: string;
  stop(): Promise<void>;
}

async function startRedis(): Promise<RedisHandle | { missing: string }> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return { missing: 'redis-server is not installed (apt-get install redis-server): the RedisStore variant is skipped' };
  const version = /v=([\d.]+)/.exec(probe.stdout)?.[1] ?? 'unknown';
  const port = await freePort();
  const dir = mkdtempSync(join(os.tmpdir(), 'wxs-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
  const script = 'redis-server "$@" & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid';
  const child = track(spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  child.stderr!.resume();
  try {
    redisPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
  } catch {
    redisPid = undefined;
  }
  const stop = async () => {
    child.stdin!.end();
    if (!(await waitExit(child, 5000))) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  return { url: `redis://127.0.0.1:${port}`, version, stop };
}

// ---------------------------------------------------------------------------------------------
// Load generator child

interface LoadChild {
  child: ChildProcess;
  run(job: Omit<LoadJob, 'id'>): Promise<LoadResult>;
}

async function startLoad(): Promise<LoadChild> {
  const child = track(fork(join(here, 'load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: root }));
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let ready: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  child.on('message', (message: { type: string; result?: LoadResult; id?: number; message?: string }) => {
    if (message.type === 'ready') ready();
    else if (message.type === 'result' && message.result) {
      waiting.get(message.result.id)?.resolve(message.result);
      waiting.delete(message.result.id);
    } else if (message.type === 'error' && message.id !== undefined) {
      waiting.get(message.id)?.reject(new Error(`load: ${message.message}`));
      waiting.delete(message.id);
    }
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the load child exited (${code})`));
    waiting.clear();
  });
  await Promise.race([readyPromise, new Promise((_, reject) => child.once('exit', () => reject(new Error('the load child did not start'))))]);
  return {
    child,
    run(job) {
      const id = nextId++;
      return new Promise<LoadResult>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ ...job, id });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server children

interface ServerHandle {
  spec: VariantSpec;
  child: ChildProcess;
  port: number;
  token?: string;
  cookie?: string;
  body?: string;
  /** The next JSON line the server prints that has `key` set. */
  waitFor(key: string, ms?: number): Promise<Record<string, unknown>>;
}

async function startServer(spec: VariantSpec, mock: MockWeChat, redisUrl: string | undefined, extraEnv: Record<string, string> = {}): Promise<ServerHandle> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    VARIANT: spec.name,
    MOCK_URL: mock.url,
    APP_ID: mock.appId,
    APP_SECRET: mock.appSecret,
    OPENID,
    BENCH_LIB_DIR: LIB_DIR,
    ...extraEnv,
  };
  if (spec.name.startsWith('wx-') && spec.kind === 'get') env.LOGIN_CODE = mock.issueCode(OPENID);
  if (redisUrl) env.REDIS_URL = redisUrl;
  const child = track(spawn(process.execPath, ['--import', 'tsx', join(here, 'server.ts')], { env, cwd: root, stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const listeners = new Set<(line: Record<string, unknown>) => void>();
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue; // not one of ours
      }
      for (const listener of [...listeners]) listener(line);
    }
  });
  const waitFor = (key: string, ms = 30_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('exit', onExit);
      };
      const listener = (line: Record<string, unknown>) => {
        if (line[key] === undefined) return;
        done();
        resolve(line);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`${spec.name}: the server exited with ${code}\n${stderr}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${spec.name}: no "${key}" line within ${ms / 1000} s\n${stderr}`));
      }, ms);
      listeners.add(listener);
      child.once('exit', onExit);
    });
  try {
    const ready = (await waitFor('ready')) as { port: number; token?: string; cookie?: string; body?: string };
    return { spec, child, port: ready.port, token: ready.token, cookie: ready.cookie, body: ready.body, waitFor };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// CPU time of a process (Linux /proc), to tell a server-bound run from a load-bound one

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy (every core; /proc/stat: all but idle and iowait). */
function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process, bytes. */
function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The redis-server under the watchdog, counted as ours when measuring the machine's other load. */
let redisPid: number | undefined;

// ---------------------------------------------------------------------------------------------
// Login codes: the mock in this process issues them; the load child hands one to each request

const OPENID_POOL = Array.from({ length: 1000 }, (_, i) => `oBenchLogin${String(i).padStart(17, '0')}`);

class CodePool {
  #codes: string[] = [];
  #cursor = 0;
  #issued = 0;
  #peakRps = 0;
  constructor(private readonly mock: MockWeChat) {}

  take(seconds: number): string[] {
    // Enough for twice the best rate seen so far (20k/s before any), topped up from the last run's leftovers.
    const need = Math.ceil(Math.max(this.#peakRps * 2, this.#peakRps === 0 ? 20_000 : 2_000) * seconds) + 1000;
    const left = this.#codes.length - this.#cursor;
    if (left < need) {
      this.#codes = this.#codes.slice(this.#cursor);
      this.#cursor = 0;
      for (let i = left; i < need; i++) this.#codes.push(this.mock.issueCode(OPENID_POOL[this.#issued++ % OPENID_POOL.length]));
    }
    return this.#codes.slice(this.#cursor, this.#cursor + need);
  }

  used(count: number, rps: number): void {
    this.#cursor += count;
    this.#peakRps = Math.max(this.#peakRps, rps);
  }
}

// ---------------------------------------------------------------------------------------------
// One run of one variant

interface Sample extends LoadResult {
  variant: string;
  round: number;
  /** Share of one core the server child used during the run (1 = a full core). */
  serverCpu?: number;
  /** Server CPU time (user + system, all threads) per 2xx answer, µs: robust to a noisy machine. */
  cpuUsPerReq?: number;
  loadCpu?: number;
  mockCpu?: number;
  /** Cores used by processes other than the bench's during the run: the machine's noise. */
  otherCpu?: number;
  /** The server's resident memory after the run, bytes. */
  serverRss?: number;
}

async function runVariant(server: ServerHandle, load: LoadChild, pool: CodePool, mock: MockWeChat, seconds: number, round: number): Promise<Sample> {
  const { spec } = server;
  const headers: Record<string, string> = {};
  if (server.token) headers['x-wx-session'] = server.token;
  if (server.cookie) headers.cookie = server.cookie;
  const job: Omit<LoadJob, 'id'> = {
    url: `http://127.0.0.1:${server.port}`,
    path: spec.kind === 'login' ? (spec.name === 'wx-login' ? '/wx/login' : '/bare/login') : '/me',
    method: spec.kind === 'login' ? 'POST' : 'GET',
    headers,
    duration: seconds,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
  };
  if (spec.kind === 'login') job.codes = pool.take(seconds);
  const serverBefore = cpuSeconds(server.child.pid);
  const loadBefore = cpuSeconds(load.child.pid);
  const redisBefore = cpuSeconds(redisPid) ?? 0;
  const machineBefore = machineBusySeconds();
  const mockBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load.run(job);
  const wall = (performance.now() - started) / 1000;
  const serverAfter = cpuSeconds(server.child.pid);
  const loadAfter = cpuSeconds(load.child.pid);
  const redisAfter = cpuSeconds(redisPid) ?? 0;
  const machineAfter = machineBusySeconds();
  const mockUsage = process.cpuUsage(mockBefore);
  let otherCpu: number | undefined;
  if (machineBefore !== undefined && machineAfter !== undefined && serverBefore !== undefined && serverAfter !== undefined && loadBefore !== undefined && loadAfter !== undefined) {
    const ours = serverAfter - serverBefore + (loadAfter - loadBefore) + (redisAfter - redisBefore) + (mockUsage.user + mockUsage.system) / 1e6;
    otherCpu = Math.max(0, (machineAfter - machineBefore - ours) / wall);
  }
  if (spec.kind === 'login') {
    pool.used(result.codesUsed ?? 0, result.rps);
    mock.resetCalls(); // the mock records every call: keep its memory flat
  }
  return {
    ...result,
    variant: spec.name,
    round,
    serverCpu: serverBefore !== undefined && serverAfter !== undefined ? (serverAfter - serverBefore) / wall : undefined,
    cpuUsPerReq: serverBefore !== undefined && serverAfter !== undefined && result.ok > 0 ? ((serverAfter - serverBefore) * 1e6) / result.ok : undefined,
    loadCpu: loadBefore !== undefined && loadAfter !== undefined ? (loadAfter - loadBefore) / wall : undefined,
    mockCpu: spec.kind === 'login' ? (mockUsage.user + mockUsage.system) / 1e6 / wall : undefined,
    otherCpu,
    serverRss: rssBytes(server.child.pid),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Statistics

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Per-round ratios a/b (both measured in the same round), then their spread. */
function pairedRatio(samples: Sample[], a: string, b: string): Spread | undefined {
  const ratios: number[] = [];
  for (const sa of samples.filter((s) => s.variant === a)) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round);
    if (sb && sb.rps > 0) ratios.push(sa.rps / sb.rps);
  }
  return ratios.length ? spread(ratios) : undefined;
}

/** Cores of other load above which a run counts as disturbed. */
const QUIET_OTHER_CPU = 0.2;

/** Like pairedRatio, over the rounds where neither run was disturbed by other load. */
function quietRatio(samples: Sample[], a: string, b: string): (Spread & { n: number }) | undefined {
  const ratios: number[] = [];
  const quiet = (s: Sample) => s.otherCpu !== undefined && s.otherCpu < QUIET_OTHER_CPU;
  for (const sa of samples.filter((s) => s.variant === a && quiet(s))) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round && quiet(s));
    if (sb && sb.rps > 0) ratios.push(sa.rps / sb.rps);
  }
  return ratios.length ? { ...spread(ratios), n: ratios.length } : undefined;
}

/** Per-round CPU-cost ratios: b's server CPU per request over a's (what the throughput ratio would be if both were purely CPU-bound). */
function pairedCpuRatio(samples: Sample[], a: string, b: string): Spread | undefined {
  const ratios: number[] = [];
  for (const sa of samples.filter((s) => s.variant === a && s.cpuUsPerReq)) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round && s.cpuUsPerReq);
    if (sb) ratios.push(sb.cpuUsPerReq! / sa.cpuUsPerReq!);
  }
  return ratios.length ? spread(ratios) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Child scripts: heap and upstream

function runScript(args: string[]): Promise<{ result: unknown; output: string }> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`${args.join(' ')} exited ${code}:\n${output}`));
      else resolve({ result: JSON.parse(line.slice(7)), output: output.split('\n').filter((l) => l && !l.startsWith('RESULT ')).join('\n') });
    });
  });
}

interface HeapResult {
  sessions: number;
  bytesPerSession: number;
  heapUsedPerSession: number;
  arrayBuffersPerSession: number;
  verifiedLru: { entries: number; bytesPerEntry: number; totalBytes: number };
}

interface UpstreamResult {
  requests: number;
  sessions: number;
  concurrency: number;
  scenarios: Array<{ scenario: string; ok: number; requests: number; checksession: number; stableToken: number; code2Session: number; perTenThousand: { checksession: number; stableToken: number; total: number } }>;
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (V8 .cpuprofile, taken in the server child over one load run)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  variant: string;
  requests: number;
  rps: number;
  /** Server CPU per answer from /proc during the profiled run (all threads), µs. */
  procUsPerReq?: number;
  /** Busy CPU time of the server's main thread, µs (idle and "(program)" excluded). */
  busyUs: number;
  /** Self µs by function (name + where). */
  selfByFn: Map<string, number>;
  /** Self µs by package / place. */
  selfByPlace: Map<string, number>;
  /** µs in wx-session frames and what they call, down to where control goes back to the framework or the app. */
  wxInclusiveUs: number;
  /** Inclusive µs per wx-session function (outermost occurrence). */
  wxInclByFn: Map<string, number>;
}

/** A frame's file, with the compiled library (bench/.tmp/lib) shown as the source it came from. */
function fileOf(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(LIB_DIR + '/') ? join(root, relative(LIB_DIR, path)) : path;
}

function placeOf(frame: ProfileNode['callFrame']): string {
  if (frame.functionName === '(garbage collector)') return 'GC';
  const url = frame.url;
  if (!url) return '(native: syscalls, V8 builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const path = fileOf(url);
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = relative(root, path);
  if (rel.startsWith('src/') || rel.startsWith('adapters/')) return `wx-session ${rel.split('/')[0]}/`;
  if (rel.startsWith('bench/')) return 'bench (routes)';
  return rel.startsWith('..') ? path : rel;
}

function whereOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '';
  const raw = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  if (raw.startsWith(LIB_DIR + '/')) {
    // The compiled library: name the source file, and the line in tsc's output (about the same).
    return `${relative(LIB_DIR, raw).replace(/\.js$/, '.ts')} (js:${frame.lineNumber + 1})`;
  }
  const nm = raw.lastIndexOf('/node_modules/');
  const shown = nm >= 0 ? raw.slice(nm + 14) : raw.startsWith('node:') ? raw : relative(root, raw);
  // Code loaded through tsx reports line 1 for everything: the file alone says more.
  return frame.lineNumber > 0 ? `${shown}:${frame.lineNumber + 1}` : shown;
}

function isWx(frame: ProfileNode['callFrame']): boolean {
  if (!frame.url.startsWith('file://')) return false;
  const rel = relative(root, fileOf(frame.url));
  return rel.startsWith('src/') || rel.startsWith('adapters/');
}

const fnKey = (frame: ProfileNode['callFrame']) => `${frame.functionName || '(anonymous)'}\u0000${whereOf(frame)}`;
const splitKey = (k: string) => {
  const [name, where] = k.split('\u0000');
  return { name: name!, where: where! };
};

/** Frames where a middleware hands control back: the framework, the router, the app's routes. */
const DOWNSTREAM_PLACES = new Set(['express', 'router', 'koa', 'koa-compose', '@koa/router', 'bench (routes)', 'body-parser']);

function readProfile(file: string, variant: string, requests: number, rps: number): Profile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)').map((n) => n.id));
  const self = new Map<number, number>();
  // timeDeltas[i + 1] is the time between sample i and the next: the time sample i stands for.
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  let busyUs = 0;
  const selfByFn = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  for (const [id, us] of self) {
    if (idle.has(id)) continue;
    busyUs += us;
    const frame = byId.get(id)!.callFrame;
    selfByFn.set(fnKey(frame), (selfByFn.get(fnKey(frame)) ?? 0) + us);
    selfByPlace.set(placeOf(frame), (selfByPlace.get(placeOf(frame)) ?? 0) + us);
  }
  // Inclusive time per node: its subtree's self time.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const order: number[] = [];
  const stack = profile.nodes.filter((n) => !parent.has(n.id)).map((n) => n.id);
  while (stack.length) {
    const id = stack.pop()!;
    order.push(id);
    for (const c of byId.get(id)!.children ?? []) stack.push(c);
  }
  // A middleware's continuation (next(), await next(), the original res.end) runs inside its
  // frames: the rest of the request would count as wx-session's. "Own" totals stop at the frames
  // where control goes back to the framework or the app.
  const boundary = (frame: ProfileNode['callFrame']) =>
    DOWNSTREAM_PLACES.has(placeOf(frame)) || (frame.functionName === 'end' && frame.url === 'node:_http_outgoing');
  const own = new Map<number, number>();
  for (const id of order.reverse()) {
    let sum = idle.has(id) ? 0 : (self.get(id) ?? 0);
    for (const c of byId.get(id)!.children ?? []) if (!boundary(byId.get(c)!.callFrame)) sum += own.get(c) ?? 0;
    own.set(id, sum);
  }
  /** The nearest ancestor that is a wx-session frame or a boundary: true when it is wx-session's. */
  const insideWx = (id: number, sameFn?: string) => {
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const frame = byId.get(p)!.callFrame;
      if (boundary(frame)) return false;
      if (sameFn === undefined ? isWx(frame) : fnKey(frame) === sameFn) return true;
    }
    return false;
  };
  let wxInclusiveUs = 0;
  const wxInclByFn = new Map<string, number>();
  for (const node of profile.nodes) {
    if (!isWx(node.callFrame)) continue;
    const t = own.get(node.id) ?? 0;
    if (!insideWx(node.id)) wxInclusiveUs += t;
    const k = fnKey(node.callFrame);
    if (!insideWx(node.id, k)) wxInclByFn.set(k, (wxInclByFn.get(k) ?? 0) + t);
  }
  return { variant, requests, rps, busyUs, selfByFn, selfByPlace, wxInclusiveUs, wxInclByFn };
}

async function profileVariant(spec: VariantSpec, mock: MockWeChat, redisUrl: string | undefined, load: LoadChild, pool: CodePool): Promise<Profile> {
  const dir = mkdtempSync(join(os.tmpdir(), 'wxs-bench-prof-'));
  const file = join(dir, `${spec.name}.cpuprofile`);
  try {
    const server = await startServer(spec, mock, redisUrl, { BENCH_PROFILE_FILE: file });
    try {
      await runVariant(server, load, pool, mock, 1.5, -1); // warm the JIT first, not profiled
      await sleep(PAUSE_MS);
      const profiling = server.waitFor('profiling');
      server.child.kill('SIGUSR2');
      await profiling;
      const sample = await runVariant(server, load, pool, mock, PROFILE_DURATION, -1);
      const profiled = server.waitFor('profiled');
      server.child.kill('SIGUSR2');
      if (!(await profiled).profiled) throw new Error('the profiler failed');
      return { ...readProfile(file, spec.name, sample.ok, sample.rps), procUsPerReq: sample.cpuUsPerReq };
    } finally {
      await stopChild(server.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}`;

/** A variant's profile against its baseline's, in µs of server CPU per request. */
function profileReport(p: Profile, base: Profile | undefined): { md: string[]; gist: string } {
  const per = (prof: Profile, us: number) => us / Math.max(1, prof.requests);
  const md: string[] = [];
  const pUs = per(p, p.busyUs);
  const bUs = base ? per(base, base.busyUs) : undefined;
  md.push(`### ${p.variant}${base ? ` against ${base.variant}` : ''}`, '');
  md.push(
    `Server CPU per request: **${pUs.toFixed(1)} µs** (${fmt(p.rps)} req/s while profiled)` +
      (base && bUs !== undefined ? ` vs ${bUs.toFixed(1)} µs for ${base.variant} (${fmt(base.rps)} req/s): **${signed(pUs - bUs)} µs per request** (${signed((100 * (pUs - bUs)) / bUs, 0)}%).` : '.') +
      (p.procUsPerReq !== undefined ? ` From /proc (all threads) during the same runs: ${p.procUsPerReq.toFixed(1)} µs${base?.procUsPerReq !== undefined ? ` vs ${base.procUsPerReq.toFixed(1)} µs` : ''}.` : ''),
    `wx-session's own cost (its frames in src/ and adapters/ and what they call, not counting the framework and route code its next()/end wrapper hands back to): **${per(p, p.wxInclusiveUs).toFixed(1)} µs per request** (${((100 * p.wxInclusiveUs) / p.busyUs).toFixed(1)}% of busy time).`,
    '',
  );
  const places = new Set([...p.selfByPlace.keys(), ...(base ? base.selfByPlace.keys() : [])]);
  const placeRows = [...places]
    .map((place) => ({ place, v: per(p, p.selfByPlace.get(place) ?? 0), b: base ? per(base, base.selfByPlace.get(place) ?? 0) : 0 }))
    .sort((x, y) => (base ? y.v - y.b - (x.v - x.b) : y.v - x.v))
    .filter((r) => r.v >= 0.05 || r.b >= 0.05);
  md.push(
    'Self time by place, µs per request:',
    '',
    base ? `| place | ${base.variant} | ${p.variant} | difference |` : `| place | ${p.variant} |`,
    base ? '|---|---:|---:|---:|' : '|---|---:|',
  );
  for (const r of placeRows.slice(0, 14)) md.push(base ? `| ${r.place} | ${r.b.toFixed(2)} | ${r.v.toFixed(2)} | ${signed(r.v - r.b, 2)} |` : `| ${r.place} | ${r.v.toFixed(2)} |`);
  md.push('');
  const fns = new Set([...p.selfByFn.keys(), ...(base ? base.selfByFn.keys() : [])]);
  const fnRows = [...fns]
    .map((k) => ({ k, v: per(p, p.selfByFn.get(k) ?? 0), b: base ? per(base, base.selfByFn.get(k) ?? 0) : 0 }))
    .sort((x, y) => y.v - y.b - (x.v - x.b));
  md.push(
    base ? `Functions whose self time grew most over ${base.variant}, µs per request:` : 'Top self time, µs per request:',
    '',
    base ? `| function | where | ${base.variant} | ${p.variant} | difference |` : '| function | where | µs |',
    base ? '|---|---|---:|---:|---:|' : '|---|---|---:|',
  );
  for (const r of fnRows.slice(0, 15)) {
    const { name, where } = splitKey(r.k);
    md.push(base ? `| ${name} | ${where} | ${r.b.toFixed(2)} | ${r.v.toFixed(2)} | ${signed(r.v - r.b, 2)} |` : `| ${name} | ${where} | ${r.v.toFixed(2)} |`);
  }
  md.push('', 'wx-session functions with what they call (down to the framework/route code), µs per request:', '', '| function | where | with callees | self |', '|---|---|---:|---:|');
  for (const [k, us] of [...p.wxInclByFn].sort((x, y) => y[1] - x[1]).slice(0, 14)) {
    const { name, where } = splitKey(k);
    md.push(`| ${name} | ${where} | ${per(p, us).toFixed(2)} | ${per(p, p.selfByFn.get(k) ?? 0).toFixed(2)} |`);
  }
  md.push('');
  const grew = placeRows.filter((r) => r.v - r.b > 0.1).slice(0, 4).map((r) => `${r.place} ${signed(r.v - r.b)}`);
  const gist =
    base && bUs !== undefined
      ? `profile: ${signed(pUs - bUs)} µs of main-thread CPU per request over ${base.variant} (${bUs.toFixed(1)} → ${pUs.toFixed(1)} µs); wx-session's own frames and callees ${per(p, p.wxInclusiveUs).toFixed(1)} µs/request; grew most: ${grew.join(', ') || 'nothing above 0.1'} (µs/request)`
      : `profile: ${pUs.toFixed(1)} µs/request, wx-session frames ${per(p, p.wxInclusiveUs).toFixed(1)} µs/request`;
  return { md, gist };
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function versionOf(name: string): string {
  try {
    const require = createRequire(join(root, 'package.json'));
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  }
}

interface Verdict {
  what: string;
  target: string;
  measured: string;
  met: boolean;
  note: string;
  variant?: string;
}

// ---------------------------------------------------------------------------------------------
// The library as users run it: tsc output of src/ and adapters/ (tsconfig.build.json), compiled
// into bench/.tmp/lib on every run, so it is never stale and the shared dist/ is left alone.

function buildLibrary(): void {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  rmSync(LIB_DIR, { recursive: true, force: true });
  const built = spawnSync(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', LIB_DIR, '--declaration', 'false', '--sourceMap', 'false', '--inlineSources', 'false'],
    { cwd: root, encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${built.stdout}${built.stderr}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const started = Date.now();
  const loadAvgAtStart = os.loadavg();
  const only = process.env.BENCH_VARIANTS?.split(',').map((s) => s.trim()).filter(Boolean);
  const notes: string[] = [];

  console.log('bench: compiling src/ and adapters/ with tsc into bench/.tmp/lib ...');
  buildLibrary();
  const { startMockWeChat } = (await import(pathToFileURL(join(LIB_DIR, 'src', 'testing', 'index.js')).href)) as { startMockWeChat: typeof StartMockWeChat };
  const mock = await startMockWeChat({ codeTtl: 6 * 3600_000 });
  cleanups.push(() => mock.close());

  const extra = process.env.BENCH_EXTRA === '1';
  let specs = ALL_VARIANTS.filter((v) => (only ? only.includes(v.name) : !v.extra || extra));
  let redisUrl: string | undefined;
  let redisVersion = 'not run';
  if (specs.some((s) => s.needsRedis)) {
    const redis = await startRedis();
    if ('missing' in redis) {
      notes.push(`**${redis.missing}.**`);
      console.warn(`\n  !!! ${redis.missing}\n`);
      specs = specs.filter((s) => !s.needsRedis);
    } else {
      redisUrl = redis.url;
      redisVersion = redis.version;
    }
  }

  console.log(`bench: ${specs.length} variants, ${ROUNDS} rounds x ${DURATION} s, warmup ${WARMUP} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}`);
  const load = await startLoad();
  const pool = new CodePool(mock);

  // Start the servers two at a time (2 cores), then check that the GET answers are alike.
  const servers = new Map<string, ServerHandle>();
  for (let i = 0; i < specs.length; i += 2) {
    const batch = await Promise.all(specs.slice(i, i + 2).map((spec) => startServer(spec, mock, redisUrl)));
    for (const server of batch) servers.set(server.spec.name, server);
  }
  const bodies = [...servers.values()].filter((s) => s.body !== undefined);
  const sizes = new Set(bodies.map((s) => s.body!.length));
  if (sizes.size > 1) notes.push(`GET /me answers differ in size: ${bodies.map((s) => `${s.spec.name} ${s.body!.length} B`).join(', ')}.`);
  const sampleBody = bodies[0]?.body;

  if (WARMUP > 0) {
    process.stdout.write('warmup:');
    for (const spec of specs) {
      await runVariant(servers.get(spec.name)!, load, pool, mock, WARMUP, 0);
      process.stdout.write(` ${spec.name}`);
      await sleep(PAUSE_MS);
    }
    process.stdout.write('\n');
  }

  const samples: Sample[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const shift = (round - 1) % specs.length;
    const order = [...specs.slice(shift), ...specs.slice(0, shift)];
    const line: string[] = [];
    for (const spec of order) {
      const sample = await runVariant(servers.get(spec.name)!, load, pool, mock, DURATION, round);
      samples.push(sample);
      line.push(`${spec.name} ${fmt(sample.rps)}`);
      if (sample.non2xx || sample.errors || sample.codesExhausted) {
        console.warn(`  ! ${spec.name} round ${round}: ${sample.non2xx} non-2xx, ${sample.errors} errors${sample.codesExhausted ? ', login codes ran out' : ''}`);
      }
      await sleep(PAUSE_MS);
    }
    console.log(`round ${round}/${ROUNDS}: ${line.join(' | ')}`);
  }

  // The servers are no longer needed (profiles start their own); free the cores for heap/upstream.
  await Promise.all([...servers.values()].map((s) => stopChild(s.child)));

  console.log('heap: node --expose-gc --import tsx bench/heap.ts');
  const heap = (await runScript(['--expose-gc', '--import', 'tsx', join(here, 'heap.ts')])).result as HeapResult;
  console.log('upstream: node --import tsx bench/upstream.ts');
  const upstream = (await runScript(['--import', 'tsx', join(here, 'upstream.ts')])).result as UpstreamResult;

  // ---- numbers per variant
  const perVariant = specs.map((spec) => {
    const mine = samples.filter((s) => s.variant === spec.name);
    const cpu = (pick: (s: Sample) => number | undefined) => {
      const values = mine.map(pick).filter((v): v is number => v !== undefined);
      return values.length ? median(values) : undefined;
    };
    return {
      spec,
      rps: spread(mine.map((s) => s.rps)),
      p50: median(mine.map((s) => s.p50)),
      p99: median(mine.map((s) => s.p99)),
      serverCpu: cpu((s) => s.serverCpu),
      cpuUsPerReq: cpu((s) => s.cpuUsPerReq),
      otherCpu: cpu((s) => s.otherCpu),
      maxRss: Math.max(0, ...mine.map((s) => s.serverRss ?? 0)),
      cpuRatio: spec.baseline ? pairedCpuRatio(samples, spec.name, spec.baseline) : undefined,
      quiet: spec.baseline ? quietRatio(samples, spec.name, spec.baseline) : undefined,
      loadCpu: cpu((s) => s.loadCpu),
      mockCpu: cpu((s) => s.mockCpu),
      failures: mine.reduce((n, s) => n + s.non2xx + s.errors, 0),
      ratio: spec.baseline ? pairedRatio(samples, spec.name, spec.baseline) : undefined,
    };
  });

  // ---- verdicts
  const verdicts: Verdict[] = [];
  for (const v of perVariant) {
    if (v.spec.target === undefined || !v.ratio) continue;
    const met = v.ratio.median >= v.spec.target;
    const short = v.spec.target - v.ratio.median;
    verdicts.push({
      what: `${v.spec.name} / ${v.spec.baseline}`,
      target: `>= ${v.spec.target.toFixed(2)}`,
      measured:
        `${v.ratio.median.toFixed(3)} (rounds ${v.ratio.min.toFixed(3)}–${v.ratio.max.toFixed(3)})` +
        (v.cpuRatio ? `; CPU-cost ratio ${v.cpuRatio.median.toFixed(3)}` : '') +
        (v.quiet ? `; undisturbed rounds only: ${v.quiet.median.toFixed(3)} (${v.quiet.n} of ${samples.filter((s) => s.variant === v.spec.name).length})` : '; no undisturbed round'),
      met,
      note:
        (met
          ? v.ratio.min < v.spec.target
            ? `met on the median; some rounds below target`
            : 'met in every round'
          : `MISSED by ${short.toFixed(3)} (${((100 * short) / v.spec.target).toFixed(1)}% below target)${v.ratio.max >= v.spec.target ? '; some rounds reached it' : ''}`) +
        (v.cpuRatio && v.cpuRatio.median >= v.spec.target !== met
          ? `; the CPU-cost ratio (${v.cpuRatio.median.toFixed(3)}) ${met ? 'misses' : 'meets'} the target: the throughput ratio is ${met ? 'flattered' : 'hurt'} by scheduling noise or by waiting`
          : ''),
      variant: v.spec.name,
    });
  }
  verdicts.push({
    what: 'MemoryStore heap per session',
    target: '<= 1024 B',
    measured: `${heap.bytesPerSession} B`,
    met: heap.bytesPerSession <= 1024,
    note: heap.bytesPerSession <= 1024 ? `${fmt(1024 - heap.bytesPerSession)} B to spare` : `MISSED by ${heap.bytesPerSession - 1024} B`,
  });

  // ---- profiles: each profiled variant and its baseline, in fresh server children
  const profiles = new Map<string, Profile>();
  const toProfile =
    PROFILE === 'off'
      ? []
      : PROFILE === 'always'
        ? specs.filter((s) => s.target !== undefined)
        : specs.filter((s) => verdicts.some((v) => v.variant === s.name && !v.met));
  const profileReports: string[] = [];
  for (const spec of toProfile) {
    try {
      for (const name of [spec.baseline, spec.name]) {
        const target = specs.find((s) => s.name === name);
        if (!target || profiles.has(target.name)) continue;
        console.log(`profiling ${target.name} (${PROFILE_DURATION} s under load, V8 CPU profiler)...`);
        profiles.set(target.name, await profileVariant(target, mock, redisUrl, load, pool));
      }
      const report = profileReport(profiles.get(spec.name)!, spec.baseline ? profiles.get(spec.baseline) : undefined);
      profileReports.push(...report.md);
      const verdict = verdicts.find((v) => v.variant === spec.name);
      if (verdict && !verdict.met) verdict.note += `; ${report.gist} (see "Profiles")`;
    } catch (error) {
      notes.push(`Profiling ${spec.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---- the report
  const cpus = os.cpus();
  const md: string[] = [];
  md.push('# wx-session benchmarks', '');
  md.push(`Generated by \`npm run bench\` (bench/run.ts) on ${new Date(started).toISOString()}; took ${Math.round((Date.now() - started) / 1000)} s.`, '');
  md.push('| machine | |', '|---|---|');
  md.push(`| CPU | ${cpus[0]?.model ?? '?'} |`);
  md.push(`| cores | ${cpus.length} |`);
  md.push(`| memory | ${fmt(os.totalmem() / 2 ** 30, 1)} GiB |`);
  md.push(`| OS | ${os.type()} ${os.release()} ${os.arch()} |`);
  md.push(`| node | ${process.version} |`);
  md.push(`| load average at start (1/5/15 min) | ${loadAvgAtStart.map((l) => l.toFixed(2)).join(' / ')} |`);
  md.push(
    `| settings | ${ROUNDS} rounds x ${DURATION} s per variant (warmup ${WARMUP} s once), ${CONNECTIONS} connections, pipelining ${PIPELINING}; rounds interleaved, order rotated each round |`,
  );
  md.push(
    `| versions | express ${versionOf('express')}, koa ${versionOf('koa')}, @koa/router ${versionOf('@koa/router')}, express-session ${versionOf('express-session')}, koa-session ${versionOf('koa-session')}, lru-cache ${versionOf('lru-cache')}, ioredis ${versionOf('ioredis')}, redis-server ${redisVersion}, autocannon ${versionOf('autocannon')} |`,
  );
  md.push('');

  md.push('## Throughput', '');
  md.push(
    'req/s are 2xx answers per second of one run; the median and the min–max are across rounds. ' +
      'A ratio is computed per round against its baseline run in the same round, then its median and min–max are given. ' +
      'CPU columns: share of one core used by the server child and by the autocannon child during the runs (medians; ' +
      'a server near 1.00 means the run was bound by the server, as it should be), and the server\'s CPU time (user + system, all threads) per answer. ' +
      '"other CPU" is the cores used meanwhile by processes of this machine that are not the bench\'s (from /proc/stat, clamped at 0): above ~0.2 the run was disturbed; contention from outside the VM (other tenants of the host) does not show there, only in the spread. ' +
      'Server RSS is the largest resident size seen after a run. ' +
      'The CPU-cost ratio is the baseline\'s CPU per answer over the variant\'s, per round: what the throughput ratio would be were both purely CPU-bound; it is much less sensitive to other load on the machine.',
    '',
  );
  md.push('| variant | req/s median | req/s min–max | p50 / p99 ms | server CPU | load CPU | other CPU | server CPU µs/req | server RSS MiB | vs | ratio median | ratio min–max | CPU-cost ratio | target |');
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|');
  for (const v of perVariant) {
    const verdict = verdicts.find((x) => x.variant === v.spec.name);
    md.push(
      `| ${v.spec.name} | ${fmt(v.rps.median)} | ${fmt(v.rps.min)}–${fmt(v.rps.max)} | ${v.p50} / ${v.p99} | ${v.serverCpu?.toFixed(2) ?? '?'} | ${v.loadCpu?.toFixed(2) ?? '?'} | ${v.otherCpu?.toFixed(2) ?? '?'} | ${v.cpuUsPerReq?.toFixed(1) ?? '?'} | ${v.maxRss ? (v.maxRss / 1048576).toFixed(0) : '?'} | ${v.spec.baseline ?? '—'} | ${v.ratio ? v.ratio.median.toFixed(3) : '—'} | ${v.ratio ? `${v.ratio.min.toFixed(3)}–${v.ratio.max.toFixed(3)}` : '—'} | ${v.cpuRatio ? v.cpuRatio.median.toFixed(3) : '—'} | ${v.spec.target !== undefined ? `>= ${v.spec.target.toFixed(2)} ${verdict?.met ? 'met' : '**MISSED**'}` : '—'} |`,
    );
  }
  md.push('');
  const comparisons = COMPARISONS.filter(([a, b]) => servers.has(a) && servers.has(b)).map(([a, b]) => ({ a, b, r: pairedRatio(samples, a, b)! }));
  if (comparisons.length) {
    md.push('wx-session beside the classic session middlewares (same per-round ratio):', '');
    md.push('| | ratio median | min–max |', '|---|---:|---:|');
    for (const c of comparisons) md.push(`| ${c.a} / ${c.b} | ${c.r.median.toFixed(3)} | ${c.r.min.toFixed(3)}–${c.r.max.toFixed(3)} |`);
    md.push('');
  }
  const loginRows = perVariant.filter((v) => v.spec.kind === 'login' && v.mockCpu !== undefined);
  if (loginRows.length) {
    md.push(`Login runs: the mock WeChat (in the orchestrator process) used ${loginRows.map((v) => `${v.mockCpu!.toFixed(2)} of a core under ${v.spec.name}`).join(', ')}.`, '');
  }

  md.push('### Variants', '');
  for (const spec of specs) md.push(`- **${spec.name}**: ${spec.describe}.`);
  md.push('');
  md.push('### How it was measured', '');
  md.push(
    `- Every server is its own child process (\`bench/server.ts\`, NODE_ENV=production) loading wx-session as tsc compiled it (\`tsconfig.build.json\` into bench/.tmp/lib), as users run it; autocannon runs in another child (\`bench/load.ts\`); the mock WeChat runs in the orchestrator. 2 cores: the server and autocannon each get about one.`,
    `- GET /me answers the same ${sampleBody ? `${sampleBody.length}-byte ` : ''}JSON in every variant (\`${sampleBody ?? '{"openid":"…"}'}\`).`,
    '- wx-session variants: one session, created by one login against the mock before the load; every request carries its token in `X-WX-Session`. **checkSessionKey is `false` in the throughput variants**, so the hot loop makes no upstream call (see "Upstream calls" for what the check costs).',
    '- wx-express-redis: RedisStore with its default in-process cache (max 10,000, ttl 10 s, kept coherent by pub/sub); with one hot session nearly every read is a cache hit and Redis is read about once per 10 s. It measures the store as configured by default, not a Redis round trip per request.',
    '- express-session and koa-session: the session is created by a login route before the load; requests carry the cookie. express-session re-saves nothing (resave: false) but touches its store on each request; koa-session decodes and verifies its signed cookie.',
    '- Login: each request carries a fresh code issued by the mock beforehand; wx-login makes the code2Session call, creates a session in a MemoryStore and signs a token; bare-login makes the same code2Session call with fetch and answers WeChat\'s JSON (less session_key). Both have express.json() in front. The mock serving both shares the 2 cores with them (the same for both variants).',
    '',
  );

  md.push('## Heap per session (MemoryStore)', '');
  md.push(
    `${fmt(heap.sessions)} sessions stored through \`MemoryStore.set\`, records built as \`core.login\` builds them (openid 28 chars, session_key 24, unionid on half, \`data: {}\`, three timestamps, 43-char ids); heap measured after full GCs before the store existed and after (\`node --expose-gc --import tsx bench/heap.ts\`).`,
    '',
  );
  md.push('| | bytes |', '|---|---:|');
  md.push(`| per session, total | **${heap.bytesPerSession}** |`);
  md.push(`| of which JS heap (heapUsed) | ${heap.heapUsedPerSession} |`);
  md.push(`| of which lru-cache typed arrays (arrayBuffers) | ${heap.arrayBuffersPerSession} |`);
  md.push(
    `| core's verified-token LRU, per entry (separate; bounded at ${fmt(heap.verifiedLru.entries)} entries = ${fmt(heap.verifiedLru.totalBytes / 1048576, 2)} MiB at most, whatever the session count) | ${heap.verifiedLru.bytesPerEntry} |`,
  );
  md.push('');

  md.push('## Upstream calls with checkSessionKey on', '');
  md.push(
    `${fmt(upstream.requests)} \`core.authenticate\` calls over ${upstream.sessions} sessions, ${upstream.concurrency} at a time, in process against the mock (\`bench/upstream.ts\`); the ${upstream.sessions} logins before are not counted.`,
    '',
  );
  md.push('| scenario | checksession | stable_token | code2Session | upstream calls per 10k requests |', '|---|---:|---:|---:|---:|');
  for (const s of upstream.scenarios) md.push(`| ${s.scenario} | ${s.checksession} | ${s.stableToken} | ${s.code2Session} | ${s.perTenThousand.total} |`);
  md.push('');

  md.push('## Targets', '');
  md.push('| what | target | measured | result |', '|---|---|---|---|');
  for (const v of verdicts) md.push(`| ${v.what} | ${v.target} | ${v.measured} | ${v.met ? 'met' : '**MISSED**'}: ${v.note} |`);
  md.push('');
  if (notes.length) md.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');

  if (profileReports.length) {
    md.push('## Profiles', '');
    md.push(
      `For each missed target, the variant and its baseline ran in fresh server children under the V8 CPU profiler (started by SIGUSR2 after a 1.5 s warmup, sampling every 200 µs, ${PROFILE_DURATION} s of the same load). Times are the server's busy main-thread CPU divided by the requests answered during the profile; idle excluded. "(native...)" is time in C++/syscalls with no JS frame (socket writes, mostly).`,
      '',
      ...profileReports,
    );
  }

  md.push('## Raw runs', '');
  md.push('Each cell: req/s · server CPU µs per answer · cores used by other processes on the machine during the run.', '');
  md.push(`| variant | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`).join(' | ')} |`, `|---|${'---:|'.repeat(ROUNDS)}`);
  for (const spec of specs) {
    const row = Array.from({ length: ROUNDS }, (_, i) => {
      const s = samples.find((x) => x.variant === spec.name && x.round === i + 1);
      if (!s) return '';
      return `${fmt(s.rps)} · ${s.cpuUsPerReq?.toFixed(0) ?? '?'} · ${s.otherCpu?.toFixed(2) ?? '?'}${s.non2xx || s.errors ? ` (${s.non2xx + s.errors} failed)` : ''}`;
    });
    md.push(`| ${spec.name} | ${row.join(' | ')} |`);
  }
  md.push('');
  const failures = perVariant.filter((v) => v.failures > 0);
  if (failures.length) md.push(`**Failed requests during the runs** (the numbers above are suspect): ${failures.map((v) => `${v.spec.name} ${v.failures}`).join(', ')}.`, '');

  writeFileSync(RESULTS_FILE, md.join('\n'));

  // ---- the console table
  const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
  const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
  console.log('');
  console.log(
    `${pad('variant', 19)} ${lpad('req/s', 8)} ${lpad('min–max', 15)} ${lpad('p99 ms', 6)} ${lpad('srvCPU', 6)} ${lpad('other', 5)} ${lpad('µs/req', 6)}  ${pad('vs', 13)} ${lpad('ratio', 6)} ${lpad('min–max', 12)} ${lpad('cpu-r', 6)}  target`,
  );
  for (const v of perVariant) {
    const verdict = verdicts.find((x) => x.variant === v.spec.name);
    console.log(
      `${pad(v.spec.name, 19)} ${lpad(fmt(v.rps.median), 8)} ${lpad(`${fmt(v.rps.min)}–${fmt(v.rps.max)}`, 15)} ${lpad(String(v.p99), 6)} ${lpad(v.serverCpu?.toFixed(2) ?? '?', 6)} ${lpad(v.otherCpu?.toFixed(2) ?? '?', 5)} ${lpad(v.cpuUsPerReq?.toFixed(1) ?? '?', 6)}  ${pad(v.spec.baseline ?? '', 13)} ${lpad(v.ratio ? v.ratio.median.toFixed(3) : '', 6)} ${lpad(v.ratio ? `${v.ratio.min.toFixed(2)}–${v.ratio.max.toFixed(2)}` : '', 12)} ${lpad(v.cpuRatio ? v.cpuRatio.median.toFixed(3) : '', 6)}  ${v.spec.target !== undefined ? `>=${v.spec.target.toFixed(2)} ${verdict?.met ? 'met' : 'MISSED'}` : ''}`,
    );
  }
  for (const c of comparisons) console.log(`${c.a} / ${c.b}: ${c.r.median.toFixed(3)} (${c.r.min.toFixed(3)}–${c.r.max.toFixed(3)})`);
  console.log(`heap: ${heap.bytesPerSession} bytes/session in MemoryStore (target <= 1024) ${heap.bytesPerSession <= 1024 ? 'met' : 'MISSED'}; verified-token LRU ${heap.verifiedLru.bytesPerEntry} B/entry, bounded`);
  for (const s of upstream.scenarios) console.log(`upstream, ${s.scenario}: ${s.perTenThousand.checksession} checksession + ${s.perTenThousand.stableToken} stable_token per 10k requests`);
  for (const v of verdicts.filter((x) => !x.met)) console.log(`MISSED ${v.what}: ${v.note}`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\nwrote ${relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
}

main()
  .then(
    () => cleanup(),
    async (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      await cleanup();
      process.exitCode = 1;
    },
  )
  .finally(() => {
    // Nothing of ours is left; do not wait for stray handles (keep-alive sockets of fetch).
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });
