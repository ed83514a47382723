// A small Express 5 game server using wx-session: WeChat login, a session-protected profile,
// a score kept in the session, and the player's WeChat user storage written with a signed call.
// Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/express/server.ts
//
// `createApp` is exported so the tests and the `npm start` demo can run the same app.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express, { type ErrorRequestHandler } from 'express';
import { WxSessionError, type WxSessionOptions } from 'wx-session';
import { wxSession } from 'wx-session/express';

// The app's own fields in `session.data`, typed everywhere `req.wxSession.data` is used.
declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

/** `{ key, value }` from a /me/storage body; the key's limits are checked by setUserStorage. */
function storageInput(body: unknown): { key: string; value: string | number | boolean } {
  const { key, value } = (body !== null && typeof body === 'object' ? body : {}) as { key?: unknown; value?: unknown };
  if (typeof key !== 'string') throw new WxSessionError('WX_BAD_REQUEST', { message: 'key must be a string' });
  if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'value must be a string, a number or a boolean' });
  }
  return { key, value };
}

/** Malformed JSON on /me/storage answers in wx-session's error format; other errors go on to onError. */
const jsonBodyRefused: ErrorRequestHandler = (error, _req, res, next) => {
  if (error?.expose && error.status === 400) res.status(400).json(new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be JSON {"key", "value"}' }).toJSON());
  else next(error);
};

export function createApp(options: WxSessionOptions): express.Express {
  const app = express();
  // Serves POST /wx/login and POST /wx/logout, and sets req.wxSession when a valid token came.
  const wx = wxSession(options);
  app.use(wx);

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/me', wx.required, (req, res) => {
    const session = req.wxSession!;
    res.json({ openid: session.openid, data: session.data });
  });

  // wx.required comes first, so a request without a session is refused before its body is read.
  app.post('/me/score', wx.required, express.json({ limit: '1kb' }), (req, res) => {
    const score: unknown = (req.body as { score?: unknown } | undefined)?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      res.status(400).json({ code: 'BAD_SCORE', message: 'score must be a whole number >= 0' });
      return;
    }
    // Saved to the session store by wx-session before the answer goes out.
    req.wxSession!.data.score = score;
    res.json({ score });
  });

  // Writes the player's WeChat user storage (mini-game set_user_storage): a call to WeChat signed
  // with the session's session_key, which never leaves the server. Answers 204, or the
  // WxSessionError as JSON: 400 WX_BAD_REQUEST for a bad key or value (before any call to
  // WeChat), 401 WX_SESSION_KEY_EXPIRED when WeChat refused the key (87009), 502/504 upstream.
  app.post('/me/storage', wx.required, express.json({ limit: '2kb' }), async (req: express.Request, res: express.Response, next: express.NextFunction) => {
    try {
      const { key, value } = storageInput(req.body);
      await req.wxSession!.setUserStorage([{ key, value: String(value) }]);
      res.status(204).end();
    } catch (err) {
      if (!(err instanceof WxSessionError)) return next(err);
      if (err.status === 401) res.set('WWW-Authenticate', 'Bearer realm="wx-session", error="invalid_token"');
      res.status(err.status).json(err.toJSON());
    }
  }, jsonBodyRefused);

  // express.json() errors (malformed JSON, body too large) are 4xx with `expose` set.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = error?.expose && typeof error.status === 'number' ? error.status : 500;
    if (status === 500) console.error(error);
    res.status(status).json(status === 500 ? { code: 'INTERNAL_ERROR', message: 'internal error' } : { code: 'BAD_REQUEST', message: String(error.message) });
  };
  app.use(onError);
  return app;
}

/** wx-session options from the environment; throws when one is missing. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): WxSessionOptions {
  const { WX_APPID, WX_APPSECRET, WX_SESSION_SECRET, WX_API_BASE } = env;
  if (!WX_APPID || !WX_APPSECRET || !WX_SESSION_SECRET) {
    throw new Error('set WX_APPID, WX_APPSECRET and WX_SESSION_SECRET (at least 32 characters)');
  }
  return {
    appId: WX_APPID,
    appSecret: WX_APPSECRET,
    secret: WX_SESSION_SECRET,
    ...(WX_API_BASE ? { apiBase: WX_API_BASE } : {}),
    logger: console, // warnings only; wx-session never hands a logger a secret
  };
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const app = createApp(optionsFromEnv(env));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(env.PORT ?? 3000), () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  console.log(`wx-session Express example listening on http://localhost:${port}`);
  process.once('SIGTERM', () => server.close());
  process.once('SIGINT', () => server.close());
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`wx-session Express example: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
