// The same game server on Koa 3 with @koa/router, mounting wx-session's pieces on routes of
// its own choosing (POST /game/login, POST /game/logout) instead of the default /wx/* paths.
// No body-parser dependency: the login route reads its own body, and /me/score reads a small
// JSON body itself. Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/koa/server.ts
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { createWxSession, type WxSessionOptions } from 'wx-session';
import { wxSession } from 'wx-session/koa';

declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

const SCORE_BODY_LIMIT = 1024;

/** The request body as JSON, at most SCORE_BODY_LIMIT bytes; undefined when it is not JSON. */
async function readJson(ctx: Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > SCORE_BODY_LIMIT) ctx.throw(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

export function createApp(options: WxSessionOptions): Koa {
  const app = new Koa();
  const router = new Router();
  const wx = wxSession(createWxSession(options));

  // Mountable pieces: each does one thing on the route you give it. `wx.required` authenticates
  // by itself, so no app.use(wx) is needed (add it to read ctx.state.wxSession on optional routes).
  router.post('/game/login', wx.login);
  router.post('/game/logout', wx.logout);

  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });

  router.get('/me', wx.required, (ctx) => {
    const session = ctx.state.wxSession!;
    ctx.body = { openid: session.openid, data: session.data };
  });

  router.post('/me/score', wx.required, async (ctx) => {
    const score = ((await readJson(ctx)) as { score?: unknown } | undefined)?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      ctx.status = 400;
      ctx.body = { code: 'BAD_SCORE', message: 'score must be a whole number >= 0' };
      return;
    }
    // Saved to the session store by wx-session once this handler returns.
    ctx.state.wxSession!.data.score = score;
    ctx.body = { score };
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
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
  const server = createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(env.PORT ?? 3000), () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  console.log(`wx-session Koa example listening on http://localhost:${port}`);
  process.once('SIGTERM', () => server.close());
  process.once('SIGINT', () => server.close());
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`wx-session Koa example: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
