// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// a Koa app with @koa/router as a user writes it.
import Koa from 'koa';
import Router from '@koa/router';
import { createWxSession, ErrorCode, type WxSession } from 'wx-session';
import { wxSession, type WxSessionKoaMiddleware } from 'wx-session/koa';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

declare module 'wx-session' {
  interface WxSessionData {
    coins?: number;
  }
}

const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32) });
const wx: WxSessionKoaMiddleware = wxSession(core, { loginPath: '/wx/login' });
const wxFromOptions = wxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32) });

const app = new Koa();
const router = new Router();

app.use(wx);
router.post('/game/login', wx.login);
router.post('/game/logout', wxFromOptions.logout);
router.get('/me', wx.required, (ctx) => {
  const session: WxSession | undefined = ctx.state.wxSession;
  const openid = ctx.state.wxSession!.openid;
  assertType<Equals<typeof openid, string>>();
  const data = ctx.state.wxSession!.data;
  assertType<Equals<typeof data.coins, number | undefined>>();
  data.coins = (data.coins ?? 0) + 1;
  ctx.body = { openid, coins: data.coins, session: session ?? null };
});
router.get('/whoami', wx.authenticate, async (ctx) => {
  const error = ctx.state.wxSessionError;
  assertType<Equals<typeof error, ErrorCode | undefined>>();
  if (error === ErrorCode.WX_STORE_UNAVAILABLE) ctx.status = 503;
  ctx.body = { openid: ctx.state.wxSession?.openid ?? null, error: error ?? null };
});

app.use(async (ctx, next) => {
  const maybe = ctx.state.wxSession;
  assertType<Equals<typeof maybe, WxSession | undefined>>();
  await next();
});
app.use(router.routes()).use(router.allowedMethods());

export default app;
