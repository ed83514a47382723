// A small Express 5 game server using wx-session: WeChat login, a session-protected profile,
// a score kept in the session, the player's WeChat user storage written with a signed call, a
// shop on mini-game virtual payment and a phone-number binding (../shop.ts).
// Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/express/server.ts
//
// (add WX_OFFER_ID and WX_PAY_APPKEY, and WX_PAY_SANDBOX_APPKEY with WX_PAY_ENV=1, for the shop)
//
// One server for the same game on several platforms: add TT_APPID and TT_APPSECRET (Douyin) and/or
// QQ_APPID and QQ_APPSECRET (QQ), with or without WX_APPID; each login then names its game by
// `appId` in the body or the X-WX-AppId header (../setup.ts, docs/several-games.md).
//
// It checks the AppID and AppSecret with WeChat before it listens (core.verify()): when WeChat
// refuses them it exits 1 with one line saying which one and what to do, e.g.
//   wx-session Express example: AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...
//
// `createApp` is exported so the tests and the `npm start` demo can run the same app.
import { createServer, type Server } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { WxSessionError, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { wxSession } from 'wx-session/express';
import { announce, listen, optionsFromEnv, runAsProgram, servesPayments, storageInput, verifiedCore, type AppSettings } from '../setup.js';
import { bindPhone, buy, NOT_CONFIGURED, readBalance, zoneOf, type ShopAnswer } from '../shop.js';

export { optionsFromEnv, verifiedCore, type AppSettings };

// The app's own fields in `session.data`, typed everywhere `req.wxSession.data` is used.
declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

/** Malformed JSON on /me/storage is a WX_BAD_REQUEST, answered by wx.errors; other errors go on as they are. */
const jsonBodyRefused: ErrorRequestHandler = (error, _req, _res, next) => {
  next(error?.expose && error.status === 400 ? new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be JSON {"key", "value"}' }) : error);
};

/** The app, on a core (as main() makes it) or on the core's options (as the tests and the demo give). */
export function createApp(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): express.Express {
  const app = express();
  const payments = servesPayments(coreOrOptions, settings);
  // Serves POST /wx/login and POST /wx/logout, and sets req.wxSession when a valid token came.
  const wx = wxSession(coreOrOptions);
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
  // with the session's session_key, which never leaves the server. Answers 204; a WxSessionError
  // thrown here is answered by wx.errors below: 400 WX_BAD_REQUEST for a bad key or value, or a
  // body that is not JSON (jsonBodyRefused), before any call to WeChat; 401 WX_SESSION_KEY_EXPIRED
  // when WeChat refused the key (87009); 502/504 when WeChat failed. (Express 5 hands a rejected
  // handler's error to the error handlers.)
  app.post('/me/storage', wx.required, express.json({ limit: '2kb' }), async (req: express.Request, res: express.Response) => {
    const { key, value } = storageInput(req.body);
    await req.wxSession!.setUserStorage([{ key, value: String(value) }]);
    res.status(204).end();
  }, jsonBodyRefused);

  // The shop and the phone binding (../shop.ts): mini-game virtual payment and getuserphonenumber,
  // calls to WeChat made with the session's session_key. Without the payment option the payment
  // routes answer 501 PAYMENT_NOT_CONFIGURED.
  const reply = (res: express.Response, answer: ShopAnswer) => res.status(answer.status).json(answer.body);
  const userIp = (req: express.Request) => req.ip ?? req.socket.remoteAddress ?? '';
  const paymentsOn: express.RequestHandler = (_req, res, next) => (payments ? next() : reply(res, NOT_CONFIGURED));
  app.get('/me/balance', wx.required, paymentsOn, async (req: express.Request, res: express.Response) => {
    reply(res, await readBalance(req.wxSession!, zoneOf(req.query), userIp(req)));
  });
  app.post('/me/buy', wx.required, paymentsOn, express.json({ limit: '1kb' }), async (req: express.Request, res: express.Response) => {
    reply(res, await buy(req.wxSession!, req.body, zoneOf(req.query), userIp(req)));
  }, jsonBodyRefused);
  app.post('/me/phone', wx.required, express.json({ limit: '1kb' }), async (req: express.Request, res: express.Response) => {
    reply(res, await bindPhone(req.wxSession!, req.body));
  }, jsonBodyRefused);

  // Any WxSessionError from the routes, answered as wx-session answers its own: the status of
  // its code, WWW-Authenticate on a 401, Retry-After on a 429, the JSON body. Others go on.
  app.use(wx.errors);

  // express.json() errors (malformed JSON, body too large) are 4xx with `expose` set.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = error?.expose && typeof error.status === 'number' ? error.status : 500;
    if (status === 500) console.error(error);
    res.status(status).json(status === 500 ? { code: 'INTERNAL_ERROR', message: 'internal error' } : { code: 'BAD_REQUEST', message: String(error.message) });
  };
  app.use(onError);
  return app;
}

/** Fails fast: a wrong credential stops the start with its reason, and the server never listens. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const options = optionsFromEnv(env);
  const app = createApp(await verifiedCore(options), { payments: servesPayments(options) });
  const server = createServer(app);
  await listen(server, env);
  return announce('Express', server, () => server.close());
}

runAsProgram(import.meta.url, 'Express', main);
