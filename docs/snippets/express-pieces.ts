import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';

const core = createWxSession({
  appId: process.env.WX_APPID!,
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!,
  apiBase: process.env.WX_API_BASE,
});
const wx = wxSession(core, { loginPath: '/game/login', logoutPath: '/game/logout', bodyTimeout: 5000 });

const app = express();
app.use(wx); // login and logout on the paths above; req.wxSession on every route when the token is good

// An optional session: without a good token the route still runs, and says why there is none.
app.get('/hello', (req, res) => {
  if (req.wxSession) res.json({ hello: req.wxSession.openid });
  else res.json({ hello: 'guest', why: req.wxSessionError });
});

// A required session: 401 (or 503 when the store is down) unless there is one.
app.get('/me', wx.required, (req, res) => {
  res.json({ openid: req.wxSession!.openid });
});

app.use(wx.errors);
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
