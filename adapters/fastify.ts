// wx-session/fastify: a Fastify 4/5 plugin translating requests to the core and back. The answers
// themselves (statuses, headers, bodies) are built in src/http.ts.
import type {
  FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteHandlerMethod,
} from 'fastify';
import { createWxSession, isWxSessionCore, type AuthResult, type ErrorCode, type WxSession, type WxSessionCore, type WxSessionCoreOptions } from '../src/index.js';
import { WxSessionError } from '../src/errors.js';
import {
  adapterOptions, authenticateHeaders, errorReply, failureReply, handleLogin, handleLogout, reissuedHeaders, rememberFailure, saveFailureReply, tokenFrom,
  type AdapterOptions, type Reply,
} from '../src/http.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The WeChat session, when the request carried a valid token (null otherwise). */
    wxSession: WxSession | null;
    /** Why there is no session (missing, invalid, expired token; store down...), or null. */
    wxSessionError: ErrorCode | null;
  }
  interface FastifyInstance {
    /** The pieces of wx-session for routes of your own. */
    wxSession: WxSessionFastify;
  }
}

export type { AdapterOptions };

/** A hook that fits `onRequest`, `preValidation` and `preHandler`. */
export type WxSessionHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

export interface WxSessionFastify {
  /**
   * A route handler answering the login protocol (`app.post('/game/login', app.wxSession.login)`):
   * it answers before Fastify parses the body, and reads the body itself. (Called from a handler
   * of your own instead, it takes the body Fastify parsed.)
   */
  login: RouteHandlerMethod;
  /** A route handler answering 204 after destroying the token's session (before any body is parsed). */
  logout: RouteHandlerMethod;
  /** Sets `request.wxSession` when the token is valid; never answers. The plugin runs it on every route. */
  authenticate: WxSessionHook;
  /**
   * A `preHandler`: unless the request has a session, answers why not with that code's status:
   * 401 for a missing, bad or expired token, 503 when the store failed, and a failed key
   * refresh's own (400, 403, 429, 500, 502, 504).
   */
  required: WxSessionHook;
  /**
   * An error handler (`errorHandler` of a route, or `setErrorHandler`): answers a WxSessionError,
   * and Fastify's body errors (too large: WX_PAYLOAD_TOO_LARGE; unparsable: WX_BAD_REQUEST), as
   * the error table does; anything else goes on to the next error handler.
   */
  errors: (error: unknown, request: FastifyRequest, reply: FastifyReply) => void;
  readonly core: WxSessionCore;
}

/** `{ core, ...adapterOptions }`, or the core's own options with the adapter's. */
export type WxSessionPluginOptions = AdapterOptions & ({ core: WxSessionCore } | WxSessionCoreOptions);

/** Marks the plugin's own routes, which the authenticating hook leaves alone. */
const OWN_ROUTE = 'wxSessionRoute';

function send(reply: FastifyReply, answer: Reply): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/** Authentication ran for this request: it always leaves one of the two set. */
function authenticated(request: FastifyRequest): boolean {
  return request.wxSession !== null || request.wxSessionError !== null;
}

/** Fastify's own body errors (its parsers, its bodyLimit) as the error table's. */
function tableError(error: unknown): WxSessionError | undefined {
  if (error instanceof WxSessionError) return error;
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new WxSessionError('WX_PAYLOAD_TOO_LARGE');
  // Fastify 4 throws secure-json-parse's SyntaxError for a `__proto__` key, with status 400.
  const parser = (typeof code === 'string' && code.startsWith('FST_ERR_CTP_')) || (error instanceof SyntaxError && statusCode === 400);
  return parser ? new WxSessionError('WX_BAD_REQUEST', { message: 'the request body could not be read as JSON' }) : undefined;
}

/**
 * An `onSend` hook: saves changed `session.data` before the answer goes out (docs/api.md,
 * "Adapters"); a failed save answers the store's error instead of the route's answer.
 */
function saveBeforeSend(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void): void {
  const saving = request.wxSession?.saveChanges();
  if (!saving) return done(null, payload);
  saving.then(() => done(null, payload), (error: unknown) => {
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
    const answer = saveFailureReply(error);
    reply.code(answer.status).headers({ ...answer.headers, 'content-type': 'application/json; charset=utf-8' });
    done(null, JSON.stringify(answer.body));
  });
}

