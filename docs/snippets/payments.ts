import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession, WxSessionError } from 'wx-session';
import { wxSession } from 'wx-session/express';

const wx = wxSession(
  createWxSession({
    appId: process.env.WX_APPID!,
    appSecret: process.env.WX_APPSECRET!,
    secret: process.env.WX_SESSION_SECRET!,
    apiBase: process.env.WX_API_BASE,
    payment: {
      offerId: process.env.WX_OFFER_ID!, // the OfferID of the virtual payment admin page
      appKey: { production: process.env.WX_PAY_APPKEY!, sandbox: process.env.WX_PAY_SANDBOX_APPKEY! },
      env: process.env.WX_PAY_ENV === '1' ? 1 : 0, // 1: the sandbox, signed with the sandbox AppKey
    },
    logger: console, // a wrong AppKey (90011) is logged as a setup problem, never the key
  }),
);

const app = express();
app.use(wx);
const ZONE = '1'; // the zone set up in the admin page
const SWORD = 30; // the price is the server's, never the client's

app.get('/me/coins', wx.required, async (req, res) => {
  const { balance } = await req.wxSession!.payments.balance({ zoneId: ZONE, userIp: req.ip! });
  res.json({ balance });
});

// The game makes the billNo once per purchase and sends the same one again when a try failed
// (a network error, a 5xx): WeChat pays a billNo at most once.
app.post('/me/buy-sword', wx.required, express.json(), async (req, res) => {
  try {
    const { balance } = await req.wxSession!.payments.pay({ amount: SWORD, billNo: req.body?.billNo, zoneId: ZONE, userIp: req.ip! });
    res.json({ balance });
  } catch (error) {
    // 90012: an earlier try with this billNo was paid and its answer lost. Done, not charged again.
    if (error instanceof WxSessionError && error.errcode === 90012) res.json({ alreadyPaid: true });
    else throw error; // answered by wx.errors: 400 WX_BAD_REQUEST, 401 WX_SESSION_KEY_EXPIRED, 502...
  }
});

app.use(wx.errors);
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
