import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createWxSession, WxSessionError } from 'wx-session';
import { wxSession } from 'wx-session/hono';

const core = createWxSession({
  appId: process.env.WX_APPID!,
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!,
  apiBase: process.env.WX_API_BASE,
});
const wx = wxSession(core);

const app = new Hono();
// Hono prints every error a route throws; a WxSessionError is an answer (wx.errors), not a crash.
app.onError((error, c) => {
  if (!(error instanceof WxSessionError)) console.error(error);
  return c.json({ code: 'INTERNAL_ERROR', message: 'internal error' }, 500);
});
app.use(wx.errors); // first: answers a WxSessionError thrown further down as the error table says
app.use(wx); // POST /wx/login and /wx/logout; c.get('wxSession') on every route when the token is good

// An optional session: without a good token the route still runs, and says why there is none.
app.get('/hello', (c) => {
  const session = c.get('wxSession');
  return c.json(session ? { hello: session.openid } : { hello: 'guest', why: c.get('wxSessionError') });
});

// A required session: 401 (or 503 when the store is down) before the body is read.
app.post('/me/score', wx.required, async (c) => {
  const score = ((await c.req.json().catch(() => null)) as { score?: unknown } | null)?.score;
  if (typeof score !== 'number') throw new WxSessionError('WX_BAD_REQUEST', { message: 'score must be a number' });
  c.get('wxSession')!.data.score = score; // saved before the answer goes out
  return c.json({ openid: c.get('wxSession')!.openid, score });
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) => {
  console.log(`listening on http://localhost:${info.port}`);
});
