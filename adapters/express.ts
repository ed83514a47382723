// wx-session/express: translates Express requests to the core and back. The answers themselves
// (statuses, headers, bodies) are built in src/http.ts.
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { createWxSession, isWxSessionCore, type AuthResult, type ErrorCode, type WxSession, type WxSessionCore, type WxSessionCoreOptions } from '../src/index.js';
import { WxSessionError } from '../src/errors.js';
import {
  adapterOptions, authenticateHeaders, errorReply, failureReply, handleLogin, handleLogout, reissuedHeaders, rememberFailure, saveBeforeEnd, tokenFrom,
  type AdapterOptions, type Reply,
} from '../src/http.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The WeChat session, when the request carried a valid token. */
      wxSession?: WxSession;
      /** Why there is no session (missing, invalid, expired token; store down...). */
      wxSessionError?: ErrorCode;
    }
  }
}

export type { AdapterOptions };

export interface WxSessionMiddleware extends RequestHandler {
  /** Answers POST with the login protocol; mount it on any route. */
  login: RequestHandler;
  /** Answers with 204 after destroying the token's session. */
  logout: RequestHandler;
  /** Attaches `req.wxSession` when the token is valid; never answers. */
  authenticate: RequestHandler;
  /**
   * Unless the request has a session, answers why not with that code's status: 401 for a missing,
   * bad or expired token, 503 when the store failed, and a failed key refresh's own (400, 403,
   * 429, 500, 502, 504). Authenticates the request itself if nothing did yet.
   */
  required: RequestHandler;
  /**
   * An error handler (`app.use(wx.errors)`, last): answers any WxSessionError your routes pass to
   * `next` or throw with its table status, headers (`WWW-Authenticate`, `Retry-After`) and JSON
   * body; anything else goes on to the next error handler.
   */
  errors: ErrorRequestHandler;
  readonly core: WxSessionCore;
}

function send(res: Response, reply: Reply): void {
  res.statusCode = reply.status;
  for (const name in reply.headers) res.setHeader(name, reply.headers[name]!);
  if (reply.body === undefined) res.end();
  else res.json(reply.body);
}

/** Authentication ran for this request: it always leaves one of the two set. */
function authenticated(req: Request): boolean {
  return req.wxSession !== undefined || req.wxSessionError !== undefined;
}

export function wxSession(coreOrOptions: WxSessionCore | WxSessionCoreOptions, options: AdapterOptions = {}): WxSessionMiddleware {
  const core = isWxSessionCore(coreOrOptions) ? coreOrOptions : createWxSession(coreOrOptions);
  const { loginPath, logoutPath, bodyTimeout } = adapterOptions(options);

  const login: RequestHandler = (req, res, next) => {
    handleLogin(core, { parsedBody: req.body, req, bodyTimeout }).then((reply) => send(res, reply), next);
  };

  const logout: RequestHandler = (req, res, next) => {
    handleLogout(core, req.headers).then((reply) => send(res, reply), next);
  };

  const attach = (req: Request, res: Response, result: AuthResult) => {
    if (result.session) {
      const session = result.session;
      req.wxSession = session;
      if (result.token) res.set(reissuedHeaders(result.token));
      session.onDataUse(saveBeforeEnd, res);
    } else {
      req.wxSessionError = result.code;
      rememberFailure(req, result);
    }
  };

  const authenticate: RequestHandler = (req, res, next) => {
    if (authenticated(req)) return next();
    const result = authenticateHeaders(core, req.headers);
    if (!(result instanceof Promise)) {
      attach(req, res, result);
      return next();
    }
    result.then((settled) => {
      attach(req, res, settled);
      next();
    }, next);
  };

  const demand = (req: Request, res: Response, next: NextFunction) => {
    if (req.wxSession) return next();
    send(res, failureReply(req, req.wxSessionError, tokenFrom(req.headers)));
  };

  const required: RequestHandler = (req, res, next) => {
    if (authenticated(req)) return demand(req, res, next);
    authenticate(req, res, (error?: unknown) => (error ? next(error) : demand(req, res, next)));
  };

  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'POST') {
      if (req.path === loginPath) return login(req, res, next);
      if (req.path === logoutPath) return logout(req, res, next);
    }
    return authenticate(req, res, next);
  }) as WxSessionMiddleware;
  const errors: ErrorRequestHandler = (error, req, res, next) => {
    if (!(error instanceof WxSessionError) || res.headersSent) return next(error);
    send(res, errorReply(error, tokenFrom(req.headers)));
  };

  return Object.assign(middleware, { login, logout, authenticate, required, errors, core });
}
