// A small Express 5 game server using wx-session: WeChat login, a session-protected profile,
// and a score kept in the session. Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/express/server.ts
//
// `createApp` is exported so the tests and the `npm start` demo can run the same app.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import express, { type ErrorRequestHandler } from 'express';
import type { WxSessionOptions } from 'wx-session';
import { wxSession } from 'wx-session/express';

// The app's own fields in `session.data`, typed everywhere `req.wxSession.data` is used.
declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

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
