// checkSessionKey policy (DESIGN.md §3, §4, §7; issue part 2), through every adapter over real
// HTTP against the mock WeChat: when a session's key was last confirmed more than `interval`
// seconds ago the request waits for GET /wxa/checksession, one check at a time per session;
// 87009 applies keyExpired ('refresh' redeems X-WX-Code of the same openid in place, 'reject'
// destroys the session); an outage of checksession fails open with a warning and no secret.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters, sleep, startApp, SECRET, type TestApp } from './helpers.js';
import { captureLogger, expectNoSecrets, expectStoredKey, hmacHex, RecordingStore, sessionIdOf, SIGNATURE_VECTORS, withClockAhead } from './support-keys.js';
import type { WxSessionOptions } from '../src/index.js';
import { checkOutagePause } from '../src/core.js';

const CHECK = '/wxa/checksession';
const CODE2SESSION = '/sns/jscode2session';
const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';

interface App extends TestApp {
  store: RecordingStore;
  logger: ReturnType<typeof captureLogger>;
}

async function start(name: (typeof adapters)[number], core: Partial<WxSessionOptions> = {}, mock?: MockWeChat): Promise<App> {
  const store = new RecordingStore();
  const logger = captureLogger();
  const app = await startApp(name, { core: { store, logger, ...core }, ...(mock ? { mock } : {}) });
  return Object.assign(app, { store, logger });
}

function checksFor(mock: MockWeChat, openid: string) {
  return mock.callsTo(CHECK).filter((call) => call.query.openid === openid);
}

function expectKeyExpired(res: Response): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(401);
  expect(res.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
  expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
}

/** Nothing secret in what the client saw. */
function expectClean(res: Response, app: App, openid: string): void {
  const seen = `${res.text}\n${JSON.stringify(res.headers)}`;
  expectNoSecrets(seen, [app.mock.sessionKeyOf(openid), app.mock.appSecret, app.mock.currentAccessToken(), SECRET], 'the answer');
  expect(seen, 'no session_key field').to.not.match(/session_key|sessionKey/);
}

describe('checkSessionKey interval on the real clock (every adapter)', () => {
  let mock: MockWeChat;
  const apps: App[] = [];
  before(async () => {
    mock = await startMockWeChat();
    for (const name of adapters) apps.push(await start(name, { checkSessionKey: { interval: 1 } }, mock));
  });
  after(async () => {
    for (const app of apps) await app.close();
    await mock.close();
  });

  it('interval 1: no check right after login, one check once more than 1 s passed, then none within the interval', async () => {
    const tokens: string[] = [];
    for (const app of apps) {
      const { token } = await app.login(`oInterval_${app.name}`);
      tokens.push(token);
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      expect(checksFor(mock, `oInterval_${app.name}`), `${app.name}: none right after login`).to.have.length(0);
    }
    await sleep(1100);
    for (const [i, app] of apps.entries()) {
      for (let n = 0; n < 3; n++) expect((await app.http.get('/me').set('X-WX-Session', tokens[i]!)).status).to.equal(200);
      const checks = checksFor(mock, `oInterval_${app.name}`);
      expect(checks, `${app.name}: exactly one check for three requests`).to.have.length(1);
      expect(checks[0]!.errcode).to.equal(0);
    }
  });
});

