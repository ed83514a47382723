// The example servers' routes (examples/express, koa, fastify, hono, nestjs), each app on a real port in front
// of the mock WeChat, driven with fetch: login -> /me -> score -> logout, each player in their own
// session, what is refused and why; and the Koa example's own login route.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startMockWeChat } from 'wx-session/testing';
import { createApp as createKoaApp } from '../examples/koa/server.js';
import { closeServer, listen } from '../harness/apps.js';
import { call } from './support/http.js';
import { exampleApp, examples, INVALID_TOKEN, PLAYER, SECRET } from './support/examples.js';

const SECOND_PLAYER = 'oExamplePlayer000000000000002';

for (const example of examples) {
  describe(`examples/${example.name}: the routes`, () => {
    const app = exampleApp(example);

    it('answers /health without a session', async () => {
      const answer = await call(`${app.url}/health`);
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.equal({ ok: true });
    });

    it('logs in, reads /me, saves a score, logs out, and then refuses the token', async () => {
      const { url } = app;
      const token = await app.login();
      const me = await call(`${url}/me`, { token });
      expect(me.status).to.equal(200);
      expect(me.body).to.deep.equal({ openid: PLAYER, data: {} });

      const saved = await call(`${url}/me/score`, { method: 'POST', bearer: token, json: { score: 4200 } });
      expect(saved.status, saved.text).to.equal(200);
      expect(saved.body).to.deep.equal({ score: 4200 });
      expect((await call(`${url}/me`, { bearer: token })).body.data).to.deep.equal({ score: 4200 });

      expect((await call(url + example.logoutPath, { method: 'POST', token })).status).to.equal(204);
      const refused = await call(`${url}/me`, { token });
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('WX_SESSION_EXPIRED');
      expect(refused.headers.get('www-authenticate')).to.equal(INVALID_TOKEN);
    });

    it('keeps each player in their own session', async () => {
      const { url } = app;
      const first = await app.login(PLAYER);
      const second = await app.login(SECOND_PLAYER);
      await call(`${url}/me/score`, { method: 'POST', token: first, json: { score: 1 } });
      await call(`${url}/me/score`, { method: 'POST', token: second, json: { score: 2 } });
      expect((await call(`${url}/me`, { token: first })).body).to.deep.equal({ openid: PLAYER, data: { score: 1 } });
      expect((await call(`${url}/me`, { token: second })).body).to.deep.equal({ openid: SECOND_PLAYER, data: { score: 2 } });
    });

    it('refuses /me and /me/score without a session', async () => {
      const me = await call(`${app.url}/me`);
      expect(me.status).to.equal(401);
      expect(me.body.code).to.equal('WX_SESSION_MISSING');
      const score = await call(`${app.url}/me/score`, { method: 'POST', json: { score: 1 } });
      expect(score.status).to.equal(401);
      expect(score.body.code).to.equal('WX_SESSION_MISSING');
      // The session is asked for before the body is read: a bad body without one is a 401 too.
      // Not on NestJS, whose body parser runs before its guards: there it is the parser's 400.
      const unread = await call(`${app.url}/me/score`, { method: 'POST', raw: '{"score":' });
      expect(unread.status, unread.text).to.equal(example.parserFirst ? 400 : 401);
      expect(unread.body.code).to.equal(example.parserFirst ? 'WX_BAD_REQUEST' : 'WX_SESSION_MISSING');
    });

    it('refuses a score that is not a whole number >= 0, and keeps the old one', async () => {
      const token = await app.login();
      await call(`${app.url}/me/score`, { method: 'POST', token, json: { score: 7 } });
      // `Number(req.body.score)` would save NaN for {"score":"abc"}: the examples check the type.
      for (const body of [{ json: { score: -1 } }, { json: { score: 1.5 } }, { json: { score: '10' } }, { json: { score: 'abc' } }, { json: { score: null } }, { json: {} }, { raw: '{"score":' }]) {
        const answer = await call(`${app.url}/me/score`, { method: 'POST', token, ...body });
        expect(answer.status, JSON.stringify(body)).to.equal(400);
      }
      expect((await call(`${app.url}/me`, { token })).body.data).to.deep.equal({ score: 7 });
    });

    it('answers a login with a spent code 401 WX_CODE_USED', async () => {
      const code = app.mock.issueCode(PLAYER);
      expect((await call(app.url + example.loginPath, { method: 'POST', json: { code } })).status).to.equal(200);
      const again = await call(app.url + example.loginPath, { method: 'POST', json: { code } });
      expect(again.status).to.equal(401);
      expect(again.body.code).to.equal('WX_CODE_USED');
    });

    it(`writes no protocol header itself: ${example.errorsMounted} answers the WxSessionErrors its routes throw`, () => {
      const source = readFileSync(new URL(`../${example.file}`, import.meta.url), 'utf8');
      expect(source).to.not.match(/Bearer realm/);
      expect(source).to.not.match(/\.(?:set|setHeader|append|header)\(\s*['"`](?:WWW-Authenticate|Retry-After|X-WX-Session-Token|Cache-Control)/i);
      expect(source).to.include(example.errorsMounted);
    });
  });
}

describe('examples/koa mounting', () => {
  it('serves login on its own route, not on the default /wx/login', async () => {
    const mock = await startMockWeChat();
    const { server, url } = await listen(createKoaApp({ appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url }).callback());
    try {
      const answer = await call(`${url}/wx/login`, { method: 'POST', json: { code: mock.issueCode() } });
      expect(answer.status).to.equal(404);
      expect(mock.callsTo('/sns/jscode2session')).to.have.length(0);
    } finally {
      await closeServer(server);
      await mock.close();
    }
  });
});
