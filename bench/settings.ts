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
  { name: 'bare-fastify', group: 'fastify', kind: 'get', describe: 'Fastify 5, GET /me answers a constant { openid }, no auth' },
  { name: 'wx-fastify-memory', group: 'fastify', kind: 'get', baseline: 'bare-fastify', target: 0.9, describe: 'Fastify 5 + the wx-session plugin (MemoryStore), GET /me with app.wxSession.required as its onRequest hook' },
  { name: 'bare-hono', group: 'hono', kind: 'get', describe: 'Hono 4 on @hono/node-server, GET /me answers a constant { openid }, no auth' },
  { name: 'wx-hono-memory', group: 'hono', kind: 'get', baseline: 'bare-hono', target: 0.9, describe: 'Hono 4 on @hono/node-server + app.use(wxSession(core, MemoryStore)), GET /me behind wx.required' },
  { name: 'bare-login', group: 'login', kind: 'login', describe: 'Express 5 + express.json(), POST /bare/login: one fetch to code2Session, answer' },
  { name: 'wx-login', group: 'login', kind: 'login', baseline: 'bare-login', target: 0.9, describe: 'Express 5 + express.json() + wxSession, POST /wx/login (code2Session, new session, signed token)' },
  { name: 'bare-express-mw', group: 'express', kind: 'get', baseline: 'bare-express', extra: true, describe: 'diagnostic: bare-express plus one no-op app.use layer (what a layer costs in Express 5)' },
  { name: 'bare-hono-mw', group: 'hono', kind: 'get', baseline: 'bare-hono', extra: true, describe: 'diagnostic: bare-hono plus one pass-through app.use (what a middleware costs in Hono on Node)' },
  { name: 'wx-express-route', group: 'express', kind: 'get', baseline: 'bare-express', extra: true, describe: 'diagnostic: Express 5, wx.required on the route only (no app.use(wx)), MemoryStore' },
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
];
