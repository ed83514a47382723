// app.ts: the game server's routes, on a wx-session core or on its options. server.ts runs it in
// production; app.spec.ts builds it against the mock WeChat.
import express from 'express';
import { WxSessionError, type WxSessionCore, type WxSessionOptions } from 'wx-session';
import { wxSession } from 'wx-session/express';

// The app's own fields in session.data, typed wherever req.wxSession.data is used.
declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

export function createApp(coreOrOptions: WxSessionCore | WxSessionOptions): express.Express {
  const wx = wxSession(coreOrOptions);
  const app = express();
  app.use(wx);

  app.get('/me', wx.required, (req, res) => {
    res.json({ openid: req.wxSession!.openid, data: req.wxSession!.data });
  });

  app.post('/me/score', wx.required, express.json(), (req, res) => {
    const score: unknown = req.body?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'score must be a whole number >= 0' });
    }
    req.wxSession!.data.score = score;
    res.json({ score });
  });

  app.use(wx.errors);
  return app;
}
