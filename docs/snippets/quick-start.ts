import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession, WxSessionError } from 'wx-session';
import { wxSession } from 'wx-session/express';
import { startMockWeChat } from 'wx-session/testing';

// A fake WeChat on 127.0.0.1, so this runs without an AppID. For real credentials, see below.
const mock = await startMockWeChat();
const core = createWxSession({
  appId: mock.appId,
  appSecret: mock.appSecret,
  apiBase: mock.url,
  secret: randomBytes(32).toString('base64url'), // signs the tokens
});

const wx = wxSession(core);
const app = express();
app.use(wx); // serves POST /wx/login and /wx/logout; sets req.wxSession when a valid token came

app.get('/me', wx.required, (req, res) => {
  res.json({ openid: req.wxSession!.openid, data: req.wxSession!.data });
});

app.post('/me/score', wx.required, express.json(), (req, res) => {
  const score: unknown = req.body?.score;
  if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'score must be a whole number >= 0' });
  }
  req.wxSession!.data.score = score; // saved before the answer goes out
  res.json({ score });
});

app.use(wx.errors); // answers a WxSessionError from a route as wx-session answers its own

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`listening on ${url}; log in with a code the mock WeChat just issued:`);
  console.log(`curl -s -X POST ${url}/wx/login -H 'Content-Type: application/json' -d '{"code":"${mock.issueCode()}"}'`);
});
