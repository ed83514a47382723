// How to test your own game server against the mock WeChat (see docs/testing.md):
// mocha + supertest, no network, no real AppSecret. "Your app" here is the Express example.
// test/examples-testing.test.ts runs this file with the rest of the suite.
import { expect } from 'chai';
import request from 'supertest';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import type { WxSessionOptions } from 'wx-session';
import { createApp } from '../express/server.js';

describe('a game server tested with the mock WeChat', () => {
  let mock: MockWeChat;

  before(async () => {
    mock = await startMockWeChat();
  });
  after(() => mock.close());
  afterEach(() => mock.clearFaults());

  function app(extra: Partial<WxSessionOptions> = {}) {
    return createApp({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret: 'a-test-secret-of-at-least-32-characters', ...extra });
  }

  it('logs a player in and keeps their score', async () => {
    const server = app();
    const login = await request(server).post('/wx/login').send({ code: mock.issueCode('oPlayer1') });
    expect(login.status).to.equal(200);
    expect(login.body.openid).to.equal('oPlayer1');

    const token: string = login.body.token;
    await request(server).post('/me/score').set('X-WX-Session', token).send({ score: 10 }).expect(200);
    const me = await request(server).get('/me').set('X-WX-Session', token);
    expect(me.body).to.deep.equal({ openid: 'oPlayer1', data: { score: 10 } });
  });

  it('asks for a new code when WeChat rotated the session_key, then carries on with the same token', async () => {
    const server = app({ checkSessionKey: { interval: 0 } }); // check the key on every request
    mock.resetCalls();
    const { body } = await request(server).post('/wx/login').send({ code: mock.issueCode('oPlayer2') });
    mock.rotateSessionKey('oPlayer2'); // as if the player logged in on another device

    const stale = await request(server).get('/me').set('X-WX-Session', body.token);
    expect(stale.status).to.equal(401);
    expect(stale.body.code).to.equal('WX_SESSION_KEY_EXPIRED');

    // The game retries once with a fresh wx.login() code: the server swaps in the new key.
    const repaired = await request(server).get('/me').set('X-WX-Session', body.token).set('X-WX-Code', mock.issueCode('oPlayer2'));
    expect(repaired.status).to.equal(200);
    expect(mock.callsTo('/wxa/checksession').map((call) => call.errcode)).to.deep.equal([87009]);
  });

  it('answers 502 when WeChat stays busy, after two retries', async () => {
    mock.fault('/sns/jscode2session', { errcode: -1 });
    mock.resetCalls();
    const login = await request(app()).post('/wx/login').send({ code: mock.issueCode() });
    expect(login.status).to.equal(502);
    expect(login.body).to.include({ code: 'WX_UPSTREAM_ERROR', errcode: -1 });
    expect(mock.callsTo('/sns/jscode2session')).to.have.length(3);
  });

  it('answers 504 when WeChat does not answer within `timeout`', async () => {
    mock.fault('/sns/jscode2session', { hang: true }, { times: 1 });
    const login = await request(app({ timeout: 200 })).post('/wx/login').send({ code: mock.issueCode() });
    expect(login.status).to.equal(504);
    expect(login.body.code).to.equal('WX_UPSTREAM_TIMEOUT');
  });

  it('refuses a code that was already used', async () => {
    const code = mock.issueCode();
    await request(app()).post('/wx/login').send({ code }).expect(200);
    const again = await request(app()).post('/wx/login').send({ code });
    expect(again.status).to.equal(401);
    expect(again.body).to.include({ code: 'WX_CODE_USED', errcode: 40163 });
  });
});
