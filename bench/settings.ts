// What `npm run bench` measures and how long: the BENCH_* settings (bench/README.md, "Settings")
// and the variants with their baselines and targets (bench/README.md, "Variants").
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = dirname(here);

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${raw}`);
  return value;
}

export const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5, 1));
export const DURATION = envNumber('BENCH_DURATION', 3, 1);
export const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
export const CONNECTIONS = Math.round(envNumber('BENCH_CONNECTIONS', 50, 1));
export const PIPELINING = 1;
export const PROFILE = (process.env.BENCH_PROFILE ?? 'auto').toLowerCase();
export const PROFILE_DURATION = envNumber('BENCH_PROFILE_DURATION', 6, 1);
export const RESULTS_FILE = process.env.BENCH_RESULTS ?? join(here, 'results.md');
export const OPENID = 'oBench0000000000000000000000'; // 28 characters, like a real openid
/** Where src/ and adapters/ are compiled with tsc (gitignored), what the server children load. */
export const LIB_DIR = join(here, '.tmp', 'lib');
export const PAUSE_MS = 300; // between runs: sockets closed, the server's GC caught up

export interface VariantSpec {
  name: string;
  group: 'express' | 'koa' | 'fastify' | 'hono' | 'login';
  kind: 'get' | 'login';
  /** Diagnostic: only run when named in BENCH_VARIANTS or with BENCH_EXTRA=1. */
  extra?: boolean;
  /** The variant this one is a ratio to (a wx-session variant's is its framework's floor). */
  baseline?: string;
  /** The least median ratio to the baseline that meets the target. */
  target?: number;
  /** More variants this one's per-round req/s ratio is reported to, without a target (a wx-session variant's bare app). */
  also?: string[];
  needsRedis?: boolean;
  describe: string;
}

/** Targets of wx-session against its framework's floor (bench/README.md, "Variants"). */
export const TARGET_MEMORY = 0.97;
export const TARGET_REDIS = 0.95;
export const TARGET_LOGIN = 0.95;
/** Heap targets, bytes (bench/heap.ts): per MemoryStore session, per entry of the core's verified-token LRU. */
export const HEAP_SESSION_TARGET = 512;
export const HEAP_VERIFIED_TARGET = 256;

type Framework = 'express' | 'koa' | 'fastify' | 'hono';

/** A framework's floor and its wx-session variants on both stores, with their baselines and targets. */
function floorAndWx(group: Framework, floor: string, wx: string): VariantSpec[] {
  const bare = `bare-${group}`;
  const stores = { memory: 'MemoryStore', redis: 'RedisStore with its default in-process cache' };
  return [
    { name: `floor-${group}`, group, kind: 'get', baseline: bare, describe: `${bare} plus ${floor}` },
    ...(['memory', 'redis'] as const).map(
      (store): VariantSpec => ({
        name: `wx-${group}-${store}`,
        group,
        kind: 'get',
        baseline: `floor-${group}`,
        target: store === 'memory' ? TARGET_MEMORY : TARGET_REDIS,
        also: [bare],
        ...(store === 'redis' ? { needsRedis: true } : {}),
        describe: `${wx}, on a ${stores[store]}`,
      }),
    ),
  ];
}

const FLOOR = 'ONE middleware: the x-wx-session token looked up in a Map<string, { openid }>, 401 {"code":"WX_SESSION_MISSING"} without it, else the entry handed to the route, which answers its { openid }';

const ALL_VARIANTS: VariantSpec[] = [
  { name: 'bare-express', group: 'express', kind: 'get', describe: 'Express 5, GET /me answers a constant { openid }, no auth' },
  ...floorAndWx('express', `${FLOOR} (app.use, the entry set on req)`, 'Express 5 + app.use(wxSession(core)), GET /me behind wx.required'),
  { name: 'express-session', group: 'express', kind: 'get', baseline: 'bare-express', describe: 'Express 5 + express-session (its MemoryStore), session cookie' },
  { name: 'bare-koa', group: 'koa', kind: 'get', describe: 'Koa 3, one app.use answering GET /me (method and path compared, no router) with a constant { openid }, 404 otherwise' },
  ...floorAndWx('koa', `${FLOOR} (app.use in front, the entry on ctx.state)`, 'Koa 3 + app.use(wxSession(core)), app.use(wx.required) in front of every route (as the floor refuses in its one middleware), then the app.use answering GET /me (no router)'),
  { name: 'koa-session', group: 'koa', kind: 'get', baseline: 'bare-koa', describe: 'Koa 3 + koa-session (signed cookie session), routes by method and path (no router)' },
  { name: 'bare-fastify', group: 'fastify', kind: 'get', describe: 'Fastify 5, GET /me answers a constant { openid }, no auth' },
  ...floorAndWx('fastify', `${FLOOR} (a global onRequest hook via app.addHook, the entry on a decorated request)`, 'Fastify 5 + app.register(wxSession, { core }), GET /me with app.wxSession.required as its onRequest hook'),
  { name: 'bare-hono', group: 'hono', kind: 'get', describe: 'Hono 4 on @hono/node-server, GET /me answers a constant { openid }, no auth' },
  ...floorAndWx('hono', `${FLOOR} (app.use, the header read from c.env.incoming as the adapter does, the entry set with c.set)`, 'Hono 4 on @hono/node-server + app.use(wxSession(core)), GET /me behind wx.required'),
  { name: 'bare-login', group: 'login', kind: 'login', describe: 'Express 5 + express.json(), POST /bare/login: one fetch to code2Session, answer' },
  { name: 'wx-login', group: 'login', kind: 'login', baseline: 'bare-login', target: TARGET_LOGIN, describe: 'Express 5 + express.json() + wxSession, POST /wx/login (code2Session, new session, signed token)' },
  { name: 'bare-express-mw', group: 'express', kind: 'get', baseline: 'bare-express', extra: true, describe: 'diagnostic: bare-express plus one no-op app.use layer (what a layer costs in Express 5)' },
  { name: 'bare-hono-mw', group: 'hono', kind: 'get', baseline: 'bare-hono', extra: true, describe: 'diagnostic: bare-hono plus one pass-through app.use (what a middleware costs in Hono on Node)' },
  { name: 'wx-express-route', group: 'express', kind: 'get', baseline: 'floor-express', also: ['bare-express'], extra: true, describe: 'diagnostic: Express 5, wx.required on the route only (no app.use(wx)), MemoryStore' },
];

/** The variants this run measures: BENCH_VARIANTS, else all but the diagnostics (unless BENCH_EXTRA=1). */
export function selectedVariants(): VariantSpec[] {
  const only = process.env.BENCH_VARIANTS?.split(',').map((s) => s.trim()).filter(Boolean);
  const extra = process.env.BENCH_EXTRA === '1';
  return ALL_VARIANTS.filter((v) => (only ? only.includes(v.name) : !v.extra || extra));
}

/** Side-by-side ratios that have no target: wx-session beside the classic session middlewares. */
export const COMPARISONS: Array<[string, string]> = [
  ['wx-express-memory', 'express-session'],
  ['wx-express-redis', 'express-session'],
  ['wx-koa-memory', 'koa-session'],
  ['wx-koa-redis', 'koa-session'],
];