function pieces(core: WxSessionCore, bodyTimeout: number): WxSessionFastify {
  const login: RouteHandlerMethod = (request, reply) =>
    handleLogin(core, { parsedBody: request.body, req: request.raw, bodyTimeout }).then((answer) => send(reply, answer));
  const logout: RouteHandlerMethod = (request, reply) => handleLogout(core, request.headers).then((answer) => send(reply, answer));

  const attach = (request: FastifyRequest, reply: FastifyReply, result: AuthResult) => {
    if (result.session) {
      request.wxSession = result.session;
      if (result.token) reply.headers(reissuedHeaders(result.token));
    } else {
      request.wxSessionError = result.code;
      rememberFailure(request.raw, result);
    }
  };
  const authenticate: WxSessionHook = (request, reply, done) => {
    if (authenticated(request)) return done();
    const result = authenticateHeaders(core, request.headers);
    if (!(result instanceof Promise)) {
      attach(request, reply, result);
      return done();
    }
    result.then((settled) => {
      attach(request, reply, settled);
      done();
    }, done);
  };
  const demand: WxSessionHook = (request, reply, done) => {
    if (request.wxSession !== null) return done();
    send(reply, failureReply(request.raw, request.wxSessionError ?? undefined, tokenFrom(request.headers)));
  };
  const required: WxSessionHook = (request, reply, done) => {
    if (authenticated(request)) return demand(request, reply, done);
    authenticate(request, reply, (error?: Error) => (error ? done(error) : demand(request, reply, done)));
  };
  const errors = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const known = tableError(error);
    if (!known) throw error;
    send(reply, errorReply(known, tokenFrom(request.headers)));
  };
  return { login, logout, authenticate, required, errors, core };
}

/**
 * Serves the login and logout routes, and authenticates every route of the app (the plugin is not
 * encapsulated). Any route whose handler is `wx.login` or `wx.logout`, the plugin's own and a
 * user's (`app.post('/game/login', app.wxSession.login)`), answers from an `onRequest` hook,
 * before Fastify parses a body: the login reads its body itself, under the same 8 KiB limit and
 * `bodyTimeout` as the Express and Koa adapters, so every body gets the same answer through every
 * adapter. (Fastify's JSON parser would answer an empty JSON body, a `__proto__` key or an
 * unknown content type with refusals of its own, where the error table says otherwise.)
 */
function setUp(app: FastifyInstance, options: WxSessionPluginOptions): void {
  const { loginPath, logoutPath, bodyTimeout, core: given, ...coreOptions } = options as AdapterOptions & { core?: WxSessionCore } & WxSessionCoreOptions;
  const core = isWxSessionCore(given) ? given : createWxSession(coreOptions);
  const settings = adapterOptions({ loginPath, logoutPath, bodyTimeout });
  const wx = pieces(core, settings.bodyTimeout);

  app.decorateRequest('wxSession', null);
  app.decorateRequest('wxSessionError', null);
  app.decorate('wxSession', wx);
  // routeOptions is built afresh on each read: look only on POSTs, where the own routes are.
  app.addHook('onRequest', (request, reply, next) =>
    request.method === 'POST' && request.routeOptions.config[OWN_ROUTE as never] ? next() : wx.authenticate(request, reply, next));
  app.addHook('onSend', saveBeforeSend);

  const early = {
    login: (request: FastifyRequest) => handleLogin(core, { parsedBody: undefined, req: request.raw, bodyTimeout: settings.bodyTimeout }),
    logout: (request: FastifyRequest) => handleLogout(core, request.headers),
  };
  app.addHook('onRoute', (route) => {
    const answer = route.handler === wx.login ? early.login : route.handler === wx.logout ? early.logout : undefined;
    if (!answer) return;
    const hook: WxSessionHook = (request, reply, next) => void answer(request).then((result) => send(reply, result), next);
    route.config = { ...(route.config as object), [OWN_ROUTE]: true };
    route.onRequest = [...[route.onRequest ?? []].flat(), hook] as typeof route.onRequest;
  });
  if (settings.loginPath !== false) app.post(settings.loginPath, wx.login);
  if (settings.logoutPath !== false) app.post(settings.logoutPath, wx.logout);
}

const plugin: FastifyPluginCallback<WxSessionPluginOptions> = (app, options, done) => {
  try {
    setUp(app, options);
  } catch (error) {
    // Bad options: `register` rejects with our TypeError (a throw here would be uncaught in avvio).
    return done(error as Error);
  }
  done();
};

/** What `fastify-plugin` sets, without depending on it: no encapsulation, a name, the versions served. */
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'wx-session',
  [Symbol.for('plugin-meta')]: { name: 'wx-session', fastify: '4.x || 5.x' },
});

export const wxSession = plugin;
export default plugin;
