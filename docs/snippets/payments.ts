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
      offerId: process.env.WX_OFFER_ID!,
      // With a sandbox key, env 1 pays in WeChat's sandbox; the production key stays unused there.
      appKey: { production: process.env.WX_PAY_APPKEY!, sandbox: process.env.WX_PAY_SANDBOX_APPKEY! },
      env: process.env.WX_PAY_SANDBOX ? 1 : 0,
    },
  }),
);

const app = express();
app.use(wx);

// The player's game coins in zone 1 (one signed call to /wxa/game/getbalance).
app.get('/me/balance', wx.required, async (req, res) => {
  const { balance } = await req.wxSession!.payments.balance({ zoneId: '1', userIp: req.ip! });
  res.json({ balance });
});

// Buys an item. The client picks billNo once per purchase and sends the same one when it
// retries, so a purchase is never debited twice: WeChat answers 90012 for a billNo it has seen.
app.post('/me/buy', wx.required, express.json(), async (req, res) => {
  const { billNo, amount } = req.body ?? {};
  try {
    const paid = await req.wxSession!.payments.pay({ billNo, amount, zoneId: '1', userIp: req.ip!, payitem: 'sword' });
    res.json({ billNo: paid.billNo, balance: paid.balance });
  } catch (error) {
    if (error instanceof WxSessionError && error.errcode === 90012) {
      res.json({ billNo, already: true }); // paid by an earlier attempt
      return;
    }
    throw error; // 400 WX_BAD_REQUEST, 401 WX_SESSION_KEY_EXPIRED... answered by wx.errors
  }
});

app.use(wx.errors);
const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
