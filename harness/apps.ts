// The same test app on every supported framework version (Express 5 and 4, Koa 3 and 2, Fastify 5
// and 4, Hono 4, NestJS 11 and 10 each on Express and on Fastify), each a real HTTP server on
// loopback in front of a real mock WeChat server; plus listen/closeServer for any handler, and the
// signing secrets the suites share. The Fastify, Hono and NestJS apps are in apps-fastify.ts,
// apps-hono.ts and apps-nestjs.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import supertest from 'supertest';
import { createWxSession, type WxSessionCore, type WxSessionOptions } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { wxSession as expressSession } from '../adapters/express.js';
import { wxSession as koaSession } from '../adapters/koa.js';
import type { AdapterOptions } from '../src/http.js';
import { answerPlayerRoute, jsonBody, playerRoute, playerRoutes } from './player-routes.js';
import { fastifyApp } from './apps-fastify.js';
import { honoApp } from './apps-hono.js';
import { nest10, nestApp } from './apps-nestjs.js';

export const SECRET = 'test-signing-secret-0123456789abcdef';
export const OLD_SECRET = 'old-signing-secret-0123456789abcdef';

export const adapters = ['express5', 'express4', 'koa3', 'koa2', 'fastify5', 'fastify4', 'hono', 'nest-express', 'nest-fastify', 'nest10-express', 'nest10-fastify'] as const;
export type AdapterName = (typeof adapters)[number];

export interface TestApp {
  name: AdapterName;
  url: string;
  /** supertest bound to the running server. */
  http: ReturnType<typeof supertest>;
  core: WxSessionCore;
  mock: MockWeChat;
  server: Server;
  /** Logs in a fresh (or given) openid through the app's login route; returns the answer body. */
  login(openid?: string, opts?: { unionid?: string }): Promise<{ token: string; openid: string; expiresIn: number; unionid?: string }>;
  close(): Promise<void>;
}

export interface StartOptions {
  core?: Partial<WxSessionOptions>;
  adapter?: AdapterOptions;
  /** Reuse a running mock instead of starting one (not closed by close()). */
  mock?: MockWeChat;
  /**
   * Mount express.json() / a JSON body reader before wx-session; on Fastify, log in through a
   * route behind Fastify's JSON parser (apps-fastify.ts); nothing on Hono, which has no parser, nor
   * on NestJS, whose login answers ahead of Nest's parser (apps-nestjs.ts).
   */
  bodyParser?: boolean;
}

/** The options a core needs to talk to `mock`. */
export function coreOptions(mock: MockWeChat, extra: Partial<WxSessionOptions> = {}): WxSessionOptions {
  return { appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url, timeout: 1000, ...extra };
}

/**
 * Routes every test app has, identical on every framework:
 *   GET  /me            required -> { openid, unionid, data }
 *   POST /me/coins      required -> data.coins += 1 -> { coins }
 *   GET  /me/json       required -> JSON.stringify(session) parsed back
 *   POST /me/destroy    required -> session.destroy() -> 204
 *   GET  /whoami        optional -> { session: boolean, openid, error }
 * and the routes of harness/player-routes.ts (the session_key's APIs and the virtual payment),
 * whose WxSessionErrors `wx.errors` answers.
 */
function expressApp(version: 'express5' | 'express4', core: WxSessionCore, options: StartOptions) {
  const express = (version === 'express5' ? express5 : express4) as typeof express5;
  const app = express();
  if (options.bodyParser) app.use(express.json());
  const wx = expressSession(core, options.adapter);
  app.use(wx);
  app.get('/me', wx.required, (req, res) => {
    const s = req.wxSession!;
    res.json({ openid: s.openid, unionid: s.unionid ?? null, data: s.data });
  });
  app.post('/me/coins', wx.required, (req, res) => {
    const data = req.wxSession!.data as { coins?: number };
    data.coins = (data.coins ?? 0) + 1;
    res.json({ coins: data.coins });
  });
  app.get('/me/json', wx.required, (req, res) => res.type('json').send(JSON.stringify(req.wxSession)));
  app.post('/me/destroy', wx.required, (req, res, next) => {
    req.wxSession!.destroy().then(() => res.status(204).end(), next);
  });
  app.get('/whoami', (req, res) => {
    res.json({ session: !!req.wxSession, openid: req.wxSession?.openid ?? null, error: req.wxSessionError ?? null });
  });
  for (const route of playerRoutes) {
    const handler: express5.RequestHandler = (req, res, next) => {
      // Express 4 does not catch a rejected handler: hand its error on to wx.errors.
      answerPlayerRoute(route, core, req.wxSession!, req.query, req.ip ?? '', () => jsonBody(req, req.body)).then(({ status, body }) => {
        if (body === undefined) res.status(status).end();
        else res.status(status).json(body);
      }, next);
    };
    const stack = route.session ? [wx.required, handler, wx.errors] : [handler, wx.errors];
    if (route.method === 'GET') app.get(route.path, ...stack);
    else app.post(route.path, ...stack);
  }
  return app;
}

