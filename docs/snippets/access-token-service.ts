import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';

const core = createWxSession({
  appId: process.env.WX_APPID!,
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!,
  apiBase: process.env.WX_API_BASE,
  // The app's token comes from a service that owns it; wx-session then never calls stable_token.
  accessToken: async () => {
    const res = await fetch(process.env.TOKEN_SERVICE_URL!); // e.g. http://tokens.internal/wechat/access-token
    if (!res.ok) throw new Error(`token service answered ${res.status}`);
    const { token } = (await res.json()) as { token: string };
    return token;
  },
});

const wx = wxSession(core);
const app = express();
app.use(wx);
app.get('/me/key', wx.required, async (req, res) => {
  res.json({ current: await req.wxSession!.checkKey() }); // checksession, with the service's token
});
app.use(wx.errors);

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
