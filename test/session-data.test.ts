// The session object and its lifetime (docs/api.md, "The session"): `data` saved automatically and
// only when changed, JSON without the session_key, a session_key readable on the server only,
// rolling renewal that keeps the token, expiry, destroy and logout.
import { inspect } from 'node:util';
import { expect } from 'chai';
import { adapters, coreOptions, startApp, type TestApp } from '../harness/apps.js';
import { INVALID_TOKEN, expectErrorBody } from './support/wire.js';
import { createWxSession, MemoryStore, type SessionRecord, type SessionStore } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { expectStoredKey } from './support/keys.js';
import { CountingStore, sessionIdOf } from './support/stores.js';
import { testClock } from './support/clock.js';

/** A store that ignores TTLs entirely and lets the test reach its records. */
class ForeverStore implements SessionStore {
  readonly records = new Map<string, SessionRecord>();
  async get(id: string) { return this.records.get(id); }
  async set(id: string, record: SessionRecord) { this.records.set(id, record); }
  async destroy(id: string) { this.records.delete(id); }
}

/** A MemoryStore (on the test's clock) that counts its writes: set, update and touch. */
class WriteCountingStore extends MemoryStore {
  writes = 0;
  override async set(id: string, record: SessionRecord, ttlMs: number) {
    this.writes++;
    return super.set(id, record, ttlMs);
  }
  override async update(id: string, record: SessionRecord, ttlMs: number) {
    this.writes++;
    return super.update(id, record, ttlMs);
  }
  override async touch(id: string, ttlMs: number) {
    this.writes++;
    return super.touch(id, ttlMs);
  }
}

