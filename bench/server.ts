// One benchmark server: `VARIANT=<name> node --import tsx bench/server.ts`. Started by
// bench/children.ts, one child process per variant. It listens on a free port of 127.0.0.1, prepares what its
// requests need (a wx-session token, a session cookie), checks GET /me once, and prints one line:
//   {"ready":true,"port":N,"token"?:"...","cookie"?:"...","body":"<the /me answer>"}
// It exits when its stdin closes (the orchestrator went away, however it died) or on SIGTERM.
// With BENCH_PROFILE_FILE set, SIGUSR2 starts and stops a CPU profile (profileOnSignal).
//
// Environment: VARIANT; MOCK_URL, APP_ID, APP_SECRET (the mock WeChat, for every wx-* and login
// variant); LOGIN_CODE (a code issued by the orchestrator, for the wx-* GET variants);
// BENCH_LIB_DIR (the compiled library, see below); REDIS_URL (wx-express-redis); OPENID (what the bare and cookie variants answer);
// the Fastify and Hono apps are in bench/server-fastify-hono.ts.
// BENCH_PROFILE_FILE (where a SIGUSR2-started CPU profile is written).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import expressSession from 'express-session';
import Koa from 'koa';
import Router from '@koa/router';
import { createSession as koaSession } from 'koa-session';
import type { SessionStore, WxSessionOptions } from '../src/index.js';
import { fastifyHonoBuilders } from './server-fastify-hono.js';

// wx-session itself comes from BENCH_LIB_DIR, the tsc output of src/ and adapters/ that bench/run.ts
// compiles first: what users run. Without it, from the sources through tsx, which is not the
// same code: tsx compiles with esbuild's keepNames, adding a `__name(fn, "...")` call for every
// named function expression made per request (the Express adapter's res.end wrapper).
const libDir = process.env.BENCH_LIB_DIR;
const lib = (rel: string) => (libDir ? pathToFileURL(join(libDir, rel)).href : new URL(`../${rel}`, import.meta.url).href);
const { createWxSession, MemoryStore } = (await import(lib('src/index.js'))) as typeof import('../src/index.js');
const { wxSession: wxExpress } = (await import(lib('adapters/express.js'))) as typeof import('../adapters/express.js');
const { wxSession: wxKoa } = (await import(lib('adapters/koa.js'))) as typeof import('../adapters/koa.js');

declare module 'express-session' {
  interface SessionData {
    openid?: string;
  }
}

const SECRET = 'bench-secret-bench-secret-bench-secret!';
const env = process.env;
const variant = env.VARIANT ?? '';
// 28 characters, like a real openid: the bare and cookie variants answer the same bytes as wx-session.
const OPENID = env.OPENID ?? 'oBench0000000000000000000000';

function need(name: string): string {
  const value = env[name];
  if (!value) throw new Error(`bench/server: ${name} is required for ${variant}`);
  return value;
}

function coreOptions(store?: SessionStore): WxSessionOptions {
  return {
    appId: need('APP_ID'),
    appSecret: need('APP_SECRET'),
    apiBase: need('MOCK_URL'),
    secret: SECRET,
    store,
    // The throughput variants measure the hot path alone: no checkSessionKey call in the loop
    // (bench/upstream.ts counts what checkSessionKey costs upstream).
    checkSessionKey: false,
  };
}

interface Prepared {
  server: Server;
  /** What the requests of the load need, found once the server listens. */
  prepare(base: string): Promise<{ token?: string; cookie?: string }>;
  close?(): Promise<void>;
}

