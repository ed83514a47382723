// A failing session store (docs/operators.md): the core answers
// WX_STORE_UNAVAILABLE (authenticate resolves it, login rejects with it) and logs a warning without
// a secret, the adapters answer 503, and everything works again once the store is back.
import { expect } from 'chai';
import { adapters, coreOptions, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { SwitchableStore } from './support/stores.js';
import { expectErrorBody, forgeToken } from './support/wire.js';
import { captureLogger, expectNoSecrets, rejectionOf } from './support/keys.js';
import { testClock } from './support/clock.js';
import { WxSessionError, createWxSession } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';

describe('a failing store: the core', () => {
  let mock: MockWeChat;
  before(async () => { mock = await startMockWeChat(); });
  after(async () => { await mock.close(); });

  it('authenticate resolves {session: null, code: WX_STORE_UNAVAILABLE}', async () => {
    const store = new SwitchableStore();
    const core = createWxSession(coreOptions(mock, { store }));
    const { token } = await core.login(mock.issueCode());
    store.failing = true;
    const result = await core.authenticate(token);
    expect(result.session).to.equal(null);
    expect(result.code).to.equal('WX_STORE_UNAVAILABLE');
    store.heal();
    expect((await core.authenticate(token)).session).to.not.equal(null);
  });

  it('authenticate of a forged, validly signed token against a dead store: WX_STORE_UNAVAILABLE', async () => {
    const store = new SwitchableStore();
    store.failing = true;
    const core = createWxSession(coreOptions(mock, { store }));
    const result = await core.authenticate(forgeToken('some-id', SECRET));
    expect(result).to.deep.equal({ session: null, code: 'WX_STORE_UNAVAILABLE' });
  });

  it('an expired session whose destroy fails: WX_SESSION_EXPIRED, and a warning like any store failure, without secrets', async () => {
    const store = new SwitchableStore();
    const logger = captureLogger();
    const clock = testClock();
    const core = createWxSession(coreOptions(mock, { store, logger, ttl: 60, now: clock.now }));
    const { token } = await core.login(mock.issueCode());
    store.failOn.add('destroy');
    clock.advance(60_000);
    expect(await core.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
    await new Promise((resolve) => setImmediate(resolve)); // the destroy is not waited for
    const lines = logger.lines.filter((line) => String(line[1]).includes('expired session'));
    expect(lines).to.deep.equal([['warn', 'wx-session: session store failed to destroy an expired session', { error: store.error.message }]]);
    expectNoSecrets(logger.text, [token, SECRET, mock.appSecret, mock.currentAccessToken()], 'the log');
  });

  it('login rejects with WX_STORE_UNAVAILABLE (status 503)', async () => {
    const store = new SwitchableStore();
    store.failing = true;
    const core = createWxSession(coreOptions(mock, { store }));
    const error = (await rejectionOf(core.login(mock.issueCode()))) as WxSessionError;
    expect(error).to.be.instanceOf(WxSessionError);
    expect(error.code).to.equal('WX_STORE_UNAVAILABLE');
    expect(error.status).to.equal(503);
    expect(error.message).to.not.contain(store.error.message);
  });
});

for (const name of adapters) describe(`a failing store through the adapter (${name})`, () => {
  let app: TestApp;
  let store: SwitchableStore;
  let token: string;
  before(async () => {
    store = new SwitchableStore();
    app = await startApp(name, { core: { store } });
  });
  after(async () => { await app.close(); });
  beforeEach(async () => {
    store.heal();
    ({ token } = await app.login());
  });

  it('a required route answers 503 WX_STORE_UNAVAILABLE', async () => {
    store.failing = true;
    const res = await app.http.get('/me').set('X-WX-Session', token);
    expect(res.status).to.equal(503);
    expectErrorBody(res.body, 'WX_STORE_UNAVAILABLE');
    expect(res.headers).to.not.have.property('www-authenticate');
  });

  it('GET /whoami goes on and reports error WX_STORE_UNAVAILABLE', async () => {
    store.failing = true;
    const res = await app.http.get('/whoami').set('X-WX-Session', token);
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ session: false, openid: null, error: 'WX_STORE_UNAVAILABLE' });
  });

  it('login answers 503 WX_STORE_UNAVAILABLE', async () => {
    store.failing = true;
    const res = await app.http.post('/wx/login').send({ code: app.mock.issueCode() });
    expect(res.status).to.equal(503);
    expectErrorBody(res.body, 'WX_STORE_UNAVAILABLE');
    expect(res.body).to.not.have.property('token');
  });

  it('a failed save of changed data answers 503 WX_STORE_UNAVAILABLE, not the route\'s answer', async () => {
    store.failOn.add('set');
    const res = await app.http.post('/me/coins').set('X-WX-Session', token);
    expect(res.status).to.equal(503);
    expectErrorBody(res.body, 'WX_STORE_UNAVAILABLE');
    store.heal();
    const me = await app.http.get('/me').set('X-WX-Session', token);
    expect(me.body.data).to.deep.equal({});
  });

  it('works again once the store is back', async () => {
    store.failing = true;
    await app.http.get('/me').set('X-WX-Session', token).expect(503);
    store.heal();
    const res = await app.http.get('/me').set('X-WX-Session', token);
    expect(res.status).to.equal(200);
  });
});
