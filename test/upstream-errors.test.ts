// What WeChat (the mock, over real HTTP) can do wrong during code2Session, and what the login
// route answers (README.md, "Errors"): errcodes mapped to their codes and statuses, -1 retried at
// most twice, nothing else retried, timeouts bounded, unreadable answers and network failures 502.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { adapters, sleep, startApp, type TestApp } from '../harness/apps.js';
import { expectErrorBody } from './support/wire.js';
import type { MockFault } from '../src/testing/index.js';

const C2S = '/sns/jscode2session';
const TIMEOUT = 300;

function expectJsonError(res: Response, status: number, code: string, errcode?: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  expectErrorBody(res.body, code, errcode);
  expect(res.body).to.not.have.property('token');
}

for (const name of adapters) describe(`upstream errors (${name})`, () => {
  let app: TestApp;
  before(async () => { app = await startApp(name, { core: { timeout: TIMEOUT } }); });
  after(async () => { await app.close(); });
  beforeEach(() => {
    app.mock.clearFaults();
    app.mock.resetCalls();
  });

  const login = (code: string) => app.http.post('/wx/login').send({ code });
  const c2sCalls = () => app.mock.callsTo(C2S).length;

  describe('errcodes', () => {
    it('40029 (invalid code) -> 401 WX_CODE_INVALID, one call', async () => {
      const res = await login(app.mock.issueCode('o40029', { errcode: 40029 }));
      expectJsonError(res, 401, 'WX_CODE_INVALID', 40029);
      expect(c2sCalls()).to.equal(1);
    });

    it('an unknown code -> 401 WX_CODE_INVALID with errcode 40029', async () => {
      const res = await login('never-issued-by-the-mock');
      expectJsonError(res, 401, 'WX_CODE_INVALID', 40029);
      expect(c2sCalls()).to.equal(1);
    });

    it('a code redeemed twice -> 401 WX_CODE_USED (40163), one call each', async () => {
      const code = app.mock.issueCode('oTwice');
      expect((await login(code)).status).to.equal(200);
      const res = await login(code);
      expectJsonError(res, 401, 'WX_CODE_USED', 40163);
      expect(c2sCalls()).to.equal(2);
    });

    it('40226 (high-risk user) -> 403 WX_USER_BLOCKED, one call', async () => {
      const res = await login(app.mock.issueCode('oBlocked', { errcode: 40226 }));
      expectJsonError(res, 403, 'WX_USER_BLOCKED', 40226);
      expect(c2sCalls()).to.equal(1);
    });

    it('45011 (rate limit) -> 429 WX_RATE_LIMITED with Retry-After: 60, one call', async () => {
      const res = await login(app.mock.issueCode('oTooFast', { errcode: 45011 }));
      expectJsonError(res, 429, 'WX_RATE_LIMITED', 45011);
      expect(res.headers['retry-after']).to.equal('60');
      expect(c2sCalls()).to.equal(1);
    });

    it('an errcode outside the table (61234) -> 502 WX_UPSTREAM_ERROR with that errcode', async () => {
      const res = await login(app.mock.issueCode('oOdd', { errcode: 61234 }));
      expectJsonError(res, 502, 'WX_UPSTREAM_ERROR', 61234);
      expect(c2sCalls()).to.equal(1);
    });

    for (const errcode of [40164, 41002, 41004, 89503, 45009]) {
      it(`${errcode} (the app's own configuration) -> 500 WX_CONFIG_ERROR naming ${errcode}`, async () => {
        const res = await login(app.mock.issueCode('oConfig', { errcode }));
        expectJsonError(res, 500, 'WX_CONFIG_ERROR', errcode);
        expect(res.body.message).to.contain(String(errcode));
        expect(c2sCalls()).to.equal(1);
      });
    }
  });

  describe('retries of -1 (busy)', () => {
    it('-1 once, then success: 200 after exactly 2 calls', async () => {
      const res = await login(app.mock.issueCode('oBusy1', { errcode: -1, times: 1 }));
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oBusy1');
      expect(c2sCalls()).to.equal(2);
    });

    it('-1 twice, then success: 200 after exactly 3 calls', async () => {
      const res = await login(app.mock.issueCode('oBusy2', { errcode: -1, times: 2 }));
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oBusy2');
      expect(c2sCalls()).to.equal(3);
    });

    it('-1 three times: 502 WX_UPSTREAM_ERROR with errcode -1 after exactly 3 calls', async () => {
      const res = await login(app.mock.issueCode('oBusy3', { errcode: -1, times: 3 }));
      expectJsonError(res, 502, 'WX_UPSTREAM_ERROR', -1);
      expect(c2sCalls()).to.equal(3);
    });

    for (const errcode of [40029, 40163, 40226, 45011, 40013, 61234]) {
      it(`${errcode} is never retried`, async () => {
        app.mock.fault(C2S, { errcode }, { times: 1 });
        const res = await login(app.mock.issueCode());
        expect(res.status).to.not.equal(200);
        expect(res.body.errcode).to.equal(errcode);
        expect(c2sCalls()).to.equal(1);
      });
    }
  });

  describe('network faults', () => {
    it(`a delay beyond timeout (${TIMEOUT} ms) -> 504 WX_UPSTREAM_TIMEOUT in bounded time, not retried`, async () => {
      app.mock.fault(C2S, { delay: 2000 }, { times: 1 });
      const started = Date.now();
      const res = await login(app.mock.issueCode('oSlow'));
      const took = Date.now() - started;
      expectJsonError(res, 504, 'WX_UPSTREAM_TIMEOUT');
      expect(took).to.be.at.least(TIMEOUT - 20).and.below(1500);
      // Retries would come before the answer; a short wait also catches one made afterwards.
      await sleep(30);
      expect(c2sCalls(), 'a timed-out code2Session is not retried').to.equal(1);
    });

    it('a delay within timeout is fine', async () => {
      app.mock.fault(C2S, { delay: 50 }, { times: 1 });
      const res = await login(app.mock.issueCode('oBitSlow'));
      expect(res.status).to.equal(200);
      expect(c2sCalls()).to.equal(1);
    });

    it('a hang -> 504 WX_UPSTREAM_TIMEOUT in bounded time, not retried', async () => {
      app.mock.fault(C2S, { hang: true }, { times: 1 });
      const started = Date.now();
      const res = await login(app.mock.issueCode('oHang'));
      expectJsonError(res, 504, 'WX_UPSTREAM_TIMEOUT');
      expect(Date.now() - started).to.be.below(1500);
      expect(c2sCalls()).to.equal(1);
    });

    const garbage: Array<[string, MockFault]> = [
      ['HTTP 500 with an empty body', { status: 500 }],
      ['HTTP 502 with an HTML body', { status: 502, body: '<html>Bad Gateway</html>' }],
      ['HTTP 404', { status: 404, body: 'not found' }],
      ['a non-JSON 200 body', { body: '<html>system busy</html>' }],
      ['an empty 200 body', { body: '' }],
      ['truncated JSON', { body: '{"openid":"oCut","session_key":"abc' }],
      ['a JSON array', { body: '[]' }],
      ['JSON null', { body: 'null' }],
      ['{} (no openid, no session_key)', { body: '{}' }],
      ['an openid without session_key', { body: '{"openid":"oNoKey"}' }],
      ['a session_key without openid', { body: '{"session_key":"c2Vzc2lvbmtleTEyMzQ1Ng=="}' }],
      ['a non-numeric errcode', { body: '{"errcode":"40029","errmsg":"invalid code"}' }],
      ['a connection reset mid-body', { reset: true }],
    ];
    for (const [what, fault] of garbage) {
      it(`${what} -> 502 WX_UPSTREAM_ERROR without errcode`, async () => {
        app.mock.fault(C2S, fault, { times: 1 });
        const res = await login(app.mock.issueCode());
        expectJsonError(res, 502, 'WX_UPSTREAM_ERROR');
        expect(c2sCalls()).to.equal(1);
      });
    }

    it('the server keeps serving logins after all that', async () => {
      const res = await login(app.mock.issueCode('oStillFine'));
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oStillFine');
    });
  });

  describe('wrong credentials', () => {
    let wrongId: TestApp;
    let wrongSecret: TestApp;
    const WRONG_SECRET = 'definitely-not-the-app-secret-9f8e7d';
    before(async () => {
      wrongId = await startApp(name, { mock: app.mock, core: { appId: 'wxwrongappid00000' } });
      wrongSecret = await startApp(name, { mock: app.mock, core: { appSecret: WRONG_SECRET } });
    });
    after(async () => {
      await wrongId.close();
      await wrongSecret.close();
    });

    it('a wrong appId -> 500 WX_CONFIG_ERROR, errcode 40013 named in the message', async () => {
      const res = await wrongId.http.post('/wx/login').send({ code: app.mock.issueCode() });
      expectJsonError(res, 500, 'WX_CONFIG_ERROR', 40013);
      expect(res.body.message).to.contain('40013');
      expect(c2sCalls()).to.equal(1);
    });

    it('a wrong appSecret -> 500 WX_CONFIG_ERROR, errcode 40125, no secret in the answer', async () => {
      const res = await wrongSecret.http.post('/wx/login').send({ code: app.mock.issueCode() });
      expectJsonError(res, 500, 'WX_CONFIG_ERROR', 40125);
      expect(res.body.message).to.contain('40125');
      const everything = res.text + JSON.stringify(res.headers);
      expect(everything).to.not.contain(WRONG_SECRET);
      expect(everything).to.not.contain(app.mock.appSecret);
      expect(c2sCalls()).to.equal(1);
    });
  });

  describe('WeChat unreachable', () => {
    let lonely: TestApp;
    before(async () => {
      lonely = await startApp(name, { core: { timeout: TIMEOUT } });
    });
    after(async () => { await lonely.close(); });

    it('connection refused -> 502 WX_UPSTREAM_ERROR without errcode', async () => {
      const code = lonely.mock.issueCode('oNobodyHome');
      await lonely.mock.close();
      const started = Date.now();
      const res = await lonely.http.post('/wx/login').send({ code });
      expectJsonError(res, 502, 'WX_UPSTREAM_ERROR');
      expect(Date.now() - started).to.be.below(1500);
    });
  });
});
