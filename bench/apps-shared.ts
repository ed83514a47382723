// What the benchmark apps of bench/apps-*.ts share (bench/README.md, "Variants"): the shape of a
// built app, the wx-session library as tsc compiled it, cores on a MemoryStore or a RedisStore,
// the logins that give the load its token or cookie, and the floor's sessions.
//
// The floor (floor-express, floor-koa, floor-fastify, floor-hono; the apps are
// harness/hot-path-apps.ts) is the bare app plus ONE middleware doing only what any header-token
// session must: read `x-wx-session`, look the token up in a Map, answer 401 without it, else hand
// the entry to the route. It reads the header where wx-session's adapters do (Node's own header
// object), so the difference between the two is wx-session's own work.
import type { Server } from 'node:http';
import { floorToken } from '../harness/hot-path-apps.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SessionStore, WxSessionCore, WxSessionOptions } from '../src/index.js';

/** The store under wx-session in a wx-<framework>-<store> variant. */
export type StoreKind = 'memory' | 'redis';

/** A server not yet listening (bench/server.ts listens), what its load needs, how to close its store. */
export interface Built {
  server: Server;
  /** What the requests of the load need, found once the server listens. */
  prepare(base: string): Promise<{ token?: string; cookie?: string }>;
  close?(): Promise<void>;
}

export type Builders = Record<string, () => Built | Promise<Built>>;

/** What the builders take from bench/server.ts's environment. */
export interface BenchDeps {
  /** What the bare and cookie variants answer (28 characters, like a real openid). */
  openid: string;
  /** The signing secret of wx-session and of the cookie sessions. */
  secret: string;
  /** The URL of a module of the compiled library (src/... or adapters/...). */
  lib(rel: string): string;
  /** An environment variable this variant cannot run without. */
  need(name: string): string;
  /** A core with the throughput variants' options on a fresh store, and how to close the store. */
  core(kind: StoreKind): Promise<{ core: WxSessionCore; close?: () => Promise<void> }>;
  /** Logs in once through the server's /wx/login with LOGIN_CODE: the token the load sends. */
  wxLogin(base: string): Promise<{ token: string }>;
  /** POST /login on a cookie-session app: the cookie the load sends. */
  cookieLogin(base: string): Promise<{ cookie: string }>;
}

export const nothing = async (): Promise<Record<string, never>> => ({});

// ---------------------------------------------------------------------------------------------
// The floor

/**
 * The floor's sessions: a Map from token to player, and a `prepare` that puts one token in it.
 * The token has wx-session's shape (43 random base64url characters, '.', 43 more: 87 in all), so
 * the load sends a header of the same size.
 */
export function floorSessions(openid: string): { sessions: Map<string, { openid: string }>; prepare: () => Promise<{ token: string }> } {
  const sessions = new Map<string, { openid: string }>();
  const prepare = async () => {
    const token = floorToken();
    sessions.set(token, { openid });
    return { token };
  };
  return { sessions, prepare };
}

// ---------------------------------------------------------------------------------------------
// The library and its cores

const SECRET = 'bench-secret-bench-secret-bench-secret!';

/**
 * The dependencies, wx-session loaded from `libDir` (BENCH_LIB_DIR: the tsc output of src/ and
 * adapters/ that bench/run.ts compiles first, what users run). Without it, from the sources
 * through tsx, which is not the same code: tsx compiles with esbuild's keepNames, adding a
 * `__name(fn, "...")` call for every named function expression made per request.
 */
export async function benchDeps(env: NodeJS.ProcessEnv, variant: string): Promise<BenchDeps> {
  const libDir = env.BENCH_LIB_DIR;
  const lib = (rel: string) => (libDir ? pathToFileURL(join(libDir, rel)).href : new URL(`../${rel}`, import.meta.url).href);
  const { createWxSession, MemoryStore } = (await import(lib('src/index.js'))) as typeof import('../src/index.js');
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`bench/server: ${name} is required for ${variant}`);
    return value;
  };
  const options = (store: SessionStore): WxSessionOptions => ({
    appId: need('APP_ID'),
    appSecret: need('APP_SECRET'),
    apiBase: need('MOCK_URL'),
    secret: SECRET,
    store,
    // The throughput variants measure the hot path alone: no checkSessionKey call in the loop
    // (bench/upstream.ts counts what checkSessionKey costs upstream).
    checkSessionKey: false,
  });
  const core = async (kind: StoreKind) => {
    const { store, close } = kind === 'redis' ? await redisStore(lib, need('REDIS_URL')) : { store: new MemoryStore(), close: undefined };
    return { core: createWxSession(options(store)), close };
  };
  const wxLogin = (base: string) => loginFor(base, need('LOGIN_CODE'));
  return { openid: env.OPENID ?? 'oBench0000000000000000000000', secret: SECRET, lib, need, core, wxLogin, cookieLogin };
}

/** RedisStore with its default cache ({ max: 10000, ttl: 10000 }), once its pub/sub is up. */
async function redisStore(lib: (rel: string) => string, url: string): Promise<{ store: SessionStore; close: () => Promise<void> }> {
  const { Redis } = await import('ioredis');
  const { RedisStore } = (await import(lib('src/redis.js'))) as typeof import('../src/redis.js');
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const store = new RedisStore({ client });
  await client.ping();
  // Let the store's pub/sub subscription come up, so its in-process cache is in use.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const close = async () => {
    await store.close();
    client.disconnect();
  };
  return { store, close };
}

async function loginFor(base: string, code: string): Promise<{ token: string }> {
  const res = await fetch(`${base}/wx/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = (await res.json()) as { token?: string };
  if (res.status !== 200 || !body.token) throw new Error(`wx login answered ${res.status} ${JSON.stringify(body)}`);
  return { token: body.token };
}

async function cookieLogin(base: string): Promise<{ cookie: string }> {
  const res = await fetch(`${base}/login`, { method: 'POST' });
  await res.arrayBuffer();
  const cookies = res.headers.getSetCookie().map((line) => line.split(';')[0]!);
  if (res.status !== 200 || cookies.length === 0) throw new Error(`cookie login answered ${res.status} without a cookie`);
  return { cookie: cookies.join('; ') };
}
