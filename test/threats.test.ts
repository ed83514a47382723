// Threats from SECURITY.md that no other file covers head-on, through every adapter: session
// fixation (a login never adopts a token it is handed), a store dump is not a way in (the store
// holds ids, not tokens, and an id without the signing secret's HMAC is refused), and a replayed
// login code (WeChat's one-time code is spent by the first login; the second gets WX_CODE_USED and
// no session).
import { expect } from 'chai';
import { adapters, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { RecordingStore, sessionIdOf } from './support/stores.js';
import { expectErrorBody, forgeToken } from './support/wire.js';

for (const name of adapters) describe(`threats (${name})`, () => {
  let app: TestApp;
  let store: RecordingStore;
  before(async () => {
    store = new RecordingStore();
    app = await startApp(name, { core: { store } });
  });
  after(async () => {
    await app.close();
  });

  const me = (token: string) => app.http.get('/me').set('X-WX-Session', token);

  describe('session fixation', () => {
    it('a login that carries a valid token gets a new session id; the old session is neither reused nor changed', async () => {
      const first = await app.login('oFixA');
      const before = structuredClone(store.recordOf(first.token));
      for (const header of ['X-WX-Session', 'Authorization'] as const) {
        const value = header === 'Authorization' ? `Bearer ${first.token}` : first.token;
        const res = await app.http.post('/wx/login').set(header, value).send({ code: app.mock.issueCode('oFixA') });
        expect(res.status).to.equal(200);
        expect(sessionIdOf(res.body.token)).to.not.equal(sessionIdOf(first.token));
        expect((await me(res.body.token)).body.openid).to.equal('oFixA');
      }
      expect(store.recordOf(first.token)).to.deep.equal(before);
      expect((await me(first.token)).status).to.equal(200);
    });

    it("an attacker's token planted on a victim's login is not adopted: the victim gets a new id, the attacker's token stays the attacker's", async () => {
      const attacker = await app.login('oAttacker');
      const victim = await app.http.post('/wx/login').set('X-WX-Session', attacker.token).send({ code: app.mock.issueCode('oVictim') });
      expect(victim.status).to.equal(200);
      expect(victim.body.openid).to.equal('oVictim');
      expect(sessionIdOf(victim.body.token)).to.not.equal(sessionIdOf(attacker.token));
      expect((await me(attacker.token)).body.openid, "the attacker's token never becomes the victim's session").to.equal('oAttacker');
    });

    it('an unknown, validly signed token on a login is not adopted either', async () => {
      const planted = forgeToken('P'.repeat(43), SECRET);
      const res = await app.http.post('/wx/login').set('X-WX-Session', planted).send({ code: app.mock.issueCode('oFixB') });
      expect(res.status).to.equal(200);
      expect(sessionIdOf(res.body.token)).to.not.equal('P'.repeat(43));
      expectErrorBody((await me(planted)).body, 'WX_SESSION_EXPIRED');
      expect(store.records.has('P'.repeat(43))).to.equal(false);
    });
  });

  describe('store compromise', () => {
    it('the store holds no token and no signature: nothing in a record or its id is a token', async () => {
      const { token } = await app.login('oDump');
      const id = sessionIdOf(token);
      const record = store.records.get(id)!;
      const dump = `${id} ${JSON.stringify(record)} ${record.sessionKey}`;
      expect(dump).to.not.contain(token);
      expect(dump).to.not.contain(token.slice(id.length + 1));
    });

    it('ids taken from a store dump are refused as tokens: bare, with any dot suffix, or signed with another secret', async () => {
      const { token } = await app.login('oDump2');
      const id = sessionIdOf(token);
      const attempts = [id, `${id}.`, `${id}.${'A'.repeat(43)}`, forgeToken(id, 'a-guessed-secret-0123456789abcdef0123'), forgeToken(id, SECRET.slice(0, -1))];
      for (const attempt of attempts) {
        const res = await me(attempt);
        expect(res.status, attempt).to.equal(401);
        expect(res.body.code, attempt).to.equal('WX_SESSION_INVALID');
      }
      expect((await me(token)).status).to.equal(200);
    });
  });

  describe('replayed login code', () => {
    it('the second login with the same code gets 401 WX_CODE_USED and no token, and the first session is untouched', async () => {
      const code = app.mock.issueCode('oReplay');
      const first = await app.http.post('/wx/login').send({ code });
      expect(first.status).to.equal(200);
      const sessions = store.records.size;
      const replay = await app.http.post('/wx/login').send({ code });
      expectErrorBody(replay.body, 'WX_CODE_USED', 40163);
      expect(replay.status).to.equal(401);
      expect(replay.body).to.not.have.property('token');
      expect(store.records.size, 'no session was created by the replay').to.equal(sessions);
      expect((await me(first.body.token)).body.openid).to.equal('oReplay');
    });

    it('a code replayed as X-WX-Code on an authenticated request whose key is fine is not redeemed', async () => {
      const { token } = await app.login('oReplay2');
      const code = app.mock.issueCode('oReplay2');
      const before = app.mock.callsTo('/sns/jscode2session').length;
      expect((await me(token).set('X-WX-Code', code)).status).to.equal(200);
      expect(app.mock.callsTo('/sns/jscode2session').length).to.equal(before);
    });
  });
});
