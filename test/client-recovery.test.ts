// wx-session/client end to end, when a request goes wrong. What it recovers from: a destroyed or
// expired server session costs one new login (one for many requests at a time), a rotated
// session_key is repaired in place with one wx.login and X-WX-Code keeping the token, a 500 keeps
// the session, a request is retried once at most. What it hands back: WeChat's rate limit (429 with
// Retry-After) from a login or a key refresh, without retrying; a network failure, keeping the
// token; wx.login failing; a server that cannot be reached. Real HTTP: the fake `wx` in front of
// the Express example server and the mock WeChat.
import { expect } from 'chai';
import { createSessionClient, SessionClientError, type SessionClient } from 'wx-session/client';
import { closeServer, listen } from '../harness/apps.js';
import { fakeWx, type FakeWx, type GameServer } from './support/client.js';
import { KEY, OPENID, devicePerTest } from './support/client-device.js';

describe('wx-session/client: request', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;
  const { restart, logins, code2Sessions } = devicePerTest((device) => ({ app, wx, client } = device));

  it('logs in once more and succeeds when the server session was destroyed', async () => {
    await client.request({ url: '/me' });
    const first = wx.storage.get(KEY) as string;
    // Destroy the server session behind the client's back (as another device's logout would).
    const out = await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': first } });
    expect(out.status).to.equal(204);

    const res = await client.request<{ openid: string }>({ url: '/me' });
    expect(res.statusCode).to.equal(200);
    expect(res.data.openid).to.equal(OPENID);
    expect(logins()).to.equal(2);
    expect(wx.loginCalls).to.equal(2);
    const second = wx.storage.get(KEY);
    expect(second).to.be.a('string').and.not.equal(first);
    const hits = app.hitsTo('GET', '/me');
    expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([first, first, second]);
  });

  it('re-logs in once for many concurrent requests refused with WX_SESSION_EXPIRED', async () => {
    await client.login();
    await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': client.token()! } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/me' })));
    expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(5).fill(200));
    expect(logins()).to.equal(2);
  });

  it('refreshes a rotated session_key (87009) with X-WX-Code, keeping the same token', async () => {
    await restart({ checkSessionKey: { interval: 0 } });
    await client.request({ url: '/me' });
    const token = wx.storage.get(KEY);
    const callsBefore = code2Sessions();
    app.mock.rotateSessionKey(OPENID);

    const res = await client.request<{ openid: string }>({ url: '/me' });
    expect(res.statusCode).to.equal(200);
    expect(res.data.openid).to.equal(OPENID);
    expect(wx.storage.get(KEY)).to.equal(token);
    expect(logins()).to.equal(1); // no new login: the session was repaired in place
    expect(wx.loginCalls).to.equal(2); // one wx.login for the code
    expect(code2Sessions()).to.equal(callsBefore + 1);
    const hits = app.hitsTo('GET', '/me').slice(1);
    expect(hits).to.have.length(2);
    expect(hits[0]!.headers['x-wx-code']).to.equal(undefined);
    expect(hits[1]!.headers['x-wx-code']).to.be.a('string');
    expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([token, token]);
    // Repaired: the next request goes straight through.
    expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
    expect(app.hitsTo('GET', '/me')).to.have.length(4);
    expect(app.hitsTo('GET', '/me').at(-1)!.headers['x-wx-code']).to.equal(undefined);
  });

  it('repairs a rotated session_key for concurrent requests with one wx.login, each retrying at most once', async () => {
    await restart({ checkSessionKey: { interval: 0 } });
    await client.login();
    const token = client.token();
    const callsBefore = code2Sessions();
    app.mock.rotateSessionKey(OPENID);
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/me' })));
    expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(5).fill(200));
    expect(client.token()).to.equal(token);
    expect(logins()).to.equal(1);
    expect(wx.loginCalls).to.equal(2); // the login, and one wx.login shared by the key refresh
    expect(code2Sessions()).to.equal(callsBefore + 1);
    const me = app.hitsTo('GET', '/me');
    expect(me.length).to.be.within(6, 10);
    expect(me.filter((hit) => hit.headers['x-wx-code'] !== undefined)).to.have.length(1);
  });


  it('returns a 500 and keeps the session', async () => {
    await client.login();
    const token = client.token();
    const res = await client.request<{ code: string }>({ url: '/boom' });
    expect(res.statusCode).to.equal(500);
    expect(res.data.code).to.equal('INTERNAL_ERROR');
    expect(app.hitsTo('GET', '/boom')).to.have.length(1);
    expect(wx.storage.get(KEY)).to.equal(token);
    expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
    expect(logins()).to.equal(1);
  });

  it('returns a second 401 after the retry instead of retrying again, and forgets that token', async () => {
    await client.login();
    const res = await client.request<{ code: string }>({ url: '/always-401' });
    expect(res.statusCode).to.equal(401);
    expect(res.data.code).to.equal('WX_SESSION_EXPIRED');
    expect(app.hitsTo('GET', '/always-401')).to.have.length(2);
    expect(logins()).to.equal(2); // the first, and one re-login
    expect(wx.storage.has(KEY)).to.equal(false);
  });

  it('returns the 401 of a key refresh with another user\'s code, then logs that user in next time', async () => {
    await restart({ checkSessionKey: { interval: 0 } });
    await client.login();
    app.mock.rotateSessionKey(OPENID);
    wx.openid = 'oClientTestOtherUser00000002'; // the phone's WeChat account changed
    const res = await client.request<{ code: string }>({ url: '/me' });
    expect(res.statusCode).to.equal(401);
    expect(res.data.code).to.equal('WX_SESSION_INVALID');
    expect(app.hitsTo('GET', '/me')).to.have.length(2);
    expect(logins()).to.equal(1);
    expect(wx.storage.has(KEY)).to.equal(false);

    const next = await client.request<{ openid: string }>({ url: '/me' });
    expect(next.statusCode).to.equal(200);
    expect(next.data.openid).to.equal('oClientTestOtherUser00000002');
  });

  it('surfaces 429 WX_RATE_LIMITED from the login with its Retry-After, without retrying', async () => {
    wx.codeOptions = { errcode: 45011 };
    const res = await client.request<{ code: string }>({ url: '/me' });
    expect(res.statusCode).to.equal(429);
    expect(res.data.code).to.equal('WX_RATE_LIMITED');
    expect(res.header['Retry-After']).to.equal('60');
    expect(logins()).to.equal(1);
    expect(code2Sessions()).to.equal(1);
    expect(app.hitsTo('GET', '/me')).to.have.length(0);
    expect(wx.storage.has(KEY)).to.equal(false);

    const error = await client.login().then(
      () => expect.fail('login should fail'),
      (e: unknown) => e as SessionClientError,
    );
    expect(error).to.be.instanceOf(SessionClientError).and.instanceOf(Error);
    expect(error.code).to.equal('WX_RATE_LIMITED');
    expect(error.statusCode).to.equal(429);
    expect(error.retryAfter).to.equal(60);
    expect(logins()).to.equal(2);
  });

  it('surfaces 429 WX_RATE_LIMITED from a key refresh once, keeping the token', async () => {
    await restart({ checkSessionKey: { interval: 0 } });
    await client.login();
    const token = client.token();
    app.mock.rotateSessionKey(OPENID);
    wx.codeOptions = { errcode: 45011 };
    const res = await client.request<{ code: string }>({ url: '/me' });
    expect(res.statusCode).to.equal(429);
    expect(res.data.code).to.equal('WX_RATE_LIMITED');
    expect(res.header['Retry-After']).to.equal('60');
    expect(app.hitsTo('GET', '/me')).to.have.length(2);
    expect(logins()).to.equal(1);
    expect(wx.storage.get(KEY)).to.equal(token);
  });

  it('rejects on a network failure and keeps the token', async () => {
    await client.login();
    const token = client.token();
    const error = await client.request({ url: '/reset' }).then(
      () => expect.fail('should reject'),
      (e: unknown) => e as SessionClientError,
    );
    expect(error).to.be.instanceOf(SessionClientError);
    expect(error.code).to.equal('NETWORK_ERROR');
    expect(error.errMsg).to.match(/^request:fail/);
    expect(wx.storage.get(KEY)).to.equal(token);
    expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
    expect(logins()).to.equal(1);
  });

  it('rejects when wx.login fails, and when the server cannot be reached', async () => {
    wx.loginFails = 'login:fail no network';
    const failed = await client.request({ url: '/me' }).then(() => null, (e: unknown) => e as SessionClientError);
    expect(failed?.code).to.equal('LOGIN_FAILED');
    expect(failed?.errMsg).to.equal('login:fail no network');
    expect(logins()).to.equal(0);

    const { server, url } = await listen((_req, res) => res.end());
    await closeServer(server);
    const offline = createSessionClient({ baseUrl: url, wx: fakeWx(app.mock, OPENID) });
    const error = await offline.request({ url: '/me' }).then(() => null, (e: unknown) => e as SessionClientError);
    expect(error?.code).to.equal('NETWORK_ERROR');
  });
});