for (const name of adapters) describe(`session data (${name})`, () => {
  let app: TestApp;
  let store: CountingStore;
  before(async () => {
    store = new CountingStore();
    app = await startApp(name, { core: { store } });
  });
  after(async () => { await app.close(); });

  it('saves changes to data automatically (three increments -> coins 3)', async () => {
    const { token } = await app.login();
    for (const expected of [1, 2, 3]) {
      const res = await app.http.post('/me/coins').set('X-WX-Session', token);
      expect(res.status).to.equal(200);
      expect(res.body.coins).to.equal(expected);
    }
    const me = await app.http.get('/me').set('X-WX-Session', token);
    expect(me.body.data).to.deep.equal({ coins: 3 });
  });

  it('does not write to the store when data is unchanged', async () => {
    const { token } = await app.login();
    store.reset();
    await app.http.get('/me').set('X-WX-Session', token).expect(200);
    await app.http.get('/me/json').set('X-WX-Session', token).expect(200);
    await app.http.get('/whoami').set('X-WX-Session', token).expect(200);
    expect(store.counts.get).to.be.at.least(3);
    expect(store.writes, 'set + touch calls').to.equal(0);
    await app.http.post('/me/coins').set('X-WX-Session', token).expect(200);
    expect(store.counts.set, 'one write for one change').to.equal(1);
    expect(store.written[0]!.data).to.deep.equal({ coins: 1 });
    // set's ttlMs is the remaining lifetime, expiresAt - now.
    const remaining = store.written[0]!.expiresAt - Date.now();
    expect(store.ttls[0]).to.be.within(remaining - 100, remaining + 1000);
  });

  it('keeps the session_key in the record when saving data', async () => {
    const openid = 'oKeepsKey';
    const { token } = await app.login(openid);
    store.reset();
    await app.http.post('/me/coins').set('X-WX-Session', token).expect(200);
    // Kept sealed (SECURITY.md, "Store compromise"): the rewritten record still opens to the key.
    expectStoredKey(store.written[0], sessionIdOf(token), app.mock.appId, app.mock.sessionKeyOf(openid), 'the session_key of the saved record');
    expect(store.written[0]!.openid).to.equal(openid);
  });

  it('JSON.stringify(session) is exactly {openid, data, createdAt, expiresAt}', async () => {
    const { token, openid } = await app.login();
    await app.http.post('/me/coins').set('X-WX-Session', token).expect(200);
    const res = await app.http.get('/me/json').set('X-WX-Session', token);
    expect(res.status).to.equal(200);
    expect(res.body).to.have.all.keys('openid', 'data', 'createdAt', 'expiresAt');
    expect(res.body.openid).to.equal(openid);
    expect(res.body.data).to.deep.equal({ coins: 1 });
    expect(res.body.expiresAt - res.body.createdAt).to.equal(604800 * 1000);
    expect(Math.abs(res.body.createdAt - Date.now())).to.be.below(10_000);
    expect(res.text).to.not.match(/session_?key/i);
    expect(res.text).to.not.contain(app.mock.sessionKeyOf(openid)!);
  });

  it('JSON.stringify(session) includes unionid when there is one', async () => {
    const openid = 'oWithUnionJson';
    const { token } = await app.login(openid, { unionid: 'uJson' });
    const res = await app.http.get('/me/json').set('X-WX-Session', token);
    expect(res.body).to.have.all.keys('openid', 'unionid', 'data', 'createdAt', 'expiresAt');
    expect(res.body.unionid).to.equal('uJson');
    expect(res.text).to.not.contain(app.mock.sessionKeyOf(openid)!);
  });

  it('POST /me/destroy ends the session: the token is refused afterwards', async () => {
    const { token } = await app.login();
    const res = await app.http.post('/me/destroy').set('X-WX-Session', token);
    expect(res.status).to.equal(204);
    const after = await app.http.get('/me').set('X-WX-Session', token);
    expect(after.status).to.equal(401);
    expectErrorBody(after.body, 'WX_SESSION_EXPIRED');
    expect(after.headers['www-authenticate']).to.equal(INVALID_TOKEN);
  });

  describe('logout', () => {
    it('answers 204 without a token', async () => {
      const res = await app.http.post('/wx/logout');
      expect(res.status).to.equal(204);
      expect(res.text).to.equal('');
    });

    it('answers 204 for garbage tokens', async () => {
      for (const value of ['garbage', 'x.y', 'a'.repeat(600), 'no spaces allowed.here']) {
        const res = await app.http.post('/wx/logout').set('X-WX-Session', value);
        expect(res.status, value).to.equal(204);
      }
      const bearer = await app.http.post('/wx/logout').set('Authorization', 'Bearer not-a-token');
      expect(bearer.status).to.equal(204);
    });

    it('answers 204 for a good token and ends that session only', async () => {
      const one = await app.login();
      const two = await app.login();
      const res = await app.http.post('/wx/logout').set('X-WX-Session', one.token);
      expect(res.status).to.equal(204);
      const refused = await app.http.get('/me').set('X-WX-Session', one.token);
      expect(refused.status).to.equal(401);
      expectErrorBody(refused.body, 'WX_SESSION_EXPIRED');
      await app.http.get('/me').set('X-WX-Session', two.token).expect(200);
      // Logging out twice is fine too.
      await app.http.post('/wx/logout').set('Authorization', `Bearer ${one.token}`).expect(204);
    });
  });

  describe("rolling renewal and expiry (ttl 2 s and 1 s, 1.1 s later on the core's clock)", () => {
    const clock = testClock();
    let rolling: TestApp;
    let expiring: TestApp;
    let rollStore: WriteCountingStore;
    let rollToken: string;
    let expToken: string;
    let firstExpiresAt: number;
    let firstCreatedAt: number;

    before(async () => {
      rollStore = new WriteCountingStore({ now: clock.now });
      rolling = await startApp(name, { core: { ttl: 2, store: rollStore, now: clock.now } });
      expiring = await startApp(name, { core: { ttl: 1, now: clock.now }, mock: rolling.mock });
      const loginR = await rolling.login();
      expect(loginR.expiresIn).to.equal(2);
      rollToken = loginR.token;
      expToken = (await expiring.login()).token;
      const first = await rolling.http.get('/me/json').set('X-WX-Session', rollToken).expect(200);
      firstExpiresAt = first.body.expiresAt;
      firstCreatedAt = first.body.createdAt;
      clock.advance(1100);
      rollStore.writes = 0;
    });
    after(async () => {
      await expiring.close();
      await rolling.close();
    });

    it('renews expiresAt once less than half is left, keeping the same token', async () => {
      const res = await rolling.http.get('/me/json').set('X-WX-Session', rollToken);
      expect(res.status).to.equal(200);
      expect(res.body.expiresAt, 'a full ttl from now').to.equal(firstExpiresAt + 1100);
      expect(res.body.createdAt).to.equal(firstCreatedAt);
      expect(res.headers).to.not.have.property('x-wx-session-token');
      expect(rollStore.writes, 'the renewal was stored').to.equal(1);
      // The stored session moved too: the next request reads the new expiry, writes nothing.
      rollStore.writes = 0;
      const again = await rolling.http.get('/me/json').set('X-WX-Session', rollToken);
      expect(again.body.expiresAt).to.equal(res.body.expiresAt);
      expect(rollStore.writes).to.equal(0);
    });

    it('does not write to the store while more than half is left', async () => {
      const { token } = await rolling.login();
      rollStore.writes = 0;
      for (let i = 0; i < 3; i++) await rolling.http.get('/me').set('X-WX-Session', token).expect(200);
      expect(rollStore.writes).to.equal(0);
    });

    it('refuses an expired session with 401 WX_SESSION_EXPIRED', async () => {
      const res = await expiring.http.get('/me').set('X-WX-Session', expToken);
      expect(res.status).to.equal(401);
      expectErrorBody(res.body, 'WX_SESSION_EXPIRED');
      expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
      const who = await expiring.http.get('/whoami').set('X-WX-Session', expToken);
      expect(who.body).to.deep.equal({ session: false, openid: null, error: 'WX_SESSION_EXPIRED' });
    });
  });

  describe('a store that ignores TTL', () => {
    let forever: TestApp;
    let foreverStore: ForeverStore;
    before(async () => {
      foreverStore = new ForeverStore();
      forever = await startApp(name, { core: { store: foreverStore } });
    });
    after(async () => { await forever.close(); });

    it('is still safe: a record past its expiresAt is refused', async () => {
      const { token } = await forever.login();
      await forever.http.get('/me').set('X-WX-Session', token).expect(200);
      const [id, record] = [...foreverStore.records.entries()][0]!;
      foreverStore.records.set(id, { ...record, expiresAt: Date.now() - 1 });
      const res = await forever.http.get('/me').set('X-WX-Session', token);
      expect(res.status).to.equal(401);
      expectErrorBody(res.body, 'WX_SESSION_EXPIRED');
    });
  });
});

