// The authenticated `GET /me` on each framework, three ways (issue 17's "floor"):
//   - bare:  the route answers `{ openid }`, nothing in front;
//   - floor: one middleware reads `X-WX-Session` and looks the token up in a Map: what any
//            header-token design must do, and so the least a session check can cost;
//   - wx:    wx-session mounted as its docs say.
// Every way answers the same bytes. The benchmark (bench/) measures their speed, the hot-path
// test (test/hot-path.test.ts) counts what each does per request. The adapters are passed in:
// the benchmark loads the compiled library, the test the sources.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import type { WxSessionCore } from '../src/index.js';
import type { wxSession as WxExpress } from '../adapters/express.js';
import type { wxSession as WxKoa } from '../adapters/koa.js';
import type { wxSession as WxFastify } from '../adapters/fastify.js';
import type { wxSession as WxHono } from '../adapters/hono.js';

export const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono'] as const;
export type Framework = (typeof FRAMEWORKS)[number];
export type Way = 'bare' | 'floor' | 'wx';

/** The wx-session adapters, as the caller loaded them. */
export interface Adapters {
  express: typeof WxExpress;
  koa: typeof WxKoa;
  fastify: typeof WxFastify;
  hono: typeof WxHono;
}

export interface HotPathOptions {
  /** What bare and floor answer: `{ openid }`. */
  openid: string;
  /** The floor's sessions: token -> its player. */
  floor: ReadonlyMap<string, { openid: string }>;
  /** wx-session's core (wx only). */
  core?: WxSessionCore;
  adapters?: Adapters;
}

/** The floor's refusal, when the token is not in its Map. */
const NO_SESSION = '{"code":"WX_SESSION_MISSING"}';

type Player = { openid: string } | undefined;

const tokenOf = (headers: IncomingMessage['headers']) => headers['x-wx-session'] as string | undefined;

/** A token shaped like wx-session's (43 + '.' + 43 base64url characters), for the floor's Map. */
export function floorToken(): string {
  return `${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

/** A Hono app's fetch as a Node server, not yet listening: what @hono/node-server's serve() runs. */
export function honoNodeServer(fetch: Parameters<typeof getRequestListener>[0]): Server {
  return createServer(getRequestListener(fetch));
}

function needs<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`hot-path-apps: the wx way needs ${what}`);
  return value;
}

function expressServer(way: Way, o: HotPathOptions): Server {
  const app = express();
  if (way === 'wx') {
    const wx = needs(o.adapters, 'adapters').express(needs(o.core, 'a core'));
    app.use(wx);
    app.get('/me', wx.required, (req, res) => {
      res.json({ openid: req.wxSession!.openid });
    });
    return createServer(app);
  }
  if (way === 'floor') {
    app.use((req, res, next) => {
      const player = o.floor.get(tokenOf(req.headers) ?? '');
      if (player === undefined) {
        res.status(401).type('json').send(NO_SESSION);
        return;
      }
      (req as { player?: Player }).player = player;
      next();
    });
  }
  app.get('/me', (req, res) => {
    res.json({ openid: way === 'floor' ? (req as { player?: Player }).player!.openid : o.openid });
  });
  return createServer(app);
}

/** Koa without a router: the app routes by method and path itself, in every way. */
function koaServer(way: Way, o: HotPathOptions): Server {
  const app = new Koa();
  const isMe = (ctx: Koa.Context) => ctx.method === 'GET' && ctx.path === '/me';
  if (way === 'wx') {
    // As the floor refuses in its one middleware: `wx.required` in front of every route.
    const wx = needs(o.adapters, 'adapters').koa(needs(o.core, 'a core'));
    app.use(wx);
    app.use(wx.required);
    app.use((ctx, next) => {
      if (!isMe(ctx)) return next();
      ctx.body = { openid: ctx.state.wxSession!.openid };
    });
    return createServer(app.callback());
  }
  if (way === 'floor') {
    app.use((ctx, next) => {
      const player = o.floor.get(tokenOf(ctx.headers) ?? '');
      if (player === undefined) {
        ctx.status = 401;
        ctx.type = 'json';
        ctx.body = NO_SESSION;
        return;
      }
      ctx.state.player = player;
      return next();
    });
  }
  app.use((ctx, next) => {
    if (!isMe(ctx)) return next();
    ctx.body = { openid: way === 'floor' ? (ctx.state.player as { openid: string }).openid : o.openid };
  });
  return createServer(app.callback());
}

async function fastifyServer(way: Way, o: HotPathOptions): Promise<Server> {
  const app = Fastify();
  if (way === 'wx') {
    await app.register(needs(o.adapters, 'adapters').fastify, { core: needs(o.core, 'a core') });
    app.get('/me', { onRequest: app.wxSession.required }, async (request) => ({ openid: request.wxSession!.openid }));
  } else {
    if (way === 'floor') {
      app.decorateRequest('player', undefined);
      app.addHook('onRequest', (request, reply, done) => {
        const player = o.floor.get(tokenOf(request.headers) ?? '');
        if (player === undefined) {
          reply.code(401).type('application/json').send(NO_SESSION);
          return;
        }
        (request as unknown as { player: Player }).player = player;
        done();
      });
    }
    app.get('/me', async (request) => ({ openid: way === 'floor' ? (request as unknown as { player: Player }).player!.openid : o.openid }));
  }
  await app.ready();
  return app.server as Server;
}

/** Hono on @hono/node-server, as its serve() runs it. */
function honoServer(way: Way, o: HotPathOptions): Server {
  if (way === 'wx') {
    const wx = needs(o.adapters, 'adapters').hono(needs(o.core, 'a core'));
    const app = new Hono();
    app.use(wx);
    app.get('/me', wx.required, (c) => c.json({ openid: c.get('wxSession')!.openid }));
    return honoNodeServer(app.fetch);
  }
  const app = new Hono<{ Variables: { player: { openid: string } } }>();
  if (way === 'floor') {
    app.use((c, next) => {
      const incoming = (c.env as { incoming: IncomingMessage }).incoming;
      const player = o.floor.get(tokenOf(incoming.headers) ?? '');
      if (player === undefined) return Promise.resolve(c.body(NO_SESSION, 401, { 'Content-Type': 'application/json' }));
      c.set('player', player);
      return next();
    });
  }
  app.get('/me', (c) => c.json({ openid: way === 'floor' ? c.get('player').openid : o.openid }));
  return honoNodeServer(app.fetch);
}

/** The server of `framework` answering GET /me the `way` asked, not yet listening. */
export async function hotPathServer(framework: Framework, way: Way, options: HotPathOptions): Promise<Server> {
  switch (framework) {
    case 'express': return expressServer(way, options);
    case 'koa': return koaServer(way, options);
    case 'fastify': return fastifyServer(way, options);
    case 'hono': return honoServer(way, options);
  }
}

