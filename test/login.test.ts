// Login over the wire (README.md, "The wire protocol in brief"): the code in a JSON body or in
// X-WX-Code, with or without a body parser in front; the answer's exact shape; never a
// session_key; a new session per login; configurable and disabled routes.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { adapters, startApp, type TestApp } from '../harness/apps.js';
import { encryptForSession } from './support/keys.js';

/** Nothing of the session_key, by name or by value, in the body or any header. */
function expectNoSessionKey(res: Response, sessionKey: string | undefined): void {
  const everything = JSON.stringify(res.body) + res.text + JSON.stringify(res.headers);
  expect(everything).to.not.match(/session_?key/i);
  expect(sessionKey, 'the mock issued a key').to.be.a('string');
  expect(everything).to.not.contain(sessionKey!);
}

for (const name of adapters) describe(`login (${name})`, () => {
  for (const bodyParser of [false, true]) describe(bodyParser ? 'behind a body parser' : 'without a body parser', () => {
    let app: TestApp;
    before(async () => { app = await startApp(name, { bodyParser }); });
    after(async () => { await app.close(); });

    it('logs in with the code in a JSON body and answers {token, expiresIn, openid}', async () => {
      const openid = 'oLoginJsonBody';
      const code = app.mock.issueCode(openid);
      const res = await app.http.post('/wx/login').send({ code });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^application\/json/);
      expect(res.body).to.have.all.keys('token', 'expiresIn', 'openid');
      expect(res.body.token).to.be.a('string').and.match(/^[A-Za-z0-9._~+/=-]+$/);
      expect(res.body.expiresIn).to.equal(604800);
      expect(res.body.openid).to.equal(openid);
      expectNoSessionKey(res, app.mock.sessionKeyOf(openid));
      const me = await app.http.get('/me').set('X-WX-Session', res.body.token);
      expect(me.status).to.equal(200);
      expect(me.body.openid).to.equal(openid);
    });

    it('logs in with the code in X-WX-Code and an empty body', async () => {
      const openid = 'oLoginHeaderCode';
      const code = app.mock.issueCode(openid);
      const res = await app.http.post('/wx/login').set('X-WX-Code', code);
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal(openid);
      expect(res.body.expiresIn).to.equal(604800);
      expectNoSessionKey(res, app.mock.sessionKeyOf(openid));
      const me = await app.http.get('/me').set('X-WX-Session', res.body.token);
      expect(me.status).to.equal(200);
      expect(me.body.openid).to.equal(openid);
    });

    it('logs in with X-WX-Code and an empty JSON object body', async () => {
      const openid = 'oLoginHeaderCodeEmptyObject';
      const code = app.mock.issueCode(openid);
      const res = await app.http.post('/wx/login').set('X-WX-Code', code).set('Content-Type', 'application/json').send('{}');
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal(openid);
    });

    it('answers unionid when WeChat gave one', async () => {
      const openid = 'oLoginWithUnion';
      const code = app.mock.issueCode(openid, { unionid: 'uUnion42' });
      const res = await app.http.post('/wx/login').send({ code });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('token', 'expiresIn', 'openid', 'unionid');
      expect(res.body.unionid).to.equal('uUnion42');
      expectNoSessionKey(res, app.mock.sessionKeyOf(openid));
    });

    it('answers the decrypted userInfo for a login with encryptedData + iv', async () => {
      const openid = 'oLoginUserInfo';
      const code = app.mock.issueCode(openid);
      const sessionKey = app.mock.sessionKeyOf(openid)!;
      const user = { nickName: 'Band', gender: 1, watermark: { appid: app.mock.appId, timestamp: Math.floor(Date.now() / 1000) } };
      const res = await app.http.post('/wx/login').send({ code, ...encryptForSession(sessionKey, user) });
      expect(res.status).to.equal(200);
      expect(res.body.userInfo).to.deep.equal(user);
      expectNoSessionKey(res, sessionKey);
    });

    it('answers with Cache-Control: no-store', async () => {
      const res = await app.http.post('/wx/login').send({ code: app.mock.issueCode() });
      expect(res.status).to.equal(200);
      expect(res.headers['cache-control']).to.equal('no-store');
    });

    it('creates a new session for every login, even of the same openid', async () => {
      const openid = 'oLoginTwice';
      const first = await app.login(openid);
      const second = await app.login(openid);
      expect(second.token).to.not.equal(first.token);
      expect(second.token.split('.')[0]).to.not.equal(first.token.split('.')[0]);
      await app.http.post('/me/coins').set('X-WX-Session', first.token).expect(200);
      const a = await app.http.get('/me').set('X-WX-Session', first.token);
      const b = await app.http.get('/me').set('X-WX-Session', second.token);
      expect(a.status).to.equal(200);
      expect(b.status).to.equal(200);
      expect(a.body.openid).to.equal(openid);
      expect(b.body.openid).to.equal(openid);
      // Separate sessions: data written through one token is not seen through the other.
      expect(a.body.data).to.deep.equal({ coins: 1 });
      expect(b.body.data).to.deep.equal({});
    });
  });

  describe('exposeOpenid: false', () => {
    let app: TestApp;
    before(async () => { app = await startApp(name, { core: { exposeOpenid: false } }); });
    after(async () => { await app.close(); });

    it('answers only {token, expiresIn}', async () => {
      const code = app.mock.issueCode('oHidden', { unionid: 'uHidden' });
      const res = await app.http.post('/wx/login').send({ code });
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys('token', 'expiresIn');
      expect(res.text).to.not.contain('oHidden').and.not.contain('uHidden');
      const me = await app.http.get('/me').set('X-WX-Session', res.body.token);
      expect(me.body.openid).to.equal('oHidden');
    });
  });

  describe('custom loginPath and logoutPath', () => {
    let app: TestApp;
    before(async () => { app = await startApp(name, { adapter: { loginPath: '/api/session', logoutPath: '/api/bye' } }); });
    after(async () => { await app.close(); });

    it('serves login and logout on the configured paths only', async () => {
      const code = app.mock.issueCode('oCustomPath');
      const old = await app.http.post('/wx/login').send({ code });
      expect(old.status).to.equal(404);
      expect(old.body).to.not.have.property('token');
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);

      const res = await app.http.post('/api/session').send({ code });
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oCustomPath');
      const token = res.body.token as string;

      // The default logout path is not ours any more: the token survives it.
      await app.http.post('/wx/logout').set('X-WX-Session', token).expect(404);
      await app.http.get('/me').set('X-WX-Session', token).expect(200);

      const out = await app.http.post('/api/bye').set('X-WX-Session', token);
      expect(out.status).to.equal(204);
      const after = await app.http.get('/me').set('X-WX-Session', token);
      expect(after.status).to.equal(401);
      expect(after.body.code).to.equal('WX_SESSION_EXPIRED');
    });
  });

  describe('loginPath: false', () => {
    let app: TestApp;
    before(async () => { app = await startApp(name, { adapter: { loginPath: false } }); });
    after(async () => { await app.close(); });

    it('serves no login route: POST /wx/login falls through without a token', async () => {
      const code = app.mock.issueCode('oNoLoginRoute');
      const res = await app.http.post('/wx/login').send({ code });
      expect(res.status).to.not.equal(200);
      expect(res.status).to.equal(404);
      expect(res.body).to.not.have.property('token');
      expect(app.mock.callsTo('/sns/jscode2session'), 'the code was not redeemed').to.have.length(0);
    });

    it('still serves logout', async () => {
      const res = await app.http.post('/wx/logout');
      expect(res.status).to.equal(204);
    });
  });
});
