// checksession outages fail open (docs/session-key.md, "The rules"), through every adapter: a
// timeout, an HTTP error, -1, an unreadable answer or an access-token failure lets the request go
// on with the session as it is, logs a warning (an error for the app's own setup) without a secret,
// and pauses the checks for a while (checkOutagePause) on the core's clock.
import { expect } from 'chai';
import type { MockWeChat } from '../src/testing/index.js';
import { adapters, SECRET } from '../harness/apps.js';
import { expectNoSecrets } from './support/keys.js';
import { checkOutagePause } from '../src/key-freshness.js';
import { testClock, type TestClock } from './support/clock.js';
import { type App, CHECK, expectClean, start } from './support/key-checks.js';

for (const name of adapters) describe(`checksession outages fail open (${name})`, () => {
  let app: App;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    app = await start(name, { checkSessionKey: { interval: 0 }, timeout: 300, now: clock.now });
  });
  afterEach(async () => {
    await app.close();
  });

  // An outage is a warning; a token WeChat refuses again right after a refresh is the app's own
  // setup (another server replacing tokens), an error (docs/operators.md).
  const outages: Array<[string, Parameters<MockWeChat['fault']>[1], number, 'warn' | 'error']> = [
    ['HTTP 500', { status: 500 }, 1, 'warn'],
    ['HTTP 503 with a JSON body', { status: 503, body: '{"errcode":-1,"errmsg":"system error"}' }, 1, 'warn'],
    ['errcode -1 (busy)', { errcode: -1 }, 1, 'warn'],
    ['an unreadable body', { body: 'garbage' }, 1, 'warn'],
    ['a connection reset', { reset: true }, 1, 'warn'],
    ['a refused access token, twice', { errcode: 40001 }, 2, 'error'],
    ['an unexpected errcode (40003)', { errcode: 40003 }, 1, 'warn'],
  ];
  for (const [what, fault, times, level] of outages) {
    it(`${what}: the request goes on (200) and ${level === 'warn' ? 'a warning' : 'an error'} without secrets reaches the logger`, async () => {
      const openid = 'oOutage';
      const { token } = await app.login(openid);
      expect((await app.http.post('/me/coins').set('X-WX-Session', token)).status).to.equal(200);
      app.mock.fault(CHECK, fault, { times });
      app.mock.resetCalls();
      const warnings = app.logger.lines.length;
      const res = await app.http.get('/me').set('X-WX-Session', token);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.openid).to.equal(openid);
      expect(res.body.data).to.deep.equal({ coins: 1 });
      expect(app.mock.callsTo(CHECK).length, 'checksession was asked').to.be.at.least(1);
      expect(app.logger.lines.length, 'a warning was logged').to.be.greaterThan(warnings);
      const added = app.logger.lines.slice(warnings);
      expect(added.some((line) => line[0] === level && /check ?session/i.test(String(line[1]))), `a ${level} about checksession`).to.equal(true);
      expectNoSecrets(app.logger.text, [app.mock.appSecret, app.mock.sessionKeyOf(openid), app.mock.currentAccessToken(), SECRET, token], 'the log');
      expectClean(res, app, openid);
      expect(app.store.recordOf(token), 'nobody logged out').to.not.equal(undefined);
    });
  }

  for (const [what, fault] of [
    ['HTTP 500', { status: 500 }],
    ['a configuration errcode (40164)', { errcode: 40164 }],
  ] as const) {
    it(`an access-token failure during the check (stable_token ${what}) fails open too`, async () => {
      const openid = 'oTokenOutage';
      const { token } = await app.login(openid);
      app.mock.fault('/cgi-bin/stable_token', fault, { times: 1 });
      app.mock.resetCalls();
      const warnings = app.logger.lines.length;
      const res = await app.http.get('/me').set('X-WX-Session', token);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(app.mock.callsTo('/cgi-bin/stable_token')).to.have.length(1);
      expect(app.mock.callsTo(CHECK), 'no check without a token').to.have.length(0);
      expect(app.logger.lines.length).to.be.greaterThan(warnings);
      expectNoSecrets(app.logger.text, [app.mock.appSecret, app.mock.sessionKeyOf(openid), SECRET, token], 'the log');
      // Checks pause after an outage, at interval 0 too (checkOutagePause: at least 5 s): the
      // next request goes on unchecked.
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      clock.advance(checkOutagePause(0) - 1);
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      expect(app.mock.callsTo(CHECK), 'paused after the outage').to.have.length(0);
      // Once the pause is over, the next request checks normally.
      clock.advance(1);
      const res2 = await app.http.get('/me').set('X-WX-Session', token);
      expect(res2.status).to.equal(200);
      expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([0]);
    });
  }

  it('a hanging checksession: answered 200 within about the timeout (300 ms), with a warning', async () => {
    const openid = 'oHang';
    const { token } = await app.login(openid);
    // A first request fetches the access token, so the timing below covers the check alone.
    expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
    app.mock.fault(CHECK, { hang: true }, { times: 1 });
    const warnings = app.logger.lines.length;
    const started = Date.now();
    const res = await app.http.get('/me').set('X-WX-Session', token);
    const elapsed = Date.now() - started;
    expect(res.status).to.equal(200);
    expect(res.body.openid).to.equal(openid);
    expect(elapsed, 'waited for the timeout').to.be.at.least(250);
    expect(elapsed, 'not much longer than the timeout').to.be.below(1500);
    expect(app.logger.lines.length).to.be.greaterThan(warnings);
    expectNoSecrets(app.logger.text, [app.mock.appSecret, app.mock.sessionKeyOf(openid), app.mock.currentAccessToken(), SECRET, token], 'the log');
  });
});
