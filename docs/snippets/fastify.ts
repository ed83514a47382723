import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { createWxSession, WxSessionError } from 'wx-session';
import { wxSession } from 'wx-session/fastify';

const core = createWxSession({
  appId: process.env.WX_APPID!,
  appSecret: process.env.WX_APPSECRET!,
  secret: process.env.WX_SESSION_SECRET!,
  apiBase: process.env.WX_API_BASE,
});

const app = Fastify();
// POST /wx/login and /wx/logout; request.wxSession (or request.wxSessionError) on every route.
await app.register(wxSession, { core });
const { required, errors } = app.wxSession;
app.setErrorHandler(errors); // answers a WxSessionError, and a body Fastify refused, as the error table says

// An optional session: without a good token the route still runs, and says why there is none.
app.get('/hello', async (request) => (request.wxSession ? { hello: request.wxSession.openid } : { hello: 'guest', why: request.wxSessionError }));

// A required session, as an onRequest hook: checked before Fastify reads the body.
app.post('/me/score', { onRequest: required }, async (request) => {
  const score = (request.body as { score?: unknown } | undefined)?.score;
  if (typeof score !== 'number') throw new WxSessionError('WX_BAD_REQUEST', { message: 'score must be a number' });
  request.wxSession!.data.score = score; // saved before the answer goes out
  return { openid: request.wxSession!.openid, score };
});

await app.listen({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
console.log(`listening on http://localhost:${(app.server.address() as AddressInfo).port}`);
