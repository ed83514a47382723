// A small app on every framework whose routes call the session helpers (storage, interactive data,
// checkKey, sign, decrypt, verifyRawData), on a RecordingStore and a capturing logger; and a core
// on a RecordingStore for tests without HTTP in front.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import Koa3 from 'koa';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import supertest from 'supertest';
import { createWxSession, WxSessionError, type WxSession, type WxSessionCore, type WxSessionOptions } from '../../src/index.js';
import { startMockWeChat, type MockWeChat } from '../../src/testing/index.js';
import { wxSession as expressSession } from '../../adapters/express.js';
import { wxSession as koaSession } from '../../adapters/koa.js';
import { wxSession as fastifyPlugin } from '../../adapters/fastify.js';
import { wxSession as honoSession } from '../../adapters/hono.js';
import { closeServer, coreOptions, listen, type AdapterName } from '../../harness/apps.js';
import * as nest11 from '../../harness/apps-nestjs.js';
import { captureLogger } from './keys.js';
import { RecordingStore } from './stores.js';

/**
 * Routes (all behind `wx.required`; JSON bodies read by the route itself):
 *   GET  /me                  -> { openid, data, userInfo }
 *   POST /me/coins            -> data.coins += 1
 *   POST /storage             { kvList }        -> session.setUserStorage(kvList)      -> { ok: true }
 *   POST /storage/remove      { keys }          -> session.removeUserStorage(keys)     -> { ok: true }
 *   POST /interactive         { kvList }        -> session.setUserInteractiveData(kvList) -> { ok: true }
 *   GET  /check                                 -> { valid: await session.checkKey() }
 *   POST /sign                { body }          -> { signature: session.sign(body) }
 *   POST /decrypt             { encryptedData, iv } -> { data: session.decrypt(...) }
 *   POST /raw                 { rawData, signature } -> { valid: session.verifyRawData(...) }
 * A WxSessionError thrown by a helper answers its status with `error.toJSON()`.
 */
async function action(route: string, session: WxSession, input: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  try {
    switch (route) {
      case 'GET /me':
        return { status: 200, body: { openid: session.openid, data: session.data, userInfo: session.userInfo ?? null } };
      case 'POST /me/coins': {
        const data = session.data as { coins?: number };
        data.coins = (data.coins ?? 0) + 1;
        return { status: 200, body: { coins: data.coins } };
      }
      case 'POST /storage':
        await session.setUserStorage(input.kvList as never);
        return { status: 200, body: { ok: true } };
      case 'POST /storage/remove':
        await session.removeUserStorage(input.keys as never);
        return { status: 200, body: { ok: true } };
      case 'POST /interactive':
        await session.setUserInteractiveData(input.kvList as never);
        return { status: 200, body: { ok: true } };
      case 'GET /check':
        return { status: 200, body: { valid: await session.checkKey() } };
      case 'POST /sign':
        return { status: 200, body: { signature: session.sign(input.body as string) } };
      case 'POST /decrypt':
        return { status: 200, body: { data: session.decrypt(input.encryptedData as string, input.iv as string) } };
      case 'POST /raw':
        return { status: 200, body: { valid: session.verifyRawData(input.rawData as string, input.signature as string) } };
      default:
        return { status: 404, body: { error: 'no route' } };
    }
  } catch (error) {
    if (error instanceof WxSessionError) return { status: error.status, body: error.toJSON() };
    throw error;
  }
}

const ROUTES = new Set(['GET /me', 'POST /me/coins', 'POST /storage', 'POST /storage/remove', 'POST /interactive', 'GET /check', 'POST /sign', 'POST /decrypt', 'POST /raw']);

async function readJson(stream: AsyncIterable<unknown>): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return parseJson(Buffer.concat(chunks).toString('utf8'));
}

const parseJson = (text: string): Record<string, unknown> => (text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>));

