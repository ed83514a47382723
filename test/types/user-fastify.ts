// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// a Fastify 5 app with the wx-session plugin as a user writes it.
import Fastify from 'fastify';
import { createWxSession, ErrorCode, type WxSession } from 'wx-session';
import { wxSession, type WxSessionFastify } from 'wx-session/fastify';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

declare module 'wx-session' {
  interface WxSessionData {
    coins?: number;
  }
}

export async function build() {
  const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32) });
  const app = Fastify();
  await app.register(wxSession, { core, loginPath: '/game/login', bodyTimeout: 5000 });
  const other = Fastify();
  await other.register(wxSession, { appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32), logoutPath: false });

  const pieces: WxSessionFastify = app.wxSession;
  assertType<Equals<typeof pieces.core, typeof core>>();
  app.post('/other/login', app.wxSession.login);
  app.get('/me', { preHandler: app.wxSession.required }, async (request) => {
    const session: WxSession | null = request.wxSession;
    const openid = request.wxSession!.openid;
    assertType<Equals<typeof openid, string>>();
    const data = request.wxSession!.data;
    assertType<Equals<typeof data.coins, number | undefined>>();
    data.coins = (data.coins ?? 0) + 1;
    return { openid, coins: data.coins, session };
  });
  app.get('/me/early', { onRequest: app.wxSession.required, errorHandler: app.wxSession.errors }, async (request) => ({ openid: request.wxSession?.openid }));
  app.get('/whoami', async (request, reply) => {
    const error = request.wxSessionError;
    assertType<Equals<typeof error, ErrorCode | null>>();
    if (error === ErrorCode.WX_STORE_UNAVAILABLE) reply.code(503);
    return { openid: request.wxSession?.openid ?? null, error };
  });
  return app;
}
