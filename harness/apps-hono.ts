// The test app of harness/apps.ts on Hono 4 (served by @hono/node-server): the same routes the
// Express and Koa apps have, through the wx-session/hono middleware, on a real server on loopback.
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { WxSessionError, type WxSessionCore } from '../src/index.js';
import { wxSession } from '../adapters/hono.js';
import { answerPlayerRoute, jsonText, playerRoutes } from './player-routes.js';
import { closeServer, listen, type StartOptions } from './apps.js';

/** The player's address, from the Node request @hono/node-server hands over as `env.incoming`. */
const ipOf = (c: Context) => (c.env as { incoming: IncomingMessage }).incoming.socket.remoteAddress ?? '';

/**
 * Hono has no body parser that leaves a parsed body for other middleware, so `bodyParser` changes
 * nothing here: the login always reads its body itself.
 */
export async function honoApp(core: WxSessionCore, options: StartOptions) {
  const app = new Hono();
  // Hono's own error handler logs every error; wx.errors answers the WxSessionErrors after it.
  app.onError((error, c) => {
    if (!(error instanceof WxSessionError)) console.error(error);
    return c.text('Internal Server Error', 500);
  });
  const wx = wxSession(core, options.adapter);
  app.use(wx);
  app.get('/me', wx.required, (c) => {
    const s = c.get('wxSession')!;
    return c.json({ openid: s.openid, unionid: s.unionid ?? null, data: s.data });
  });
  app.post('/me/coins', wx.required, (c) => {
    const data = c.get('wxSession')!.data as { coins?: number };
    data.coins = (data.coins ?? 0) + 1;
    return c.json({ coins: data.coins });
  });
  app.get('/me/json', wx.required, (c) => c.body(JSON.stringify(c.get('wxSession')), 200, { 'Content-Type': 'application/json; charset=utf-8' }));
  app.post('/me/destroy', wx.required, async (c) => {
    await c.get('wxSession')!.destroy();
    return c.body(null, 204);
  });
  app.get('/whoami', (c) => {
    const s = c.get('wxSession');
    return c.json({ session: !!s, openid: s?.openid ?? null, error: c.get('wxSessionError') ?? null });
  });
  for (const route of playerRoutes) {
    const handler = async (c: Context) => {
      const { status, body } = await answerPlayerRoute(route, core, c.get('wxSession')!, c.req.query(), ipOf(c), async () => jsonText(await c.req.text()));
      return body === undefined ? c.body(null, status as 204) : c.json(body, status as 200);
    };
    if (route.session) app.on(route.method, route.path, wx.errors, wx.required, handler);
    else app.on(route.method, route.path, wx.errors, handler);
  }
  const { server, url } = await listen(getRequestListener(app.fetch));
  return { server, url, close: () => closeServer(server) };
}
