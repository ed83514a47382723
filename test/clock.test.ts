// The clock option (`now`): session expiry, rolling renewal, the checkSessionKey interval, the
// pause after a checksession outage, access-token renewal, the watermark age of encryptedData and
// the MemoryStore the core makes all follow the injected clock. Time moves by hand, never by
// sleeping; each test would fail if the core read the wall clock instead.
import { expect } from 'chai';
import { adapters, coreOptions, startApp, type TestApp } from '../harness/apps.js';
import { createWxSession, MemoryStore, WxSessionError, type WxSessionOptions } from '../src/index.js';
import { checkOutagePause } from '../src/key-freshness.js';
import { cacheLifetime } from '../src/wechat/access-token.js';
import { sampleId, sampleRecord, startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { testClock, type TestClock } from './support/clock.js';
import { codeWithKey, encryptUserData, rejectionOf, userPayload } from './support/keys.js';
import { expectErrorBody, INVALID_TOKEN } from './support/wire.js';

const CHECK = '/wxa/checksession';
const STABLE = '/cgi-bin/stable_token';
const TTL_MS = 100_000;

for (const name of adapters) describe(`the clock option through the adapter (${name})`, () => {
  let app: TestApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = testClock();
    app = await startApp(name, { core: { ttl: TTL_MS / 1000, now: clock.now } });
  });
  afterEach(async () => {
    await app.close();
  });

  const me = (token: string) => app.http.get('/me/json').set('X-WX-Session', token);

  it('a session answers 200 until its ttl is over, then 401 WX_SESSION_EXPIRED', async () => {
    const { token } = await app.login();
    clock.advance(TTL_MS / 2 - 1); // more than half left: no renewal to move the expiry
    expect((await me(token)).status).to.equal(200);
    clock.advance(TTL_MS / 2 + 1);
    const res = await me(token);
    expect(res.status).to.equal(401);
    expectErrorBody(res.body, 'WX_SESSION_EXPIRED');
    expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
  });

  it('rolling renewal: once less than half is left, expiresAt moves to a full ttl from now, same token', async () => {
    const { token } = await app.login();
    const first = (await me(token)).body.expiresAt as number;
    clock.advance(TTL_MS / 2); // exactly half left: not renewed yet
    expect((await me(token)).body.expiresAt).to.equal(first);
    clock.advance(1);
    const renewed = await me(token);
    expect(renewed.status).to.equal(200);
    expect(renewed.body.expiresAt).to.equal(first + TTL_MS / 2 + 1);
    expect(renewed.headers).to.not.have.property('x-wx-session-token');
    // Past the first expiry, within the renewed one: the renewal was stored.
    clock.advance(TTL_MS * 0.9);
    expect((await me(token)).status).to.equal(200);
  });
});

