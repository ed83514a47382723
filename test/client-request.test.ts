// wx-session/client end to end, the plain request: the client with a fake `wx` doing real HTTP to
// the Express example server (examples/express/server.ts), the mock WeChat behind it. It checks its
// options, logs in once before the first request (once for many at a time), sends the token and
// the caller's method, data and headers, reuses a stored token, and keeps a re-issued one.
import { expect } from 'chai';
import { createSessionClient, type SessionClient } from 'wx-session/client';
import { createWxSession, MemoryStore } from '../src/index.js';
import { coreOptions, OLD_SECRET, SECRET } from '../harness/apps.js';
import { fakeWx, type FakeWx, type GameServer } from './support/client.js';
import { KEY, OPENID, devicePerTest } from './support/client-device.js';

describe('wx-session/client', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;
  const { restart, logins, code2Sessions } = devicePerTest((device) => ({ app, wx, client } = device));

  describe('options', () => {
    it('needs a baseUrl and a wx object', () => {
      expect(() => createSessionClient({ wx } as never)).to.throw(TypeError, /^wx-session\/client: baseUrl/);
      expect(() => createSessionClient({ baseUrl: 'http://x' })).to.throw(TypeError, /no wx object/);
      expect(() => createSessionClient({ baseUrl: 'http://x', wx, loginPath: 'wx/login' })).to.throw(TypeError, /loginPath/);
    });
  });

  describe('request', () => {
    it('logs in first when there is no token, then sends X-WX-Session', async () => {
      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      expect(wx.loginCalls).to.equal(1);
      expect(logins()).to.equal(1);
      const token = wx.storage.get(KEY);
      expect(token).to.be.a('string').and.not.equal('');
      expect(client.token()).to.equal(token);
      const [me] = app.hitsTo('GET', '/me');
      expect(me!.headers['x-wx-session']).to.equal(token);
      expect(me!.headers['x-wx-code']).to.equal(undefined);
      // The next request reuses the token.
      await client.request({ url: '/me' });
      expect(logins()).to.equal(1);
    });

    it('makes exactly one login for 10 concurrent requests', async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/me' })));
      expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(10).fill(200));
      expect(wx.loginCalls).to.equal(1);
      expect(logins()).to.equal(1);
      expect(code2Sessions()).to.equal(1);
      expect(new Set(app.hitsTo('GET', '/me').map((hit) => hit.headers['x-wx-session'])).size).to.equal(1);
    });

    it('sends method, data and the caller\'s headers (its own session header cannot override)', async () => {
      await client.login();
      const token = client.token();
      const res = await client.request<{ score: number }>({ url: 'me/score', method: 'POST', data: { score: 7 }, header: { 'X-Game': 'yes', 'x-wx-session': 'forged' } });
      expect(res.statusCode).to.equal(200);
      expect(res.data.score).to.equal(7);
      const [hit] = app.hitsTo('POST', '/me/score');
      expect(hit!.headers['x-game']).to.equal('yes');
      expect(hit!.headers['x-wx-session']).to.equal(token);
      const me = await client.request<{ data: { score: number } }>({ url: '/me' });
      expect(me.data.data.score).to.equal(7);
    });


    it('reuses a stored token in a new client (a relaunched game) without logging in', async () => {
      await client.request({ url: '/me' });
      const relaunched = createSessionClient({ baseUrl: app.url, wx: fakeWx(app.mock, OPENID, wx.storage) });
      const res = await relaunched.request({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(logins()).to.equal(1);
    });

    it('picks up a token another client stored after it was created', async () => {
      const other = createSessionClient({ baseUrl: app.url, wx });
      const sameDevice = fakeWx(app.mock, OPENID, wx.storage);
      const late = createSessionClient({ baseUrl: app.url, wx: sameDevice });
      await other.login();
      const res = await late.request({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(sameDevice.loginCalls).to.equal(0);
      expect(logins()).to.equal(1);
    });

    it('stores the token of an X-WX-Session-Token answer (re-issued under a new secret)', async () => {
      const store = new MemoryStore();
      await restart({ secret: [SECRET, OLD_SECRET], store });
      // A session that was created while the server still signed with the old secret.
      const before = createWxSession(coreOptions(app.mock, { secret: OLD_SECRET, store }));
      const { token: old } = await before.login(app.mock.issueCode(OPENID));
      wx.storage.set(KEY, old);

      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      // The fake wx hands header names over title-cased: the client reads them in any case.
      const reissued = res.header['X-Wx-Session-Token'];
      expect(reissued).to.be.a('string').and.not.equal(old);
      expect(wx.storage.get(KEY)).to.equal(reissued);
      expect(client.token()).to.equal(reissued);

      await client.request({ url: '/me' });
      const hits = app.hitsTo('GET', '/me');
      expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([old, reissued]);
      expect(logins()).to.equal(0);
    });
  });
});
