// The same game server on Fastify 5 (or 4) through the wx-session/fastify plugin: WeChat login on
// the default /wx/* routes, a session-protected profile, a score kept in the session, the player's
// WeChat user storage written with a signed call, and the shop and phone binding of ../shop.ts.
// Fastify parses the JSON bodies of the game's own routes, under a bodyLimit per route. Run it
// directly with your app's credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/fastify/server.ts
//
// (add WX_OFFER_ID and WX_PAY_APPKEY, and WX_PAY_SANDBOX_APPKEY with WX_PAY_ENV=1, for the shop)
//
// It checks the AppID and AppSecret with WeChat before it listens (core.verify()): when WeChat
// refuses them it exits 1 with one line saying which one and what to do, e.g.
//   wx-session Fastify example: AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...
//
// `createApp` is exported so the tests can run the same app.
import type { Server } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type onRequestHookHandler } from 'fastify';
import { isWxSessionCore, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { wxSession } from 'wx-session/fastify';
import { announce, optionsFromEnv, runAsProgram, servesPayments, storageInput, verifiedCore, type AppSettings } from '../setup.js';
import { bindPhone, buy, NOT_CONFIGURED, readBalance, zoneOf, type ShopAnswer } from '../shop.js';

export { optionsFromEnv, verifiedCore, type AppSettings };

/**
 * The game's routes, registered after the wx-session plugin: its decorations (`app.wxSession`,
 * `request.wxSession`) are visible here because the plugin is not encapsulated.
 */
const gameRoutes: FastifyPluginAsync<{ payments: boolean }> = async (app, { payments }) => {
  const wx = app.wxSession;
  // A WxSessionError thrown by a route below, and Fastify's own body errors (not JSON: 400
  // WX_BAD_REQUEST; over bodyLimit: 413), answered as wx-session answers its own: the status of
  // its code, WWW-Authenticate on a 401, Retry-After on a 429, the JSON body. wx.errors throws
  // anything else on, to the root's handler (createApp).
  app.setErrorHandler(wx.errors);

  app.get('/health', async () => ({ ok: true }));

  // `required` as an onRequest hook (not a preHandler): a request without a session is refused
  // before Fastify reads its body, so a bad body gets 401 first, as on Express and Koa.
  app.get('/me', { onRequest: wx.required }, async (request) => {
    const session = request.wxSession!;
    return { openid: session.openid, data: session.data };
  });

  app.post('/me/score', { onRequest: wx.required, bodyLimit: 1024 }, async (request, reply) => {
    const score = (request.body as { score?: unknown } | null)?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      return reply.code(400).send({ code: 'BAD_SCORE', message: 'score must be a whole number >= 0' });
    }
    // Saved to the session store by wx-session before the answer goes out (its onSend hook).
    request.wxSession!.data.score = score;
    return { score };
  });

  // Writes the player's WeChat user storage (mini-game set_user_storage): a call to WeChat signed
  // with the session's session_key, which never leaves the server. Answers 204; a WxSessionError
  // thrown here is answered by wx.errors: 400 WX_BAD_REQUEST for a bad key or value (before any
  // call to WeChat), 401 WX_SESSION_KEY_EXPIRED when WeChat refused the key (87009), 502/504 when
  // WeChat failed. 2 KiB: a key and its value may take 1024 bytes (WeChat's limit), plus the JSON.
  app.post('/me/storage', { onRequest: wx.required, bodyLimit: 2048 }, async (request, reply) => {
    const { key, value } = storageInput(request.body);
    await request.wxSession!.setUserStorage([{ key, value: String(value) }]);
    return reply.code(204).send();
  });

  // The shop and the phone binding (../shop.ts): mini-game virtual payment and getuserphonenumber,
  // calls to WeChat made with the session's session_key. Without the payment option the payment
  // routes answer 501 PAYMENT_NOT_CONFIGURED (after the session check: 401 first).
  const send = (reply: FastifyReply, answer: ShopAnswer) => reply.code(answer.status).send(answer.body);
  const paymentsOn: onRequestHookHandler = (_request, reply, done) => (payments ? done() : void send(reply, NOT_CONFIGURED));
  const query = (request: { query: unknown }) => request.query as Record<string, unknown>;
  app.get('/me/balance', { onRequest: [wx.required, paymentsOn] }, async (request, reply) =>
    send(reply, await readBalance(request.wxSession!, zoneOf(query(request)), request.ip)));
  app.post('/me/buy', { onRequest: [wx.required, paymentsOn], bodyLimit: 1024 }, async (request, reply) =>
    send(reply, await buy(request.wxSession!, request.body, zoneOf(query(request)), request.ip)));
  app.post('/me/phone', { onRequest: wx.required, bodyLimit: 1024 }, async (request, reply) => send(reply, await bindPhone(request.wxSession!, request.body)));
};

/** The app, on a core (as main() makes it) or on the core's options (as the tests give). */
export function createApp(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): FastifyInstance {
  const app = Fastify();
  const payments = servesPayments(coreOrOptions, settings);
  // What wx.errors leaves: Fastify's other 4xx keep their status; anything else is a 500 that
  // says nothing of the error (printed here, on the server).
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) console.error(error);
    return reply.code(status).send(status === 500 ? { code: 'INTERNAL_ERROR', message: 'internal error' } : { code: 'BAD_REQUEST', message: error.message });
  });
  // Serves POST /wx/login and POST /wx/logout, and sets request.wxSession when a valid token came.
  app.register(wxSession, isWxSessionCore(coreOrOptions) ? { core: coreOrOptions } : coreOrOptions);
  app.register(gameRoutes, { payments });
  return app;
}

/** Fails fast: a wrong credential stops the start with its reason, and the server never listens. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const options = optionsFromEnv(env);
  const app = createApp(await verifiedCore(options), { payments: servesPayments(options) });
  // '::' is every address, IPv4 too (Fastify's default would be loopback only).
  await app.listen({ port: Number(env.PORT ?? 3000), host: '::' });
  const server = app.server as Server;
  return announce('Fastify', server, () => app.close());
}

runAsProgram(import.meta.url, 'Fastify', main);
