// wx-session/hono: a Hono 4 middleware translating Web Requests to the core and Responses back.
// The answers themselves (statuses, headers, bodies) are built in src/http.ts and src/http-web.ts.
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { createWxSession, isWxSessionCore, type AuthResult, type ErrorCode, type WxSession, type WxSessionCore, type WxSessionCoreOptions } from '../src/index.js';
import { WxSessionError } from '../src/errors.js';
import {
  adapterOptions, authenticateHeaders, errorReply, failureReply, handleLogout, reissuedHeaders, rememberFailure, saveFailureReply, tokenFrom,
  type AdapterOptions, type HeaderSource, type Reply,
} from '../src/http.js';
import { handleWebLogin, toResponse } from '../src/http-web.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The WeChat session, when the request carried a valid token. */
    wxSession: WxSession | undefined;
    /** Why there is no session (missing, invalid, expired token; store down...). */
    wxSessionError: ErrorCode | undefined;
  }
}

export type { AdapterOptions };

export interface WxSessionHonoMiddleware extends MiddlewareHandler {
  /** Answers POST with the login protocol; mount it on any route. */
  login: MiddlewareHandler;
  /** Answers with 204 after destroying the token's session. */
  logout: MiddlewareHandler;
  /** Sets `c.get('wxSession')` when the token is valid; never answers. */
  authenticate: MiddlewareHandler;
  /**
   * Unless the request has a session, answers why not with that code's status: 401 for a missing,
   * bad or expired token, 503 when the store failed, and a failed key refresh's own (400, 403,
   * 429, 500, 502, 504). Authenticates the request itself if nothing did yet.
   */
  required: MiddlewareHandler;
  /**
   * Error middleware (`app.use(wx.errors)`, first): answers any WxSessionError a route threw
   * (which Hono's error handler saw first) with its table status, headers and JSON body.
   */
  errors: MiddlewareHandler;
  readonly core: WxSessionCore;
}

/** Authentication ran for this request: it always leaves one of the two set. */
function authenticated(c: Context): boolean {
  return c.get('wxSession') !== undefined || c.get('wxSessionError') !== undefined;
}

/**
 * The request's headers. On @hono/node-server, Node's own header object (`c.env.incoming`): reading
 * `c.req.raw.headers` there builds a Web Headers copy of every header on each request, which cost
 * more than the whole session check. Elsewhere, the Web Request's.
 */
function headersOf(c: Context): HeaderSource {
  const incoming = (c.env as { incoming?: { headers?: IncomingHttpHeaders } } | undefined)?.incoming;
  return incoming?.headers ?? c.req.raw.headers;
}

/** Makes `reply` the answer, dropping what was there (Hono would merge the old headers in). */
function replace(c: Context, reply: Reply): void {
  c.res = undefined;
  c.res = toResponse(reply);
}

/** Adds headers to the route's answer, copying a Response whose headers are immutable (fetch's). */
function addHeaders(c: Context, headers: Record<string, string>): void {
  try {
    for (const name in headers) c.res.headers.set(name, headers[name]!);
  } catch {
    c.res = new Response(c.res.body, c.res);
    for (const name in headers) c.res.headers.set(name, headers[name]!);
  }
}

export function wxSession(coreOrOptions: WxSessionCore | WxSessionCoreOptions, options: AdapterOptions = {}): WxSessionHonoMiddleware {
  const core = isWxSessionCore(coreOrOptions) ? coreOrOptions : createWxSession(coreOrOptions);
  const { loginPath, logoutPath, bodyTimeout } = adapterOptions(options);

  const login: MiddlewareHandler = async (c) => toResponse(await handleWebLogin(core, c.req.raw, bodyTimeout));
  const logout: MiddlewareHandler = async (c) => toResponse(await handleLogout(core, headersOf(c)));

  /** With a session, the route runs first: then the re-issued token and the save of `data`. */
  const withSession = async (c: Context, next: Next, session: WxSession, token: string | undefined) => {
    await next();
    if (token) addHeaders(c, reissuedHeaders(token));
    const saving = session.saveChanges();
    if (!saving) return;
    try {
      await saving;
    } catch (error) {
      replace(c, saveFailureReply(error));
    }
  };
  const proceed = (c: Context, next: Next, result: AuthResult) => {
    if (result.session) {
      c.set('wxSession', result.session);
      return withSession(c, next, result.session, result.token);
    }
    c.set('wxSessionError', result.code);
    rememberFailure(c.req.raw, result);
    return next();
  };
  // Not async: a request without a session (or a store that answers at once) waits on nothing of ours.
  const authenticate: MiddlewareHandler = (c: Context, next: Next) => {
    if (authenticated(c)) return next();
    const result = authenticateHeaders(core, headersOf(c));
    return result instanceof Promise ? result.then((settled) => proceed(c, next, settled)) : proceed(c, next, result);
  };

  const demand = (c: Context, next: Next): Promise<void> => {
    if (c.get('wxSession')) return next();
    // Set, not returned: `required` may run inside `authenticate`, which returns nothing.
    replace(c, failureReply(c.req.raw, c.get('wxSessionError'), tokenFrom(headersOf(c))));
    return Promise.resolve();
  };
  const required: MiddlewareHandler = (c, next) => (authenticated(c) ? demand(c, next) : authenticate(c, () => demand(c, next)));

  const middleware = ((c: Context, next: Next) => {
    if (c.req.method === 'POST') {
      const path = c.req.path;
      if (path === loginPath) return login(c, next);
      if (path === logoutPath) return logout(c, next);
    }
    return authenticate(c, next);
  }) as WxSessionHonoMiddleware;
  const errors: MiddlewareHandler = async (c, next) => {
    await next();
    if (c.error instanceof WxSessionError) replace(c, errorReply(c.error, tokenFrom(headersOf(c))));
  };

  return Object.assign(middleware, { login, logout, authenticate, required, errors, core });
}
