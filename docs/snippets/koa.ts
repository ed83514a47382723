import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/koa';

const core = createWxSession({
  appId: process.env.WX_APPID!,
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!,
  apiBase: process.env.WX_API_BASE,
});
// No default routes: the login and logout pieces are mounted on routes of the game's own.
const wx = wxSession(core, { loginPath: false, logoutPath: false });

const app = new Koa();
const router = new Router();
app.use(wx.errors); // first, so it answers a WxSessionError thrown further down

router.post('/game/login', wx.login); // reads its own JSON body: no body parser needed
router.post('/game/logout', wx.logout);
router.get('/me', wx.required, (ctx) => {
  ctx.body = { openid: ctx.state.wxSession!.openid, data: ctx.state.wxSession!.data };
});

app.use(router.routes()).use(router.allowedMethods());
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
