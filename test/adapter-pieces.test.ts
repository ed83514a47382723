// The Fastify plugin's and the Hono middleware's pieces beyond what the shared suites drive
// through harness/apps.ts (docs/api.md, "Adapters"): registering with the core's own options, the
// plugin's fastify-plugin metadata, `wx.login` mounted on a route of one's own, `wx.errors`
// answering WxSessionErrors and Fastify's body errors by the table and passing other errors on, a
// re-issued token on a Response whose headers are immutable, and a half-made core refused at once.
import { expect } from 'chai';
import fastify5, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import supertest from 'supertest';
import { createWxSession, MemoryStore, WxSessionError } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { wxSession as fastifyPlugin } from '../adapters/fastify.js';
import { wxSession as honoSession } from '../adapters/hono.js';
import { closeServer, coreOptions, listen, OLD_SECRET, SECRET } from '../harness/apps.js';
import { expectErrorBody } from './support/wire.js';

describe('the Fastify plugin and the Hono middleware: their pieces', () => {
  let mock: MockWeChat;
  before(async () => { mock = await startMockWeChat(); });
  after(async () => { await mock.close(); });

  describe('Fastify', () => {
    let app: FastifyInstance;
    afterEach(async () => { await app?.close(); });
    /** The app listening on loopback, driven by supertest. */
    const serve = async () => supertest(`http://127.0.0.1:${new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port}`);

    it('carries what fastify-plugin would set: not encapsulated, named, for Fastify 4 and 5', () => {
      const plugin = fastifyPlugin as unknown as Record<symbol, unknown>;
      expect(plugin[Symbol.for('skip-override')]).to.equal(true);
      expect(plugin[Symbol.for('fastify.display-name')]).to.equal('wx-session');
      expect(plugin[Symbol.for('plugin-meta')]).to.deep.equal({ name: 'wx-session', fastify: '4.x || 5.x' });
    });

    it("registers with the core's own options, and serves a login mounted at a path of one's own", async () => {
      app = fastify5();
      await app.register(fastifyPlugin, { ...coreOptions(mock), loginPath: false, logoutPath: false });
      app.post('/game/login', app.wxSession.login);
      app.post('/game/logout', app.wxSession.logout);
      app.get('/me', { preHandler: app.wxSession.required }, async (request) => ({ openid: request.wxSession!.openid }));
      const http = await serve();
      expect((await http.post('/wx/login').send({ code: mock.issueCode() })).status, 'no plugin route').to.equal(404);
      // The own route reads its body itself: an empty JSON body is no code, as on Express and Koa.
      const empty = await http.post('/game/login').set('Content-Type', 'application/json').send('');
      expect(empty.status).to.equal(400);
      expectErrorBody(empty.body, 'WX_CODE_MISSING');
      const { body } = await http.post('/game/login').send({ code: mock.issueCode('oOwnRoute') }).expect(200);
      expect((await http.get('/me').set('X-WX-Session', body.token)).body).to.deep.equal({ openid: 'oOwnRoute' });
      await http.post('/game/logout').set('X-WX-Session', body.token).expect(204);
      expect((await http.get('/me').set('X-WX-Session', body.token)).status).to.equal(401);
      expect(app.wxSession.core.config.exposeOpenid).to.equal(true);
    });

    it('wx.login called from a handler takes the body Fastify parsed; wx.errors answers its refusals by the table', async () => {
      app = fastify5();
      app.setErrorHandler((error, _request, reply) => reply.code(500).send({ mine: (error as Error).message }));
      await app.register(fastifyPlugin, { core: createWxSession(coreOptions(mock)) });
      const { login, errors } = app.wxSession;
      app.post('/wrapped', { bodyLimit: 8192, errorHandler: errors }, function (request, reply) {
        return login.call(this, request, reply);
      });
      app.get('/limited', { errorHandler: errors }, async () => {
        throw new WxSessionError('WX_RATE_LIMITED', { errcode: 45011 });
      });
      app.get('/boom', { errorHandler: errors }, async () => {
        throw new Error('not ours');
      });
      const http = await serve();
      const ok = await http.post('/wrapped').send({ code: mock.issueCode('oWrapped') });
      expect(ok.status).to.equal(200);
      expect(ok.body.openid).to.equal('oWrapped');
      const bad = await http.post('/wrapped').set('Content-Type', 'application/json').send('{"code":');
      expect(bad.status).to.equal(400);
      expectErrorBody(bad.body, 'WX_BAD_REQUEST');
      const big = await http.post('/wrapped').set('Content-Type', 'application/json').send(`{"pad":"${'p'.repeat(9000)}"}`);
      expect(big.status).to.equal(413);
      expectErrorBody(big.body, 'WX_PAYLOAD_TOO_LARGE');
      const limited = await http.get('/limited');
      expect(limited.status).to.equal(429);
      expect(limited.headers['retry-after']).to.equal('60');
      expect(limited.body).to.deep.equal({ code: 'WX_RATE_LIMITED', message: 'too many logins for this user; retry later', errcode: 45011 });
      const boom = await http.get('/boom');
      expect(boom.status).to.equal(500);
      expect(boom.body).to.deep.equal({ mine: 'not ours' });
    });

    it('refuses an object that is not a whole core, as it refuses bad options', async () => {
      app = fastify5();
      const partial = { login() {}, authenticate() {} };
      const error = await app.register(fastifyPlugin, { core: partial } as never).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(/^wx-session: /);
    });
  });

  describe('Hono', () => {
    it('wx.errors answers a WxSessionError by the table and leaves other errors to app.onError', async () => {
      const app = new Hono();
      app.onError((error, c) => c.json({ mine: error.message }, 500));
      const wx = honoSession(createWxSession(coreOptions(mock)));
      app.use(wx.errors);
      app.use(wx);
      app.get('/stale', () => {
        throw new WxSessionError('WX_SESSION_KEY_EXPIRED');
      });
      app.get('/boom', () => {
        throw new Error('not ours');
      });
      const { server, url } = await listen(getRequestListener(app.fetch));
      try {
        const http = supertest(url);
        const stale = await http.get('/stale').set('X-WX-Session', 'a.b');
        expect(stale.status).to.equal(401);
        expect(stale.headers['www-authenticate']).to.equal('Bearer realm="wx-session", error="invalid_token"');
        expectErrorBody(stale.body, 'WX_SESSION_KEY_EXPIRED');
        expect((await http.get('/boom')).body).to.deep.equal({ mine: 'not ours' });
      } finally {
        await closeServer(server);
      }
    });

    it('adds X-WX-Session-Token to a Response whose headers are immutable (a redirect)', async () => {
      const store = new MemoryStore();
      const { token } = await createWxSession(coreOptions(mock, { store, secret: OLD_SECRET })).login(mock.issueCode());
      const wx = honoSession(coreOptions(mock, { store, secret: [SECRET, OLD_SECRET] }));
      const app = new Hono();
      app.get('/away', wx.required, () => Response.redirect('http://127.0.0.1/elsewhere', 302));
      const res = await app.request('/away', { headers: { 'X-WX-Session': token } });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('http://127.0.0.1/elsewhere');
      expect(res.headers.get('x-wx-session-token')).to.be.a('string').and.not.equal(token);
      expect(res.headers.get('cache-control')).to.equal('no-store');
    });

    it('refuses an object that is not a whole core', () => {
      expect(() => honoSession({ login() {} } as never)).to.throw(TypeError, /^wx-session: /);
    });
  });
});
