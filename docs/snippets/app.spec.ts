// app.spec.ts: the game server's tests, against the mock WeChat (no network, no AppSecret).
// Run with: npx mocha -n import=tsx app.spec.ts
import { expect } from 'chai';
import request from 'supertest';
import type { WxSessionOptions } from 'wx-session';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { createApp } from './app.js';

describe('the game server', () => {
  let mock: MockWeChat;
  before(async () => {
    mock = await startMockWeChat();
  });
  after(() => mock.close());

  const app = (extra: Partial<WxSessionOptions> = {}) =>
    createApp({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret: 'a-test-secret-of-at-least-32-characters', ...extra });

  it('logs a player in and keeps their score', async () => {
    const server = app();
    const login = await request(server).post('/wx/login').send({ code: mock.issueCode('oPlayer1') });
    expect(login.status).to.equal(200);
    expect(login.body.openid).to.equal('oPlayer1');
    await request(server).post('/me/score').set('X-WX-Session', login.body.token).send({ score: 10 }).expect(200);
    const me = await request(server).get('/me').set('X-WX-Session', login.body.token);
    expect(me.body.data).to.deep.equal({ score: 10 });
  });

  it('refuses a score that is not a whole number', async () => {
    const server = app();
    const { body } = await request(server).post('/wx/login').send({ code: mock.issueCode() });
    const bad = await request(server).post('/me/score').set('X-WX-Session', body.token).send({ score: 'abc' });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('WX_BAD_REQUEST');
  });

  it('repairs a session whose session_key WeChat rotated', async () => {
    const server = app({ checkSessionKey: { interval: 0 } }); // check on every request
    const { body } = await request(server).post('/wx/login').send({ code: mock.issueCode('oPlayer2') });
    mock.rotateSessionKey('oPlayer2'); // as if the player logged in on another device

    const stale = await request(server).get('/me').set('X-WX-Session', body.token);
    expect(stale.status).to.equal(401);
    expect(stale.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
    const repaired = await request(server).get('/me').set('X-WX-Session', body.token).set('X-WX-Code', mock.issueCode('oPlayer2'));
    expect(repaired.status).to.equal(200);
  });

  it('answers 502 when WeChat stays busy', async () => {
    mock.fault('/sns/jscode2session', { errcode: -1 }, { times: 3 });
    const login = await request(app()).post('/wx/login').send({ code: mock.issueCode() });
    expect(login.status).to.equal(502);
    expect(login.body.code).to.equal('WX_UPSTREAM_ERROR');
  });
});
