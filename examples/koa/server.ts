// The same game server on Koa 3 with @koa/router, mounting wx-session's pieces on routes of
// its own choosing (POST /game/login, POST /game/logout) instead of the default /wx/* paths.
// No body-parser dependency: the login route reads its own body, and /me/score and /me/storage
// read a small JSON body themselves. The shop and the phone binding are ../shop.ts, as on Express.
// Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/koa/server.ts
//
// (add WX_OFFER_ID and WX_PAY_APPKEY, and WX_PAY_SANDBOX_APPKEY with WX_PAY_ENV=1, for the shop)
//
// One server for the same game on several platforms: add TT_APPID and TT_APPSECRET (Douyin) and/or
// QQ_APPID and QQ_APPSECRET (QQ), with or without WX_APPID; each login then names its game by
// `appId` in the body or the X-WX-AppId header (../setup.ts, docs/several-games.md).
//
// It checks the AppID and AppSecret with WeChat before it listens (core.verify()): when WeChat
// refuses them it exits 1 with one line saying which one and what to do, e.g.
//   wx-session Koa example: AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...
import { createServer, type Server } from 'node:http';
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import { WxSessionError, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { wxSession } from 'wx-session/koa';
import { announce, listen, optionsFromEnv, runAsProgram, servesPayments, storageInput, verifiedCore, type AppSettings } from '../setup.js';
import { bindPhone, buy, NOT_CONFIGURED, readBalance, zoneOf, type ShopAnswer } from '../shop.js';

export { optionsFromEnv, verifiedCore, type AppSettings };

declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

const SCORE_BODY_LIMIT = 1024;
/** A key and its value may take 1024 bytes (WeChat's limit), plus the JSON around them. */
const STORAGE_BODY_LIMIT = 2048;

/** The request body as JSON, at most `limit` bytes; undefined when it is not JSON. */
async function readJson(ctx: Context, limit = SCORE_BODY_LIMIT): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) ctx.throw(413, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A small JSON body, or WX_BAD_REQUEST when it is not JSON. */
async function jsonBody(ctx: Context): Promise<unknown> {
  const body = await readJson(ctx);
  if (body === undefined) throw new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be JSON' });
  return body;
}

/** The app, on a core (as main() makes it) or on the core's options (as the tests give). */
export function createApp(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): Koa {
  const app = new Koa();
  const payments = servesPayments(coreOrOptions, settings);
  const router = new Router();
  const wx = wxSession(coreOrOptions);
  // First, so it sees what the routes throw: a WxSessionError is answered as wx-session answers
  // its own (the status of its code, WWW-Authenticate on a 401, Retry-After on a 429, the JSON
  // body); anything else is rethrown to Koa.
  app.use(wx.errors);

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

  // Writes the player's WeChat user storage (mini-game set_user_storage): a call to WeChat signed
  // with the session's session_key, which never leaves the server. Answers 204; a WxSessionError
  // thrown here is answered by wx.errors: 400 WX_BAD_REQUEST for a bad key or value or a body that
  // is not JSON (before any call to WeChat), 401 WX_SESSION_KEY_EXPIRED when WeChat refused the key
  // (87009), 502/504 when WeChat failed.
  router.post('/me/storage', wx.required, async (ctx) => {
    const { key, value } = storageInput(await readJson(ctx, STORAGE_BODY_LIMIT));
    await ctx.state.wxSession!.setUserStorage([{ key, value: String(value) }]);
    ctx.status = 204;
  });

  // The shop and the phone binding (../shop.ts): mini-game virtual payment and getuserphonenumber,
  // calls to WeChat made with the session's session_key. Without the payment option the payment
  // routes answer 501 PAYMENT_NOT_CONFIGURED.
  const reply = (ctx: Context, answer: ShopAnswer) => {
    ctx.status = answer.status;
    ctx.body = answer.body;
  };
  const paymentsOn = async (ctx: Context, next: () => Promise<unknown>) => (payments ? next() : reply(ctx, NOT_CONFIGURED));
  router.get('/me/balance', wx.required, paymentsOn, async (ctx) => reply(ctx, await readBalance(ctx.state.wxSession!, zoneOf(ctx.query), ctx.ip)));
  router.post('/me/buy', wx.required, paymentsOn, async (ctx) => reply(ctx, await buy(ctx.state.wxSession!, await jsonBody(ctx), zoneOf(ctx.query), ctx.ip)));
  router.post('/me/phone', wx.required, async (ctx) => reply(ctx, await bindPhone(ctx.state.wxSession!, await jsonBody(ctx))));

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** Fails fast: a wrong credential stops the start with its reason, and the server never listens. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const options = optionsFromEnv(env);
  const app = createApp(await verifiedCore(options), { payments: servesPayments(options) });
  const server = createServer(app.callback());
  await listen(server, env);
  return announce('Koa', server, () => server.close());
}

runAsProgram(import.meta.url, 'Koa', main);
