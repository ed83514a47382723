// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// a Hono 4 app with the wx-session middleware as a user writes it.
import { Hono } from 'hono';
import { createWxSession, ErrorCode, type WxSession } from 'wx-session';
import { wxSession, type WxSessionHonoMiddleware } from 'wx-session/hono';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

declare module 'wx-session' {
  interface WxSessionData {
    coins?: number;
  }
}

const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32) });
const wx: WxSessionHonoMiddleware = wxSession(core, { loginPath: '/wx/login' });
const wxFromOptions = wxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32) });

const app = new Hono();
app.use(wx.errors);
app.use(wx);
app.post('/game/login', wx.login);
app.post('/game/logout', wxFromOptions.logout);
app.get('/me', wx.required, (c) => {
  const session: WxSession | undefined = c.get('wxSession');
  const openid = c.get('wxSession')!.openid;
  assertType<Equals<typeof openid, string>>();
  const data = c.get('wxSession')!.data;
  assertType<Equals<typeof data.coins, number | undefined>>();
  data.coins = (data.coins ?? 0) + 1;
  return c.json({ openid, coins: data.coins, session: session ? session.openid : null });
});
app.get('/whoami', wx.authenticate, (c) => {
  const error = c.get('wxSessionError');
  assertType<Equals<typeof error, ErrorCode | undefined>>();
  return c.json({ openid: c.get('wxSession')?.openid ?? null, error: error ?? null }, error === ErrorCode.WX_STORE_UNAVAILABLE ? 503 : 200);
});
assertType<Equals<typeof wx.core, typeof core>>();

export default app;