/** Fastify parses JSON bodies itself: the routes take what it parsed. */
async function startFastify(name: 'fastify5' | 'fastify4', core: WxSessionCore): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const app = ((name === 'fastify5' ? fastify5 : fastify4) as unknown as typeof fastify5)({ forceCloseConnections: true });
  await app.register(fastifyPlugin, { core });
  for (const route of ROUTES) {
    const [method, url] = route.split(' ') as ['GET' | 'POST', string];
    app.route({
      method, url, preHandler: app.wxSession.required,
      handler: async (request, reply) => {
        const { status, body } = await action(route, request.wxSession!, (request.body ?? {}) as Record<string, unknown>);
        return reply.code(status).send(body);
      },
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { server: app.server, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** Nest parses JSON bodies itself (on either platform): the routes take what it parsed. */
async function startNestKeys(name: AdapterName, core: WxSessionCore) {
  const { routesController, startNest } = name.startsWith('nest10') ? await nest11.nest10() : nest11;
  const routes = [...ROUTES].map((route) => {
    const [method, path] = route.split(' ') as ['GET' | 'POST', string];
    return { method, path, session: true, run: (req: { wxSession: WxSession; body?: unknown }) => action(route, req.wxSession, (req.body ?? {}) as Record<string, unknown>) };
  });
  return startNest(name.endsWith('fastify') ? 'fastify' : 'express', [routesController(routes)], { core, guard: false });
}

function honoHandler(core: WxSessionCore): Parameters<typeof listen>[0] {
  const app = new Hono();
  const wx = honoSession(core);
  app.use(wx);
  for (const route of ROUTES) {
    const [method, url] = route.split(' ') as [string, string];
    app.on(method, url, wx.required, async (c) => {
      const { status, body } = await action(route, c.get('wxSession')!, parseJson(await c.req.text()));
      return c.json(body, status as 200);
    });
  }
  return getRequestListener(app.fetch);
}

/** express 4 and koa 2 ship without types; loaded through a variable so tsc does not ask for them. */
async function framework(name: AdapterName): Promise<unknown> {
  if (name === 'express5') return express5;
  if (name === 'koa3') return Koa3;
  const specifier: string = name; // 'express4' | 'koa2' (npm aliases)
  if (!/^(express4|koa2)$/.test(specifier)) throw new Error(`keys-app: ${name} is not an Express or Koa app`);
  return ((await import(specifier)) as { default: unknown }).default;
}

async function buildHandler(name: AdapterName, core: WxSessionCore): Promise<Parameters<typeof listen>[0]> {
  if (name === 'express5' || name === 'express4') {
    const express = (await framework(name)) as typeof express5;
    const app = express();
    const wx = expressSession(core);
    app.use(wx);
    app.use((req, res, next) => {
      const route = `${req.method} ${req.path}`;
      if (!ROUTES.has(route)) return next();
      wx.required(req, res, (error?: unknown) => {
        if (error) return next(error);
        readJson(req)
          .then((input) => action(route, req.wxSession!, input))
          .then(({ status, body }) => res.status(status).json(body), next);
      });
    });
    return app as unknown as Parameters<typeof listen>[0];
  }
  const Koa = (await framework(name)) as typeof Koa3;
  const app = new Koa();
  const wx = koaSession(core);
  app.use(wx);
  app.use(async (ctx, next) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (!ROUTES.has(route)) return next();
    await wx.required(ctx, async () => {
      const { status, body } = await action(route, ctx.state.wxSession!, await readJson(ctx.req));
      ctx.status = status;
      ctx.body = body;
    });
  });
  return app.callback();
}

async function serve(name: AdapterName, core: WxSessionCore) {
  const { server, url } = await listen(name === 'hono' ? honoHandler(core) : await buildHandler(name, core));
  return { server, url, close: () => closeServer(server) };
}

export interface KeysApp {
  name: AdapterName;
  url: string;
  http: ReturnType<typeof supertest>;
  core: WxSessionCore;
  mock: MockWeChat;
  store: RecordingStore;
  logger: ReturnType<typeof captureLogger>;
  /** Logs in `openid` through POST /wx/login; returns the token. */
  login(openid: string): Promise<string>;
  close(): Promise<void>;
}

export interface KeysAppOptions {
  core?: Partial<WxSessionOptions>;
  /** Reuse a running mock (not closed by close()). */
  mock?: MockWeChat;
}

/** A real HTTP server running `name` with wxSession(core) and the helper routes above. */
export async function startKeysApp(name: AdapterName, options: KeysAppOptions = {}): Promise<KeysApp> {
  const mock = options.mock ?? (await startMockWeChat());
  const store = new RecordingStore();
  const logger = captureLogger();
  const core = createWxSession(coreOptions(mock, { store, logger, ...options.core }));
  const { url, close } = name === 'fastify5' || name === 'fastify4'
    ? await startFastify(name, core)
    : name.startsWith('nest') ? await startNestKeys(name, core) : await serve(name, core);
  const http = supertest(url);
  return {
    name, url, http, core, mock, store, logger,
    async login(openid) {
      const res = await http.post('/wx/login').send({ code: mock.issueCode(openid) });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    async close() {
      await close();
      if (!options.mock) await mock.close();
    },
  };
}

/** A core on `mock` with a RecordingStore, for tests that drive sessions without HTTP in front. */
export function coreFor(mock: MockWeChat, extra: Partial<WxSessionOptions> = {}): { core: WxSessionCore; store: RecordingStore } {
  const store = new RecordingStore();
  return { core: createWxSession(coreOptions(mock, { store, ...extra })), store };
}