async function wxLogin(base: string): Promise<{ token: string }> {
  const res = await fetch(`${base}/wx/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: need('LOGIN_CODE') }),
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

/** Express 5 answering GET /me with a constant, optionally behind one no-op layer. */
function bareExpress(extraLayer: boolean): Prepared {
  const app = express();
  if (extraLayer) app.use((_req, _res, next) => next());
  app.get('/me', (_req, res) => {
    res.json({ openid: OPENID });
  });
  return { server: createServer(app), prepare: async () => ({}) };
}

/** wx.required on the route alone: wx.required authenticates by itself. */
function wxExpressRoute(): Prepared {
  const app = express();
  const wx = wxExpress(createWxSession(coreOptions(new MemoryStore())));
  app.post('/wx/login', wx.login);
  app.get('/me', wx.required, (req, res) => {
    res.json({ openid: req.wxSession!.openid });
  });
  return { server: createServer(app), prepare: wxLogin };
}

/** RedisStore with its default cache ({ max: 10000, ttl: 10000 }), once its pub/sub is up. */
async function redisStore(): Promise<{ store: SessionStore; close: () => Promise<void> }> {
  const { Redis } = await import('ioredis');
  const { RedisStore } = (await import(lib('src/redis.js'))) as typeof import('../src/redis.js');
  const client = new Redis(need('REDIS_URL'), { maxRetriesPerRequest: 1 });
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

async function wxExpressApp(onRedis: boolean): Promise<Prepared> {
  const { store, close } = onRedis ? await redisStore() : { store: new MemoryStore(), close: undefined };
  const app = express();
  const wx = wxExpress(createWxSession(coreOptions(store)));
  app.use(wx);
  app.get('/me', wx.required, (req, res) => {
    res.json({ openid: req.wxSession!.openid });
  });
  return { server: createServer(app), prepare: wxLogin, close };
}

function expressSessionApp(): Prepared {
  const app = express();
  // express-session's own MemoryStore (it warns that it is not for production: it is the baseline).
  app.use(expressSession({ secret: SECRET, resave: false, saveUninitialized: false }));
  app.post('/login', (req, res) => {
    req.session.openid = OPENID;
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    const openid = req.session.openid;
    if (!openid) {
      res.status(401).json({ code: 'NO_SESSION' });
      return;
    }
    res.json({ openid });
  });
  return { server: createServer(app), prepare: cookieLogin };
}

function bareKoa(): Prepared {
  const app = new Koa();
  const router = new Router();
  router.get('/me', (ctx) => {
    ctx.body = { openid: OPENID };
  });
  app.use(router.routes());
  return { server: createServer(app.callback()), prepare: async () => ({}) };
}

function wxKoaApp(): Prepared {
  const app = new Koa();
  const router = new Router();
  const wx = wxKoa(createWxSession(coreOptions(new MemoryStore())));
  app.use(wx);
  router.get('/me', wx.required, (ctx) => {
    ctx.body = { openid: ctx.state.wxSession!.openid };
  });
  app.use(router.routes());
  return { server: createServer(app.callback()), prepare: wxLogin };
}

function koaSessionApp(): Prepared {
  const app = new Koa();
  app.keys = [SECRET];
  const router = new Router();
  // Cookie-held session (no external store), signed: koa-session's defaults.
  app.use(koaSession({ signed: true }, app));
  router.post('/login', (ctx) => {
    ctx.session!.openid = OPENID;
    ctx.body = { ok: true };
  });
  router.get('/me', (ctx) => {
    const openid = ctx.session?.openid as string | undefined;
    if (!openid) {
      ctx.status = 401;
      ctx.body = { code: 'NO_SESSION' };
      return;
    }
    ctx.body = { openid };
  });
  app.use(router.routes());
  return { server: createServer(app.callback()), prepare: cookieLogin };
}

/**
 * The baseline of a login: read the JSON body, make the same one code2Session call with fetch,
 * answer. No session, no token, no timeout handling.
 */
function bareLogin(): Prepared {
  const mockUrl = need('MOCK_URL');
  const appId = need('APP_ID');
  const appSecret = need('APP_SECRET');
  const app = express();
  app.use(express.json());
  app.post('/bare/login', (req, res, next) => {
    const code = (req.body as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string') {
      res.status(400).json({ code: 'WX_CODE_MISSING' });
      return;
    }
    const query = new URLSearchParams({ appid: appId, secret: appSecret, js_code: code, grant_type: 'authorization_code' });
    fetch(`${mockUrl}/sns/jscode2session?${query.toString()}`)
      .then((upstream) => upstream.json() as Promise<Record<string, unknown>>)
      .then((answer) => {
        if (answer.errcode) {
          res.status(401).json({ code: 'WX_CODE_INVALID', errcode: answer.errcode });
          return;
        }
        // WeChat's answer as it came, less session_key (which never leaves a server).
        const { session_key: _key, ...rest } = answer;
        res.json(rest);
      })
      .catch(next);
  });
  return { server: createServer(app), prepare: async () => ({}) };
}

function wxLoginApp(): Prepared {
  const app = express();
  app.use(express.json()); // as in bare-login: the adapter then takes the parsed body
  app.use(wxExpress(createWxSession(coreOptions(new MemoryStore()))));
  return { server: createServer(app), prepare: async () => ({}) };
}

/** Every variant bench/settings.ts names, by name. */
const BUILDERS: Record<string, () => Prepared | Promise<Prepared>> = {
  'bare-express': () => bareExpress(false),
  'wx-express-memory': () => wxExpressApp(false),
  'wx-express-redis': () => wxExpressApp(true),
  'express-session': expressSessionApp,
  'bare-koa': bareKoa,
  'wx-koa-memory': wxKoaApp,
  'koa-session': koaSessionApp,
  'bare-login': bareLogin,
  'wx-login': wxLoginApp,
  // Fastify 5 and Hono 4 (bench/server-fastify-hono.ts), wx-session on a MemoryStore.
  ...fastifyHonoBuilders({ openid: OPENID, lib, core: () => createWxSession(coreOptions(new MemoryStore())), login: wxLogin }),
  // Diagnostics (not in the default run): what one more Express layer costs, and wx-session
  // mounted on the route alone.
  'bare-express-mw': () => bareExpress(true),
  'wx-express-route': wxExpressRoute,
};

async function build(): Promise<Prepared> {
  if (!Object.hasOwn(BUILDERS, variant)) throw new Error(`bench/server: unknown VARIANT ${variant} (one of ${Object.keys(BUILDERS).join(', ')})`);
  return BUILDERS[variant]!();
}

/** Closes the server (and the store) on SIGTERM, SIGINT or when stdin closes, then exits. */
function exitWhenTold({ server, close }: Prepared): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close();
    const done = () => process.exit(0);
    (close ? close() : Promise.resolve()).then(done, done);
    setTimeout(done, 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

/**
 * Profiling on demand (bench/profile.ts): SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2
 * stops it and writes `file`, so the profile covers the measured load only (no start-up). A line
 * `{"profiling":true}`, then `{"profiled":boolean}`, says each is done.
 */
async function profileOnSignal(file: string): Promise<void> {
  const inspector = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new inspector.Session();
  session.connect();
  let profiling = false;
  process.on('SIGUSR2', () => {
    if (!profiling) {
      profiling = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: 200 }, () =>
          session.post('Profiler.start', () => process.stdout.write('{"profiling":true}\n')),
        ),
      );
    } else {
      profiling = false;
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
        process.stdout.write(`${JSON.stringify({ profiled: !error })}\n`);
      });
    }
  });
}

async function main(): Promise<void> {
  const prepared = await build();
  const { server } = prepared;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  const extra = await prepared.prepare(base);

  let body: string | undefined;
  if (!variant.endsWith('-login')) {
    const headers: Record<string, string> = {};
    if (extra.token) headers['x-wx-session'] = extra.token;
    if (extra.cookie) headers.cookie = extra.cookie;
    const res = await fetch(`${base}/me`, { headers });
    body = await res.text();
    if (res.status !== 200) throw new Error(`GET /me answered ${res.status} ${body}`);
  }

  exitWhenTold(prepared);
  if (env.BENCH_PROFILE_FILE) await profileOnSignal(env.BENCH_PROFILE_FILE);
  process.stdout.write(`${JSON.stringify({ ready: true, variant, port, ...extra, body })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/server ${variant}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
