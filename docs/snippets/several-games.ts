import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';

const env = process.env;
// One core for three games: each login names its game (body `appId` or header X-WX-AppId).
const core = createWxSession({
  apps: [
    { appId: env.WX_APPID!, appSecret: env.WX_APPSECRET!, apiBase: env.WX_API_BASE }, // platform 'wechat' by default
    { appId: env.TT_APPID!, appSecret: env.TT_APPSECRET!, platform: 'douyin', apiBase: env.TT_API_BASE },
    { appId: env.QQ_APPID!, appSecret: env.QQ_APPSECRET!, platform: 'qq', apiBase: env.QQ_API_BASE },
  ],
  secret: env.WX_SESSION_SECRET!, // shared by the games, and so are the store and the other options
  logger: console, // with several games, each entry names its appId
});
await core.verify(); // asks each platform once: a refused AppSecret stops the start, naming its game

const wx = wxSession(core);
const app = express();
app.use(wx); // POST /wx/login and /wx/logout for every game

app.get('/me', wx.required, (req, res) => {
  const session = req.wxSession!;
  // A Douyin guest (logged in with tt.login's anonymousCode alone) has no openid.
  const player = session.anonymous ? { guest: session.anonymousOpenid } : { openid: session.openid };
  res.json({ game: session.appId, platform: session.platform, ...player });
});

// The same route on every platform: signed with the session's key, sent to its own platform.
app.post('/me/best', wx.required, express.json(), async (req, res) => {
  await req.wxSession!.setUserStorage([{ key: 'best', value: req.body?.best }]);
  res.status(204).end();
});

app.use(wx.errors); // 400 WX_BAD_REQUEST for a guest or a value that is not a string, ...
const server = app.listen(Number(env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
