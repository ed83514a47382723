// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// an Express app as a user writes it.
import express from 'express';
import { createWxSession, ErrorCode, type WxSession } from 'wx-session';
import { wxSession, type WxSessionMiddleware } from 'wx-session/express';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

declare module 'wx-session' {
  interface WxSessionData {
    coins?: number;
    nickname?: string;
  }
}

const secret = 's'.repeat(32);
const app = express();
app.use(express.json());

// From options, or from a core.
const wx: WxSessionMiddleware = wxSession({ appId: 'wxapp', appSecret: 'app-secret', secret });
const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret });
const wx2 = wxSession(core, { loginPath: '/game/login', logoutPath: '/game/logout' });

app.use(wx);
app.post('/game/login', wx2.login);
app.post('/game/logout', wx2.logout);
app.use('/api', wx2.authenticate);

app.get('/me', wx.required, (req, res) => {
  const openid = req.wxSession?.openid;
  assertType<Equals<typeof openid, string | undefined>>();
  assertType<Equals<typeof req.wxSession, WxSession | undefined>>();
  assertType<Equals<NonNullable<typeof req.wxSession>['openid'], string>>();
  const session: WxSession = req.wxSession!;
  const data = req.wxSession!.data;
  assertType<Equals<typeof data.coins, number | undefined>>();
  assertType<Equals<typeof data.nickname, string | undefined>>();
  data.coins = (data.coins ?? 0) + 1;
  res.json({ openid: req.wxSession!.openid, coins: data.coins, session });
});

app.get('/whoami', (req, res) => {
  const error = req.wxSessionError;
  assertType<Equals<typeof error, ErrorCode | undefined>>();
  if (error === ErrorCode.WX_SESSION_EXPIRED) res.status(401);
  res.json({ session: req.wxSession ?? null, error: error ?? null });
});

app.post('/logout-here', wx.required, async (req, res, next) => {
  try {
    await req.wxSession!.destroy();
    res.status(204).end();
  } catch (error) {
    next(error);
  }
});

app.get('/core', (_req, res) => {
  res.json(wx.core.config.appId);
});

export default app;
