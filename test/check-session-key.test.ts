// checkSessionKey policy (docs/session-key.md, "The rules"; issue part 2), through every adapter
// over real HTTP against the mock WeChat: when a session's key was last confirmed more than
// `interval` seconds ago the request waits for GET /wxa/checksession, one check at a time per
// session, signed with the session_key. What 87009 does is key-expired.test.ts; outages,
// check-session-key-outages.test.ts.
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters } from '../harness/apps.js';
import { hmacHex, SIGNATURE_VECTORS } from './support/keys.js';
import { testClock } from './support/clock.js';
import { type App, CHECK, CODE2SESSION, checksFor, start } from './support/key-checks.js';

describe("checkSessionKey interval on the core's clock (every adapter)", () => {
  let mock: MockWeChat;
  const apps: App[] = [];
  const clock = testClock();
  before(async () => {
    mock = await startMockWeChat();
    for (const name of adapters) apps.push(await start(name, { checkSessionKey: { interval: 1 }, now: clock.now }, mock));
  });
  after(async () => {
    for (const app of apps) await app.close();
    await mock.close();
  });

  it('interval 1: no check right after login nor 999 ms later, one check at 1 s, then none within the interval', async () => {
    const tokens: string[] = [];
    for (const app of apps) {
      const { token } = await app.login(`oInterval_${app.name}`);
      tokens.push(token);
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      expect(checksFor(mock, `oInterval_${app.name}`), `${app.name}: none right after login`).to.have.length(0);
    }
    clock.advance(999);
    for (const [i, app] of apps.entries()) {
      expect((await app.http.get('/me').set('X-WX-Session', tokens[i]!)).status).to.equal(200);
      expect(checksFor(mock, `oInterval_${app.name}`), `${app.name}: none at 999 ms`).to.have.length(0);
    }
    clock.advance(1);
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
});