describe('session object (core)', () => {
  let mock: MockWeChat;
  before(async () => { mock = await startMockWeChat(); });
  after(async () => { await mock.close(); });

  it('hides sessionKey from enumeration, JSON and inspection, but lets the server read it', async () => {
    const core = createWxSession(coreOptions(mock));
    const openid = 'oHiddenKey';
    const { session, token } = await core.login(mock.issueCode(openid, { unionid: 'uHiddenKey' }));
    const key = mock.sessionKeyOf(openid)!;
    expect(key).to.be.a('string').with.length(24);

    expect(session.sessionKey).to.equal(key);
    expect(Object.keys(session)).to.not.include('sessionKey');
    const forIn: string[] = [];
    for (const k in session) forIn.push(k);
    expect(forIn).to.not.include('sessionKey');
    expect(Object.entries(session).map(([, v]) => v)).to.not.include(key);
    expect(JSON.stringify({ ...session })).to.not.contain(key);
    expect(Object.getOwnPropertyDescriptor(session, 'sessionKey')?.enumerable ?? false).to.equal(false);

    const json = JSON.stringify(session);
    expect(json).to.not.contain(key).and.not.match(/session_?key/i);
    expect(Object.keys(JSON.parse(json)).sort()).to.deep.equal(['createdAt', 'data', 'expiresAt', 'openid', 'unionid']);

    for (const text of [inspect(session), inspect(session, { showHidden: true, depth: 10, getters: true }), String(session), `${JSON.stringify([session])}`]) {
      expect(text).to.not.contain(key);
    }

    // The same after authenticate (a session rebuilt from the store).
    const again = await core.authenticate(token);
    expect(again.session).to.not.equal(null);
    expect(again.session!.sessionKey).to.equal(key);
    expect(Object.keys(again.session!)).to.not.include('sessionKey');
    expect(inspect(again.session, { showHidden: true, depth: 10, getters: true })).to.not.contain(key);
    expect(JSON.stringify(again.session)).to.not.contain(key);
  });
});
