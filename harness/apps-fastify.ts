// The test app of harness/apps.ts on Fastify 5 and 4: the same routes the Express and Koa apps
// have, through the wx-session/fastify plugin, on a real server on loopback.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fastify5, { type FastifyInstance, type RouteHandlerMethod } from 'fastify';
import fastify4 from 'fastify4';
import type { WxSessionCore } from '../src/index.js';
import { wxSession } from '../adapters/fastify.js';
import { answerPlayerRoute, jsonBody, playerRoutes } from './player-routes.js';
import type { StartOptions } from './apps.js';

/**
 * The routes of harness/apps.ts ("Routes every test app has"). `required` runs as `onRequest`, so
 * a request without a session is refused before Fastify parses (or refuses) its body, as it is on
 * Express and Koa; as a `preHandler` it would come after the parser's own 400/415.
 */
function routes(app: FastifyInstance, core: WxSessionCore): void {
  const { required, errors } = app.wxSession;
  app.get('/me', { onRequest: required }, async (request) => {
    const s = request.wxSession!;
    return { openid: s.openid, unionid: s.unionid ?? null, data: s.data };
  });
  app.post('/me/coins', { onRequest: required }, async (request) => {
    const data = request.wxSession!.data as { coins?: number };
    data.coins = (data.coins ?? 0) + 1;
    return { coins: data.coins };
  });
  app.get('/me/json', { onRequest: required }, (request, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(request.wxSession)));
  app.post('/me/destroy', { onRequest: required }, async (request, reply) => {
    await request.wxSession!.destroy();
    return reply.code(204).send();
  });
  app.get('/whoami', async (request) => ({ session: !!request.wxSession, openid: request.wxSession?.openid ?? null, error: request.wxSessionError ?? null }));
  for (const route of playerRoutes) {
    const handler: RouteHandlerMethod = async (request, reply) => {
      const { status, body } = await answerPlayerRoute(route, core, request.wxSession!, request.query, request.ip, () => jsonBody(request.raw, request.body));
      return body === undefined ? reply.code(status).send() : reply.code(status).send(body);
    };
    app.route({ method: route.method, url: route.path, errorHandler: errors, handler, ...(route.session ? { onRequest: required } : {}) });
  }
}

/**
 * Fastify 5 or 4 with the plugin registered. Fastify's JSON parser is always there; with
 * `bodyParser`, the login is also mounted as a route of the app's own (`app.post(path, wx.login)`)
 * instead of the plugin's, which must answer as the plugin's does.
 */
export async function fastifyApp(version: 'fastify5' | 'fastify4', core: WxSessionCore, options: StartOptions) {
  // Fastify 4's types are its own package's; the app is driven through 5's, which the plugin augments.
  const create = (version === 'fastify5' ? fastify5 : fastify4) as unknown as typeof fastify5;
  const app = create({ forceCloseConnections: true });
  const loginPath = options.adapter?.loginPath || '/wx/login';
  await app.register(wxSession, { core, ...options.adapter, ...(options.bodyParser ? { loginPath: false } : {}) });
  if (options.bodyParser) app.post(loginPath, app.wxSession.login);
  routes(app, core);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const server = app.server as Server;
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
