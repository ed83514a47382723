// The same game server on Hono 4, served on Node by @hono/node-server, through the wx-session/hono
// middleware: WeChat login on the default /wx/* routes, a session-protected profile, a score kept
// in the session, the player's WeChat user storage written with a signed call, and the shop and
// phone binding of ../shop.ts. The game's own routes read a small JSON body with c.req.json(),
// under Hono's bodyLimit. Run it directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/hono/server.ts
//
// (add WX_OFFER_ID and WX_PAY_APPKEY, and WX_PAY_SANDBOX_APPKEY with WX_PAY_ENV=1, for the shop)
//
// It checks the AppID and AppSecret with WeChat before it listens (core.verify()): when WeChat
// refuses them it exits 1 with one line saying which one and what to do, e.g.
//   wx-session Hono example: AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...
//
// `createApp` is exported so the tests can run the same app.
import type { Server } from 'node:http';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { WxSessionError, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { wxSession } from 'wx-session/hono';
import { announce, listen, optionsFromEnv, runAsProgram, servesPayments, storageInput, verifiedCore, type AppSettings } from '../setup.js';
import { bindPhone, buy, NOT_CONFIGURED, readBalance, zoneOf, type ShopAnswer } from '../shop.js';

export { optionsFromEnv, verifiedCore, type AppSettings };

/** At most `maxSize` bytes of body, else 413 WX_PAYLOAD_TOO_LARGE (thrown, so wx.errors answers it). */
const limit = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new WxSessionError('WX_PAYLOAD_TOO_LARGE');
    },
  });

/** The request body as JSON, or 400 WX_BAD_REQUEST when it is not JSON. */
async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be JSON' });
  }
}

/** The query as Express and Koa give it: a parameter sent twice is an array (which the shop refuses). */
function queryOf(c: Context): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c.req.queries()).map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
}

/** The player's address, from the Node request @hono/node-server answers. */
const ipOf = (c: Context) => getConnInfo(c).remote.address ?? '';

/** The app, on a core (as main() makes it) or on the core's options (as the tests give). */
export function createApp(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): Hono {
  const app = new Hono();
  const payments = servesPayments(coreOrOptions, settings);
  // Hono hands every error a route throws to onError first, whose default prints it: a
  // WxSessionError is the game's ordinary answer (wx.errors below replies with it), not printed.
  app.onError((error, c) => {
    if (!(error instanceof WxSessionError)) console.error(error);
    return c.json({ code: 'INTERNAL_ERROR', message: 'internal error' }, 500);
  });
  const wx = wxSession(coreOrOptions);
  // First, so it sees what the routes throw: a WxSessionError is answered as wx-session answers
  // its own (the status of its code, WWW-Authenticate on a 401, Retry-After on a 429, the JSON body).
  app.use(wx.errors);
  // Serves POST /wx/login and POST /wx/logout, and sets c.get('wxSession') when a valid token came.
  app.use(wx);

  app.get('/health', (c) => c.json({ ok: true }));

  app.get('/me', wx.required, (c) => {
    const session = c.get('wxSession')!;
    return c.json({ openid: session.openid, data: session.data });
  });

  // wx.required comes first, so a request without a session is refused before its body is read.
  app.post('/me/score', wx.required, limit(1024), async (c) => {
    const score = ((await jsonBody(c)) as { score?: unknown } | null)?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      return c.json({ code: 'BAD_SCORE', message: 'score must be a whole number >= 0' }, 400);
    }
    // Saved to the session store by wx-session before the answer goes out.
    c.get('wxSession')!.data.score = score;
    return c.json({ score });
  });

  // Writes the player's WeChat user storage (mini-game set_user_storage): a call to WeChat signed
  // with the session's session_key, which never leaves the server. Answers 204; a WxSessionError
  // thrown here is answered by wx.errors: 400 WX_BAD_REQUEST for a bad key or value or a body that
  // is not JSON (before any call to WeChat), 401 WX_SESSION_KEY_EXPIRED when WeChat refused the key
  // (87009), 502/504 when WeChat failed. 2 KiB: a key and its value may take 1024 bytes, plus the JSON.
  app.post('/me/storage', wx.required, limit(2048), async (c) => {
    const { key, value } = storageInput(await jsonBody(c));
    await c.get('wxSession')!.setUserStorage([{ key, value: String(value) }]);
    return c.body(null, 204);
  });

  // The shop and the phone binding (../shop.ts): mini-game virtual payment and getuserphonenumber,
  // calls to WeChat made with the session's session_key. Without the payment option the payment
  // routes answer 501 PAYMENT_NOT_CONFIGURED (after the session check: 401 first).
  const reply = (c: Context, answer: ShopAnswer) => c.json(answer.body, answer.status as ContentfulStatusCode);
  const paymentsOn: MiddlewareHandler = async (c, next) => (payments ? next() : reply(c, NOT_CONFIGURED));
  app.get('/me/balance', wx.required, paymentsOn, async (c) => reply(c, await readBalance(c.get('wxSession')!, zoneOf(queryOf(c)), ipOf(c))));
  app.post('/me/buy', wx.required, paymentsOn, limit(1024), async (c) => reply(c, await buy(c.get('wxSession')!, await jsonBody(c), zoneOf(queryOf(c)), ipOf(c))));
  app.post('/me/phone', wx.required, limit(1024), async (c) => reply(c, await bindPhone(c.get('wxSession')!, await jsonBody(c))));
  return app;
}

/** Fails fast: a wrong credential stops the start with its reason, and the server never listens. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const options = optionsFromEnv(env);
  const app = createApp(await verifiedCore(options), { payments: servesPayments(options) });
  // A Node http.Server answering through app.fetch, not yet listening (serve() would listen at once).
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await listen(server, env);
  return announce('Hono', server, () => server.close());
}

runAsProgram(import.meta.url, 'Hono', main);
