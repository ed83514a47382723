import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';

const wx = wxSession(
  createWxSession({
    appId: process.env.WX_APPID!,
    appSecret: process.env.WX_APPSECRET!,
    secret: process.env.WX_SESSION_SECRET!,
    apiBase: process.env.WX_API_BASE,
    checkSessionKey: { interval: 1800 }, // confirm a session's key with WeChat at most every 30 minutes
    keyExpired: 'refresh', // on 87009: repair with the request's X-WX-Code, same token
  }),
);

const app = express();
app.use(wx);

// A call to WeChat signed with the session_key, which never leaves the server. A value that is
// not a string is refused (400 WX_BAD_REQUEST) before any call.
app.post('/me/storage', wx.required, express.json(), async (req, res) => {
  await req.wxSession!.setUserStorage([{ key: 'best', value: req.body?.best }]);
  res.status(204).end();
});

// Data the game got from WeChat (wx.getGroupEnterInfo & co), opened with the session_key.
app.post('/me/group', wx.required, express.json(), (req, res) => {
  const data = req.wxSession!.decrypt(req.body?.encryptedData, req.body?.iv);
  res.json({ openGId: data.openGId });
});

app.get('/me', wx.required, (req, res) => {
  res.json({ openid: req.wxSession!.openid });
});

app.use(wx.errors); // 401 WX_SESSION_KEY_EXPIRED, 400 WX_BAD_REQUEST... from the routes above
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
