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
const wx = wxSession(core);
const app = express();
app.use(wx);

// The code from the game's getPhoneNumber button: WeChat checks it belongs to this player.
app.post('/me/phone', wx.required, express.json(), async (req, res) => {
  const phone = await req.wxSession!.phoneNumber(req.body?.code);
  res.json({ countryCode: phone.countryCode, purePhoneNumber: phone.purePhoneNumber });
});

// How risky WeChat thinks this player is, 0 (low) to 4, before a reward (scene 1: marketing).
app.get('/me/risk', wx.required, async (req, res) => {
  res.json({ riskRank: await req.wxSession!.riskRank({ scene: 1, clientIp: req.ip! }) });
});

// A new session_key for the player (the old one stops working at once); the store keeps the new one.
app.post('/me/reset-key', wx.required, async (req, res) => {
  await req.wxSession!.resetKey();
  res.status(204).end();
});

// Did WeChat issue this phone-number ciphertext, within the last three days?
app.post('/encrypted-data/check', express.json(), async (req, res) => {
  res.json(await core.checkEncryptedData(req.body?.encryptedData));
});

app.use(wx.errors); // 400 WX_BAD_REQUEST, 401 WX_CODE_INVALID, 429 WX_RATE_LIMITED...
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
