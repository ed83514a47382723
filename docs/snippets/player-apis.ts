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

// The code of WeChat's phone-number authorisation, sent by the game: single-use, 5 minutes, and
// WeChat checks it was issued to this player. Kept in the player's data.
app.post('/me/phone', wx.required, express.json(), async (req, res) => {
  const session = req.wxSession!;
  const { purePhoneNumber, countryCode } = await session.phoneNumber(req.body?.code);
  session.data.phone = `+${countryCode} ${purePhoneNumber}`;
  res.json({ countryCode });
});

app.get('/me', wx.required, (req, res) => {
  res.json(req.wxSession!.data);
});

// WeChat's risk rank of the player (0 lowest to 4), asked before a reward is handed out.
app.post('/me/daily-reward', wx.required, async (req, res) => {
  const rank = await req.wxSession!.riskRank({ scene: 1, clientIp: req.ip! });
  if (rank >= 3) res.status(403).json({ code: 'RISKY', message: 'no reward for this account' });
  else res.json({ reward: 10 });
});

// Whether WeChat issued this encryptedData (to this app, in the last 3 days): no session needed.
app.post('/check-data', express.json(), async (req, res) => {
  res.json(await core.checkEncryptedData(req.body?.encryptedData));
});

app.use(wx.errors); // 400 WX_BAD_REQUEST, 401 WX_CODE_INVALID, 429 WX_RATE_LIMITED, 502...
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
