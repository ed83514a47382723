// wx-session/nestjs, the login and logout routes: served on the platform's own server (Express or
// Fastify) ahead of Nest's body parser, so that src/http.ts reads the login body under the same
// 8 KiB limit and `bodyTimeout` as every other adapter. Nest's parser would answer malformed JSON,
// an empty JSON body or an unknown content type with refusals of its own, where the error table
// says otherwise. Answers go out through Nest's HttpServer (`setHeader`, `reply`), as Nest's own do.
import type { IncomingMessage } from 'node:http';
import type { HttpServer } from '@nestjs/common';
import type { WxSessionCore } from '../src/index.js';
import { handleLogin, handleLogout, type Reply, type ResolvedAdapterOptions } from '../src/http.js';

/** Writes an answer of src/http.ts through the platform's response (Express `res`, Fastify `reply`). */
export function send(adapter: HttpServer, response: unknown, answer: Reply): void {
  for (const name in answer.headers) adapter.setHeader(response, name, answer.headers[name]!);
  adapter.reply(response, answer.body, answer.status);
}

/** How one of the routes answers a POST: `parsedBody` is what a parser in front left, if any. */
type RouteAnswer = (req: IncomingMessage, parsedBody: unknown) => Promise<Reply>;

type Next = (error?: unknown) => void;
interface Layer {
  name: string;
}
interface ExpressApp {
  use(handler: (req: IncomingMessage & { path: string; body?: unknown }, res: unknown, next: Next) => void): unknown;
  /** Express 5's router (Express 4 throws on `app.router`: read `_router` first). */
  router?: { stack: Layer[] };
  _router?: { stack: Layer[] };
}
interface FastifyApp {
  route(options: {
    method: 'POST';
    url: string;
    onRequest: (request: { raw: IncomingMessage }, reply: unknown, done: Next) => void;
    handler: () => void;
  }): unknown;
}

const PARSERS = new Set(['jsonParser', 'urlencodedParser', 'rawParser', 'textParser']);

/**
 * Where the routes' layer goes in an Express stack: before the first body parser (Nest adds its
 * own at `init`, before the modules' `onModuleInit`); else after Express 4's `query` and
 * `expressInit` layers, ahead of Nest's routes and its catch-all 404 layer.
 */
function frontOf(stack: Layer[]): number {
  const parser = stack.findIndex((layer) => PARSERS.has(layer.name));
  if (parser >= 0) return parser;
  const first = stack.findIndex((layer) => layer.name !== 'query' && layer.name !== 'expressInit');
  return first < 0 ? stack.length : first;
}

function onExpress(adapter: HttpServer, app: ExpressApp, routes: Map<string, RouteAnswer>): void {
  app.use(function wxSessionRoutes(req, res, next) {
    const answer = req.method === 'POST' ? routes.get(req.path) : undefined;
    if (!answer) return next();
    answer(req, req.body).then((reply) => send(adapter, res, reply), next);
  });
  const stack = (app._router ?? app.router)!.stack;
  stack.splice(frontOf(stack), 0, stack.pop()!);
}

/** Each route answers from its `onRequest` hook, before Fastify parses (or refuses) a body. */
function onFastify(adapter: HttpServer, app: FastifyApp, routes: Map<string, RouteAnswer>): void {
  for (const [url, answer] of routes) {
    app.route({
      method: 'POST',
      url,
      onRequest: (request, reply, done) => void answer(request.raw, undefined).then((result) => send(adapter, reply, result), done),
      handler: () => {},
    });
  }
}

/**
 * Serves POST loginPath and logoutPath on the app's HTTP server. The paths are the server's own,
 * outside Nest's router: a global prefix or versioning does not apply to them.
 */
export function serveRoutes(adapter: HttpServer, core: WxSessionCore, settings: ResolvedAdapterOptions): void {
  const routes = new Map<string, RouteAnswer>();
  const { loginPath, logoutPath, bodyTimeout } = settings;
  if (loginPath !== false) routes.set(loginPath, (req, parsedBody) => handleLogin(core, { parsedBody, req, bodyTimeout }));
  if (logoutPath !== false) routes.set(logoutPath, (req) => handleLogout(core, req.headers));
  if (routes.size === 0) return;
  const type = adapter.getType();
  if (type === 'express') onExpress(adapter, adapter.getInstance() as ExpressApp, routes);
  else if (type === 'fastify') onFastify(adapter, adapter.getInstance() as FastifyApp, routes);
  else throw new TypeError(`wx-session: the NestJS module serves its routes on the Express and Fastify platforms, not on '${type}'`);
}