function koaApp(version: 'koa3' | 'koa2', core: WxSessionCore, options: StartOptions) {
  const Koa = (version === 'koa3' ? Koa3 : Koa2) as typeof Koa3;
  const app = new Koa();
  if (options.bodyParser) {
    app.use(async (ctx, next) => {
      if (ctx.is('application/json')) {
        const chunks: Buffer[] = [];
        for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          (ctx.request as { body?: unknown }).body = text ? JSON.parse(text) : {};
        } catch {
          ctx.status = 400;
          ctx.body = { error: 'parser' };
          return;
        }
      }
      await next();
    });
  }
  const wx = koaSession(core, options.adapter);
  app.use(wx);
  app.use(async (ctx, next) => {
    const route = `${ctx.method} ${ctx.path}`;
    const needs = route === 'GET /me' || route === 'POST /me/coins' || route === 'GET /me/json' || route === 'POST /me/destroy';
    if (!needs) return next();
    await wx.required(ctx, async () => {
      const s = ctx.state.wxSession!;
      if (route === 'GET /me') ctx.body = { openid: s.openid, unionid: s.unionid ?? null, data: s.data };
      else if (route === 'POST /me/coins') {
        const data = s.data as { coins?: number };
        data.coins = (data.coins ?? 0) + 1;
        ctx.body = { coins: data.coins };
      } else if (route === 'GET /me/json') {
        ctx.type = 'json';
        ctx.body = JSON.stringify(s);
      } else {
        await s.destroy();
        ctx.status = 204;
      }
    });
  });
  app.use(async (ctx, next) => {
    const route = playerRoute(ctx.method, ctx.path);
    if (!route) return next();
    await wx.errors(ctx, async () => {
      const answer = async () => {
        const parsed = (ctx.request as { body?: unknown }).body;
        const { status, body } = await answerPlayerRoute(route, core, ctx.state.wxSession!, ctx.query, ctx.ip, () => jsonBody(ctx.req, parsed));
        ctx.status = status;
        if (body !== undefined) ctx.body = body;
      };
      await (route.session ? wx.required(ctx, answer) : answer());
    });
  });
  app.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/whoami') {
      const s = ctx.state.wxSession;
      ctx.body = { session: !!s, openid: s?.openid ?? null, error: ctx.state.wxSessionError ?? null };
      return;
    }
    await next();
  });
  return app;
}

export function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** The app of `name` on `core`, listening on loopback, and how to stop it. */
export async function serve(name: AdapterName, core: WxSessionCore, options: StartOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  if (name === 'fastify5' || name === 'fastify4') return fastifyApp(name, core, options);
  if (name === 'hono') return honoApp(core, options);
  if (name === 'nest-express' || name === 'nest-fastify') return nestApp(name.slice(5) as 'express' | 'fastify', core, options);
  if (name === 'nest10-express' || name === 'nest10-fastify') return (await nest10()).nestApp(name.slice(7) as 'express' | 'fastify', core, options);
  const handler = name.startsWith('express')
    ? expressApp(name as 'express5' | 'express4', core, options)
    : koaApp(name as 'koa3' | 'koa2', core, options).callback();
  const { server, url } = await listen(handler as Parameters<typeof createServer>[1]);
  return { server, url, close: () => closeServer(server) };
}

export async function startApp(name: AdapterName, options: StartOptions = {}): Promise<TestApp> {
  const mock = options.mock ?? (await startMockWeChat());
  const core = createWxSession(coreOptions(mock, options.core));
  const { server, url, close } = await serve(name, core, options);
  const http = supertest(url);
  const loginPath = options.adapter?.loginPath || '/wx/login';
  return {
    name, url, http, core, mock, server,
    async login(openid, opts) {
      const code = mock.issueCode(openid, opts);
      const res = await http.post(loginPath).send({ code });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async close() {
      await close();
      if (!options.mock) await mock.close();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
