// wx-session/koa: translates Koa contexts to the core and back. The answers themselves
// (statuses, headers, bodies) are built in src/http.ts.
import type { Context, Middleware, Next } from 'koa';
import { createWxSession, isWxSessionCore, type AuthResult, type ErrorCode, type WxSession, type WxSessionCore, type WxSessionCoreOptions } from '../src/index.js';
import {
  adapterOptions, authenticateHeaders, errorReply, failureReply, handleLogin, handleLogout, reissuedHeaders, rememberFailure, saveBeforeEnd, tokenFrom,
  type AdapterOptions, type Reply,
} from '../src/http.js';
import { WxSessionError } from '../src/errors.js';

declare module 'koa' {
  interface DefaultState {
    /** The WeChat session, when the request carried a valid token. */
    wxSession?: WxSession;
    /** Why there is no session (missing, invalid, expired token; store down...). */
    wxSessionError?: ErrorCode;
  }
}

export type { AdapterOptions };

export interface WxSessionKoaMiddleware extends Middleware {
  /** Answers POST with the login protocol; mount it on any route (e.g. @koa/router). */
  login: Middleware;
  /** Answers with 204 after destroying the token's session. */
  logout: Middleware;
  /** Sets `ctx.state.wxSession` when the token is valid; never answers. */
  authenticate: Middleware;
  /**
   * Unless the request has a session, answers why not with that code's status: 401 for a missing,
   * bad or expired token, 503 when the store failed, and a failed key refresh's own (400, 403,
   * 429, 500, 502, 504). Authenticates the request itself if nothing did yet.
   */
  required: Middleware;
  /**
   * Error middleware (`app.use(wx.errors)`, first): answers any WxSessionError thrown further
   * down with its table status, headers (`WWW-Authenticate`, `Retry-After`) and JSON body;
   * anything else is rethrown.
   */
  errors: Middleware;
  readonly core: WxSessionCore;
}

/** Authentication ran for this request: it always leaves one of the two set. */
function authenticated(ctx: Context): boolean {
  return ctx.state.wxSession !== undefined || ctx.state.wxSessionError !== undefined;
}

/** Sets what authentication found on `ctx.state`. */
function attach(ctx: Context, result: AuthResult): void {
  if (!result.session) {
    ctx.state.wxSessionError = result.code;
    rememberFailure(ctx.req, result);
    return;
  }
  const session = result.session;
  ctx.state.wxSession = session;
  if (result.token) ctx.set(reissuedHeaders(result.token));
  session.onDataUse(saveBeforeEnd, ctx.res);
}

function send(ctx: Context, reply: Reply): void {
  ctx.status = reply.status;
  ctx.set(reply.headers);
  ctx.body = reply.body === undefined ? null : reply.body;
}

export function wxSession(coreOrOptions: WxSessionCore | WxSessionCoreOptions, options: AdapterOptions = {}): WxSessionKoaMiddleware {
  const core = isWxSessionCore(coreOrOptions) ? coreOrOptions : createWxSession(coreOrOptions);
  const { loginPath, logoutPath, bodyTimeout } = adapterOptions(options);

  const login: Middleware = async (ctx) => {
    const parsedBody = (ctx.request as { body?: unknown }).body;
    send(ctx, await handleLogin(core, { parsedBody, req: ctx.req, bodyTimeout }));
  };

  const logout: Middleware = async (ctx) => {
    send(ctx, await handleLogout(core, ctx.headers));
  };

  // Not async: a request waits on nothing of ours unless the store does. A route that touches
  // `session.data` arms the save before Koa's answer goes out (saveBeforeEnd on ctx.res).
  const authenticate: Middleware = (ctx: Context, next: Next) => {
    if (authenticated(ctx)) return next();
    const result = authenticateHeaders(core, ctx.headers);
    if (result instanceof Promise) {
      return result.then((settled) => {
        attach(ctx, settled);
        return next();
      });
    }
    attach(ctx, result);
    return next();
  };

  const demand = (ctx: Context, next: Next) => {
    if (ctx.state.wxSession) return next();
    send(ctx, failureReply(ctx.req, ctx.state.wxSessionError, tokenFrom(ctx.headers)));
    return Promise.resolve();
  };

  const required: Middleware = (ctx: Context, next: Next) =>
    authenticated(ctx) ? demand(ctx, next) : authenticate(ctx, () => demand(ctx, next));

  const middleware = ((ctx: Context, next: Next) => {
    if (ctx.method === 'POST') {
      if (ctx.path === loginPath) return login(ctx, next);
      if (ctx.path === logoutPath) return logout(ctx, next);
    }
    return authenticate(ctx, next);
  }) as WxSessionKoaMiddleware;
  const errors: Middleware = async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof WxSessionError) || ctx.headerSent) throw error;
      send(ctx, errorReply(error, tokenFrom(ctx.headers)));
    }
  };

  return Object.assign(middleware, { login, logout, authenticate, required, errors, core });
}
