// WeChat's 87009 (a stale session_key) found by a check, through every adapter
// (docs/session-key.md, "The rules"): keyExpired 'refresh' keeps the session and redeems an
// X-WX-Code of the same openid in place, same token; 'reject' destroys the session.
import { expect } from 'chai';
import { adapters } from '../harness/apps.js';
import { expectStoredKey, hmacHex } from './support/keys.js';
import { sessionIdOf } from './support/stores.js';
import { type App, CHECK, CODE2SESSION, expectClean, expectKeyExpired, start } from './support/key-checks.js';
import { INVALID_TOKEN } from './support/wire.js';

for (const name of adapters) describe(`keyExpired on 87009 (${name})`, () => {
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
});