describe('the clock option in the core', () => {
  let mock: MockWeChat;
  let clock: TestClock;
  before(async () => {
    mock = await startMockWeChat();
  });
  after(async () => {
    await mock.close();
  });
  beforeEach(() => {
    clock = testClock();
    mock.resetCalls();
  });

  const core = (extra: Partial<WxSessionOptions> = {}) => createWxSession(coreOptions(mock, { now: clock.now, ...extra }));

  it('must be a function: TypeError at construction', () => {
    for (const bad of [0, 'now', {}, Date.now()]) {
      expect(() => core({ now: bad as never })).to.throw(TypeError, /^wx-session: now must be a function/);
    }
  });

  it('expiry is checked on the clock even when the store keeps the record (a store on the wall clock)', async () => {
    const wx = core({ ttl: TTL_MS / 1000, store: new MemoryStore() });
    const { token } = await wx.login(mock.issueCode());
    clock.advance(TTL_MS / 2 - 1); // more than half left: no renewal (which the store would time by its own clock)
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    clock.advance(TTL_MS / 2 + 1);
    expect(await wx.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
  });

  it('checkSessionKey interval: no check before the interval is over, one when it is, then none', async () => {
    const wx = core({ checkSessionKey: { interval: 60 } });
    const { token } = await wx.login(mock.issueCode());
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    clock.advance(59_999);
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    expect(mock.callsTo(CHECK), 'none within the interval').to.have.length(0);
    clock.advance(1);
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    expect(mock.callsTo(CHECK).map((call) => call.errcode), 'one check, then the key counts as confirmed').to.deep.equal([0]);
  });

  it('the pause after a checksession outage ends on the clock', async () => {
    const wx = core({ checkSessionKey: { interval: 0 } });
    const { token } = await wx.login(mock.issueCode());
    mock.fault(CHECK, { status: 503 }, { times: 1 });
    expect((await wx.authenticate(token)).session, 'fails open').to.not.equal(null);
    clock.advance(checkOutagePause(0) - 1);
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    expect(mock.callsTo(CHECK), 'paused').to.have.length(1);
    clock.advance(1);
    expect((await wx.authenticate(token)).session).to.not.equal(null);
    expect(mock.callsTo(CHECK).map((call) => call.status)).to.deep.equal([503, 200]);
  });

  it('an access token is used until shortly before it expires on the clock, then fetched again', async () => {
    const wx = core();
    const { session } = await wx.login(mock.issueCode());
    expect(await session.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE)).to.have.length(1);
    const lifetime = cacheLifetime(7200); // expires_in minus 300 s
    clock.advance(lifetime - 10_000);
    expect(await session.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE), 'still cached').to.have.length(1);
    clock.advance(20_000);
    expect(await session.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE), 'renewed').to.have.length(2);
  });

  it('maxDataAge measures the watermark against the clock, at login and in session.decrypt()', async () => {
    const wx = core({ maxDataAge: 60 });
    const { code, sessionKey } = codeWithKey(mock, 'oWatermark');
    const data = encryptUserData(sessionKey, userPayload(mock.appId, {}, Math.floor(clock.now() / 1000)));
    const { session } = await wx.login(code, data);
    expect(session.userInfo).to.not.equal(undefined);
    clock.advance(61_000);
    const error = (() => {
      try {
        session.decrypt(data.encryptedData, data.iv);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).to.be.instanceOf(WxSessionError);
    expect((error as WxSessionError).code).to.equal('WX_BAD_REQUEST');
    const late = codeWithKey(mock, 'oWatermarkLate');
    const stale = encryptUserData(late.sessionKey, userPayload(mock.appId, {}, Math.floor((clock.now() - 61_000) / 1000)));
    expect(await rejectionOf(wx.login(late.code, stale))).to.have.property('code', 'WX_BAD_REQUEST');
  });

  it('the MemoryStore the core makes runs on its clock', async () => {
    const wx = core({ ttl: TTL_MS / 1000 });
    const { token } = await wx.login(mock.issueCode());
    clock.advance(TTL_MS + 1);
    // The store itself no longer has the record: answered at once, without the core's own check.
    expect(wx.authenticateSync(token)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
  });
});

describe('MemoryStore on a given clock', () => {
  it('expires records and extends them (touch) by that clock', async () => {
    const clock = testClock();
    const store = new MemoryStore({ now: clock.now });
    const id = sampleId();
    await store.set(id, { ...sampleRecord(), expiresAt: clock.now() + 1000 }, 1000);
    clock.advance(1000);
    expect(await store.get(id)).to.not.equal(undefined);
    await store.touch(id, 1000);
    expect((await store.get(id))!.expiresAt).to.equal(clock.now() + 1000);
    clock.advance(1000);
    expect(store.peek(id), 'at its ttl').to.not.equal(null);
    clock.advance(1);
    expect(store.peek(id), 'past its ttl').to.equal(null);
    expect(await store.get(id)).to.equal(undefined);
  });

  it('refuses a clock that is not a function', () => {
    expect(() => new MemoryStore({ now: 5 as never })).to.throw(TypeError, /^wx-session: MemoryStore now must be a function/);
  });
});
