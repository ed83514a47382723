// The Fastify and Hono variants of bench/server.ts (bench/README.md, "Variants"): bare Fastify 5
// and bare Hono 4 on @hono/node-server answering GET /me with a constant, and the same with
// wx-session mounted as its docs say (the plugin with `required` as an onRequest hook; app.use(wx)
// with wx.required on the route), on a MemoryStore. bench/server.ts starts what these build.
import type { Server } from 'node:http';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import type { WxSessionCore } from '../src/index.js';

/** What bench/server.ts hands over: the answer's openid, the compiled library, a core, its login. */
export interface BenchDeps {
  openid: string;
  /** The URL of a module of the compiled library (src/... or adapters/...). */
  lib(rel: string): string;
  /** A core on a fresh MemoryStore, with the throughput variants' options. */
  core(): WxSessionCore;
  /** Logs in once through the server's /wx/login; the token the load sends. */
  login(base: string): Promise<{ token: string }>;
}

/** A server not yet listening (bench/server.ts listens), and what its load needs. */
export interface BuiltServer {
  server: Server;
  prepare(base: string): Promise<{ token?: string }>;
}

const nothing = async () => ({});

/** Fastify's own http.Server, its routes ready: bench/server.ts calls listen on it. */
async function fastifyServer(app: ReturnType<typeof Fastify>): Promise<Server> {
  await app.ready();
  return app.server as Server;
}

async function bareFastify({ openid }: BenchDeps): Promise<BuiltServer> {
  const app = Fastify();
  app.get('/me', async () => ({ openid }));
  return { server: await fastifyServer(app), prepare: nothing };
}

async function wxFastify(deps: BenchDeps): Promise<BuiltServer> {
  const { wxSession } = (await import(deps.lib('adapters/fastify.js'))) as typeof import('../adapters/fastify.js');
  const app = Fastify();
  await app.register(wxSession, { core: deps.core() });
  app.get('/me', { onRequest: app.wxSession.required }, async (request) => ({ openid: request.wxSession!.openid }));
  return { server: await fastifyServer(app), prepare: deps.login };
}

/** With `noop`, one pass-through app.use in front (diagnostic: what a middleware costs in Hono). */
function bareHono({ openid }: BenchDeps, noop = false): BuiltServer {
  const app = new Hono();
  if (noop) app.use((_c, next) => next());
  app.get('/me', (c) => c.json({ openid }));
  return { server: honoServer(app), prepare: nothing };
}

async function wxHono(deps: BenchDeps): Promise<BuiltServer> {
  const { wxSession } = (await import(deps.lib('adapters/hono.js'))) as typeof import('../adapters/hono.js');
  const app = new Hono();
  const wx = wxSession(deps.core());
  app.use(wx);
  app.get('/me', wx.required, (c) => c.json({ openid: c.get('wxSession')!.openid }));
  return { server: honoServer(app), prepare: deps.login };
}

/** Hono on Node as @hono/node-server's serve() runs it, not yet listening. */
function honoServer(app: Hono): Server {
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

/** The builders by variant name, for bench/server.ts's BUILDERS. */
export function fastifyHonoBuilders(deps: BenchDeps): Record<string, () => Promise<BuiltServer> | BuiltServer> {
  return {
    'bare-fastify': () => bareFastify(deps),
    'wx-fastify-memory': () => wxFastify(deps),
    'bare-hono': () => bareHono(deps),
    'bare-hono-mw': () => bareHono(deps, true),
    'wx-hono-memory': () => wxHono(deps),
  };
}