for (const name of adapters) describe(`checkSessionKey (${name})`, () => {
  describe('when it checks', () => {
    it('interval 0 checks on every request', async () => {
      const app = await start(name, { checkSessionKey: { interval: 0 } });
      try {
        const { token } = await app.login('oEvery');
        app.mock.resetCalls();
        for (let i = 0; i < 3; i++) expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([0, 0, 0]);
      } finally {
        await app.close();
      }
    });

    it('the default interval (1800 s): no check right after login; one once the key was confirmed over 1800 s ago, then none', async () => {
      const app = await start(name);
      try {
        const { token } = await app.login('oDefault');
        app.mock.resetCalls();
        for (let i = 0; i < 3; i++) expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        expect(app.mock.callsTo(CHECK), 'none right after login').to.have.length(0);
        app.store.ageKeyCheck(token, 1_790_000);
        expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        expect(app.mock.callsTo(CHECK), 'none at 1790 s').to.have.length(0);
        app.store.ageKeyCheck(token, 20_000);
        for (let i = 0; i < 3; i++) expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        expect(app.mock.callsTo(CHECK), 'one at 1810 s, then recorded').to.have.length(1);
        expect(Date.now() - app.store.recordOf(token)!.keyCheckedAt).to.be.below(5000);
      } finally {
        await app.close();
      }
    });

    it('100 concurrent requests on one session whose key needs checking share ONE checksession call', async () => {
      const app = await start(name);
      try {
        const { token } = await app.login('oConcurrent');
        app.store.ageKeyCheck(token, 3_600_000);
        app.mock.resetCalls();
        app.mock.fault(CHECK, { delay: 200 }, { times: 1 });
        const answers = await Promise.all(Array.from({ length: 100 }, () => app.http.get('/me').set('X-WX-Session', token)));
        expect(answers.map((r) => r.status)).to.deep.equal(answers.map(() => 200));
        expect(answers.every((r) => r.body.openid === 'oConcurrent')).to.equal(true);
        expect(app.mock.callsTo(CHECK)).to.have.length(1);
      } finally {
        await app.close();
      }
    });

    it('signs the check with hex(hmac_sha256(session_key, "")) and sig_method=hmac_sha256', async () => {
      const app = await start(name, { checkSessionKey: { interval: 0 } });
      try {
        const { token } = await app.login('oSignature');
        app.mock.resetCalls();
        expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        const [call] = app.mock.callsTo(CHECK);
        expect(call!.method).to.equal('GET');
        expect(call!.query.openid).to.equal('oSignature');
        expect(call!.query.sig_method).to.equal('hmac_sha256');
        expect(call!.query.access_token, 'sent (and redacted in the log)').to.equal('[redacted]');
        const expected = hmacHex(app.mock.sessionKeyOf('oSignature')!, '');
        expect(call!.query.signature).to.equal(expected).and.match(/^[0-9a-f]{64}$/);
        expect(hmacHex(SIGNATURE_VECTORS.sessionKey, ''), 'the helper matches the official vector').to.equal(SIGNATURE_VECTORS.emptySignature);
        expect(call!.errcode).to.equal(0);
      } finally {
        await app.close();
      }
    });

    it('checkSessionKey: false never calls checksession, even after the key rotated', async () => {
      const app = await start(name, { checkSessionKey: false });
      try {
        const { token } = await app.login('oNever');
        app.mock.rotateSessionKey('oNever');
        app.store.ageKeyCheck(token, 365 * 86_400_000);
        app.mock.resetCalls();
        for (let i = 0; i < 3; i++) expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        expect(app.mock.callsTo(CHECK)).to.have.length(0);
      } finally {
        await app.close();
      }
    });

    it('X-WX-Code on a request whose key is fine is ignored (the code is not redeemed)', async () => {
      for (const checkSessionKey of [{ interval: 0 }, { interval: 1800 }]) {
        const app = await start(name, { checkSessionKey });
        try {
          const { token } = await app.login('oIgnoreCode');
          const code = app.mock.issueCode('oIgnoreCode');
          app.mock.resetCalls();
          const res = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', code);
          expect(res.status).to.equal(200);
          expect(res.headers).to.not.have.property('x-wx-session-token');
          expect(app.mock.callsTo(CODE2SESSION), `interval ${checkSessionKey.interval}: not redeemed`).to.have.length(0);
          const login = await app.http.post('/wx/login').send({ code });
          expect(login.status, 'the code is still unspent').to.equal(200);
        } finally {
          await app.close();
        }
      }
    });
  });

  describe("87009 under keyExpired: 'refresh' (the default)", () => {
    let app: App;
    beforeEach(async () => {
      app = await start(name, { checkSessionKey: { interval: 0 } });
    });
    afterEach(async () => {
      await app.close();
    });

    it('without X-WX-Code: 401 WX_SESSION_KEY_EXPIRED, the session kept; X-WX-Code of the same openid repairs it in place', async () => {
      const openid = 'oRefresh';
      const { token } = await app.login(openid);
      for (let i = 0; i < 2; i++) expect((await app.http.post('/me/coins').set('X-WX-Session', token)).status).to.equal(200);
      const before = app.store.recordOf(token)!;
      const newKey = app.mock.rotateSessionKey(openid);
      app.mock.resetCalls();

      const expired = await app.http.get('/me').set('X-WX-Session', token);
      expectKeyExpired(expired);
      expectClean(expired, app, openid);
      expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([87009]);
      const stale = app.store.recordOf(token);
      expect(stale, 'the session is kept').to.not.equal(undefined);
      expect(stale!.keyStale).to.equal(true);
      expect(stale!.data).to.deep.equal({ coins: 2 });

      // Still expired without a code, and no new check is needed to know it.
      expectKeyExpired(await app.http.get('/me').set('X-WX-Session', token));
      expect(app.mock.callsTo(CHECK)).to.have.length(1);

      const code = app.mock.issueCode(openid);
      const repaired = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', code);
      expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
      expect(repaired.body.openid).to.equal(openid);
      expect(repaired.body.data, 'the session data survived').to.deep.equal({ coins: 2 });
      expect(repaired.headers, 'same token: nothing re-issued').to.not.have.property('x-wx-session-token');
      expectClean(repaired, app, openid);
      expect(app.mock.callsTo(CODE2SESSION).map((c) => c.errcode)).to.deep.equal([0]);

      const after = app.store.recordOf(token)!;
      expectStoredKey(after, sessionIdOf(token), app.mock.appId, newKey, 'the new session_key swapped in');
      expect(after).to.not.have.property('keyStale');
      expect(after.createdAt).to.equal(before.createdAt);
      expect(after.openid).to.equal(openid);

      // The same token keeps working, without a code, and the next check passes with the new key.
      app.mock.resetCalls();
      const later = await app.http.post('/me/coins').set('X-WX-Session', token);
      expect(later.status).to.equal(200);
      expect(later.body.coins).to.equal(3);
      expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([0]);
      expect(app.mock.callsTo(CHECK)[0]!.query.signature).to.equal(hmacHex(newKey, ''));
    });

    it('a request that carries X-WX-Code when the check finds 87009 is repaired at once: 200, same token', async () => {
      const openid = 'oOneShot';
      const { token } = await app.login(openid);
      expect((await app.http.post('/me/coins').set('X-WX-Session', token)).status).to.equal(200);
      const newKey = app.mock.rotateSessionKey(openid);
      const code = app.mock.issueCode(openid);
      app.mock.resetCalls();
      const res = await app.http.post('/me/coins').set('X-WX-Session', token).set('X-WX-Code', code);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.coins, 'the request went on with the session data').to.equal(2);
      expect(res.headers).to.not.have.property('x-wx-session-token');
      expectClean(res, app, openid);
      expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([87009]);
      expect(app.mock.callsTo(CODE2SESSION).map((c) => c.errcode)).to.deep.equal([0]);
      expectStoredKey(app.store.recordOf(token), sessionIdOf(token), app.mock.appId, newKey, 'the new session_key swapped in');
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
    });

    it("another openid's code: 401 WX_SESSION_INVALID, the code was redeemed, nothing of the session changed; the right code still works", async () => {
      const openid = 'oVictim';
      const { token } = await app.login(openid);
      expect((await app.http.post('/me/coins').set('X-WX-Session', token)).status).to.equal(200);
      app.mock.rotateSessionKey(openid);
      expectKeyExpired(await app.http.get('/me').set('X-WX-Session', token));
      const before = structuredClone(app.store.recordOf(token)!);
      app.mock.resetCalls();

      const otherCode = app.mock.issueCode('oIntruder');
      const refused = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', otherCode);
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('WX_SESSION_INVALID');
      expect(refused.headers['www-authenticate']).to.equal(INVALID_TOKEN);
      expect(refused.body).to.not.have.property('openid');
      expect(JSON.stringify(refused.body)).to.not.contain('oIntruder');
      expectClean(refused, app, 'oIntruder');
      expect(app.mock.callsTo(CODE2SESSION).map((c) => c.errcode), "the other openid's code was redeemed").to.deep.equal([0]);
      expect(app.store.recordOf(token), 'the session record is exactly as it was').to.deep.equal(before);
      const used = await app.http.post('/wx/login').send({ code: otherCode });
      expect(used.body.code, 'the code is spent').to.equal('WX_CODE_USED');

      // Nothing was consumed of the session: still stale, still repairable with the right code.
      expectKeyExpired(await app.http.get('/me').set('X-WX-Session', token));
      const repaired = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', app.mock.issueCode(openid));
      expect(repaired.status).to.equal(200);
      expect(repaired.body.openid).to.equal(openid);
      expect(repaired.body.data).to.deep.equal({ coins: 1 });
      expectStoredKey(app.store.recordOf(token), sessionIdOf(token), app.mock.appId, app.mock.sessionKeyOf(openid), 'the right code\'s session_key swapped in');
    });

    it('10 concurrent requests meeting 87009 share one check and all answer WX_SESSION_KEY_EXPIRED', async () => {
      const { token } = await app.login('oConcurrentStale');
      app.mock.rotateSessionKey('oConcurrentStale');
      app.mock.resetCalls();
      app.mock.fault(CHECK, { delay: 150 }, { times: 1 });
      const answers = await Promise.all(Array.from({ length: 10 }, () => app.http.get('/me').set('X-WX-Session', token)));
      for (const res of answers) expectKeyExpired(res);
      expect(app.mock.callsTo(CHECK)).to.have.length(1);
      expect(app.store.recordOf(token), 'kept').to.not.equal(undefined);
    });

    it('a code WeChat refuses (40029) does not repair the key nor end the session', async () => {
      const openid = 'oBadCode';
      const { token } = await app.login(openid);
      app.mock.rotateSessionKey(openid);
      expectKeyExpired(await app.http.get('/me').set('X-WX-Session', token));
      const refused = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', 'not-a-code-the-mock-issued');
      expect(refused.status).to.equal(401);
      expect(app.store.recordOf(token)!.keyStale).to.equal(true);
      const repaired = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', app.mock.issueCode(openid));
      expect(repaired.status).to.equal(200);
    });
  });

  describe("87009 under keyExpired: 'reject'", () => {
    it('401 WX_SESSION_KEY_EXPIRED, the session destroyed (then WX_SESSION_EXPIRED), an X-WX-Code not redeemed', async () => {
      const app = await start(name, { checkSessionKey: { interval: 0 }, keyExpired: 'reject' });
      try {
        const openid = 'oReject';
        const { token } = await app.login(openid);
        app.mock.rotateSessionKey(openid);
        const code = app.mock.issueCode(openid);
        app.mock.resetCalls();
        const first = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', code);
        expectKeyExpired(first);
        expectClean(first, app, openid);
        expect(app.mock.callsTo(CHECK).map((c) => c.errcode)).to.deep.equal([87009]);
        expect(app.mock.callsTo(CODE2SESSION), 'the code is not redeemed under reject').to.have.length(0);
        expect(app.store.recordOf(token), 'destroyed').to.equal(undefined);
        const then = await app.http.get('/me').set('X-WX-Session', token);
        expect(then.status).to.equal(401);
        expect(then.body.code).to.equal('WX_SESSION_EXPIRED');
        expect(then.headers['www-authenticate']).to.equal(INVALID_TOKEN);
        // The game logs in again with its code.
        const again = await app.http.post('/wx/login').send({ code });
        expect(again.status).to.equal(200);
        expect((await app.http.get('/me').set('X-WX-Session', again.body.token)).status).to.equal(200);
      } finally {
        await app.close();
      }
    });
  });

  describe('checksession outages fail open', () => {
    let app: App;
    beforeEach(async () => {
      app = await start(name, { checkSessionKey: { interval: 0 }, timeout: 300 });
    });
    afterEach(async () => {
      await app.close();
    });

    // An outage is a warning; a token WeChat refuses again right after a refresh is the app's own
    // setup (another server replacing tokens), an error (DESIGN.md §8 "Operators see failures").
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
        expect(app.mock.callsTo(CHECK), 'paused after the outage').to.have.length(0);
        // Once the pause is over, the next request checks normally.
        const res2 = await withClockAhead(checkOutagePause(0) + 100, () => app.http.get('/me').set('X-WX-Session', token));
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
});
