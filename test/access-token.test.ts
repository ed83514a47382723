// Access tokens (DESIGN.md §6, issue part 1): stable_token by default, cached in process until
// expires_in - 300 s, one upstream fetch however many callers wait; a refused token (40001, 40014,
// 42001) is dropped, fetched again and the call retried once; force_refresh only when WeChat hands
// back the very token it refused, at most once per 30 s; configuration errcodes are
// WX_CONFIG_ERROR naming the errcode and never the secret; the accessToken option replaces it all.
// The core runs against the mock WeChat over real HTTP; session.checkKey() and
// session.setUserStorage() are what make it use a token.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { WxSessionError, createWxSession, type WxSession, type WxSessionCore } from '../src/index.js';
import { cacheLifetime, SharedTokenSource, type TokenCache } from '../src/wechat/access-token.js';
import { startMockWeChat, type MockCall, type MockWeChat } from '../src/testing/index.js';
import { coreOptions, SECRET } from './helpers.js';
import { coreFor, errorText, expectNoSecrets, rejectionOf, SharingStore } from './support-keys.js';

const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';
const CONFIG_ERRCODES = [40002, 40013, 40125, 40164, 41002, 41004, 43002, 45009, 89503];

/** force_refresh of each recorded stable_token call, in order (the body is logged with the secret redacted). */
function forceFlags(mock: MockWeChat): unknown[] {
  return mock.callsTo(STABLE).map((call) => (JSON.parse(call.body ?? '{}') as { force_refresh?: unknown }).force_refresh);
}

function errcodes(calls: MockCall[]): Array<number | undefined> {
  return calls.map((call) => call.errcode);
}

async function sessions(core: WxSessionCore, mock: MockWeChat, count: number, prefix = 'oTok'): Promise<WxSession[]> {
  const made: WxSession[] = [];
  for (let i = 0; i < count; i++) made.push((await core.login(mock.issueCode(`${prefix}${String(i).padStart(4, '0')}`))).session);
  return made;
}

function expectWxError(error: unknown, code: string, errcode?: number): WxSessionError {
  expect(error).to.be.instanceOf(WxSessionError);
  const err = error as WxSessionError;
  expect(err.code).to.equal(code);
  if (errcode !== undefined) expect(err.errcode).to.equal(errcode);
  return err;
}

/** Runs `fn` with Date.now (the core's clock and the mock's, which is built on it) `ms` ahead. */
async function withClockAhead<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + ms;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

/** A token from the mock's classic /cgi-bin/token: what a user's own token service would hold. */
async function classicToken(mock: MockWeChat): Promise<string> {
  const query = new URLSearchParams({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret });
  const res = await fetch(`${mock.url}/cgi-bin/token?${query}`);
  const json = (await res.json()) as { access_token?: string };
  if (typeof json.access_token !== 'string') throw new Error('the mock gave no token');
  return json.access_token;
}

describe('access tokens: cacheLifetime', () => {
  it('keeps a 7200 s token 6900 s (expires_in minus 300 s)', () => {
    expect(cacheLifetime(7200)).to.equal(6_900_000);
    expect(cacheLifetime(3600)).to.equal(3_300_000);
  });

  it('keeps a token with 200 s left a while, but never past its expiry', () => {
    const life = cacheLifetime(200);
    expect(life).to.be.greaterThan(0);
    expect(life).to.be.at.most(200_000);
  });

  it('is positive and within the token life for any expires_in', () => {
    for (const seconds of [1, 2, 30, 59, 299, 300, 301, 599, 600, 601, 7200, 86_400]) {
      const life = cacheLifetime(seconds);
      expect(life, `expires_in ${seconds}`).to.be.greaterThan(0);
      expect(life, `expires_in ${seconds}`).to.be.at.most(seconds * 1000);
      if (seconds >= 600) expect(life, `expires_in ${seconds}`).to.equal(seconds * 1000 - 300_000);
    }
  });
});

describe('access tokens: the default stable_token source', () => {
  let mock: MockWeChat;
  let core: WxSessionCore;
  beforeEach(async () => {
    mock = await startMockWeChat();
    core = coreFor(mock).core;
  });
  afterEach(async () => {
    await mock.close();
  });

  it('makes ONE stable_token call for 100 concurrent checkKey() on 100 sessions with an empty cache', async () => {
    const all = await sessions(core, mock, 100);
    mock.resetCalls();
    // A slow stable_token keeps every caller waiting on the one flight.
    mock.fault(STABLE, { delay: 100 }, { times: 1 });
    const results = await Promise.all(all.map((s) => s.checkKey()));
    expect(results).to.deep.equal(all.map(() => true));
    expect(mock.callsTo(STABLE)).to.have.length(1);
    const checks = mock.callsTo(CHECK);
    expect(checks).to.have.length(100);
    expect(errcodes(checks).every((e) => e === 0), 'every check accepted the one token').to.equal(true);
  });

  it('asks stable_token by POST with a JSON body: grant_type, appid, secret, force_refresh:false', async () => {
    const [session] = await sessions(core, mock, 1);
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    const [call] = mock.callsTo(STABLE);
    expect(call, 'one stable_token call').to.not.equal(undefined);
    expect(call!.method).to.equal('POST');
    expect(call!.status).to.equal(200);
    expect(call!.errcode).to.equal(0);
    const body = JSON.parse(call!.body ?? 'null') as Record<string, unknown>;
    expect(body).to.deep.equal({ grant_type: 'client_credential', appid: mock.appId, secret: '[redacted]', force_refresh: false });
    expect(call!.query, 'the secret is not in the URL').to.not.have.property('secret');
    expect(mock.callsTo('/cgi-bin/token'), 'never the classic token API').to.have.length(0);
  });

  it('reuses the cached token for later calls (no new fetch)', async () => {
    const all = await sessions(core, mock, 3);
    mock.resetCalls();
    for (const s of all) expect(await s.checkKey()).to.equal(true);
    await all[0]!.setUserStorage([{ key: 'k', value: 'v' }]);
    for (const s of all) expect(await s.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE)).to.have.length(1);
    expect(mock.callsTo(CHECK)).to.have.length(6);
  });

  it('keeps the token until expires_in minus 300 s, then fetches again', async () => {
    const [session] = await sessions(core, mock, 1);
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE)).to.have.length(1);
    await withClockAhead(6_890_000, async () => {
      expect(await session!.checkKey()).to.equal(true);
    });
    expect(mock.callsTo(STABLE), 'still cached 10 s before expires_in - 300 s').to.have.length(1);
    await withClockAhead(6_910_000, async () => {
      expect(await session!.checkKey()).to.equal(true);
    });
    expect(mock.callsTo(STABLE), 'fetched again in the last 300 s').to.have.length(2);
    expect(forceFlags(mock)).to.deep.equal([false, false]);
  });

  for (const [what, spoil, errcode] of [
    ['expired (42001)', (m: MockWeChat) => m.expireAccessTokens(), 42001],
    ['revoked (40001)', (m: MockWeChat) => m.revokeAccessTokens(), 40001],
  ] as const) {
    it(`a token WeChat says is ${what}: dropped, fetched again once, the call retried and succeeding`, async () => {
      const [session] = await sessions(core, mock, 1);
      expect(await session!.checkKey()).to.equal(true);
      spoil(mock);
      mock.resetCalls();
      expect(await session!.checkKey()).to.equal(true);
      expect(forceFlags(mock), 'exactly one extra stable_token call, not forced').to.deep.equal([false]);
      expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([errcode, 0]);
      // The new token is cached in turn.
      mock.resetCalls();
      expect(await session!.checkKey()).to.equal(true);
      expect(mock.callsTo(STABLE)).to.have.length(0);
    });
  }

  it('20 concurrent calls that all meet an expired token share one renewal', async () => {
    const all = await sessions(core, mock, 20);
    expect(await all[0]!.checkKey()).to.equal(true);
    mock.expireAccessTokens();
    mock.resetCalls();
    const results = await Promise.all(all.map((s) => s.checkKey()));
    expect(results.every((r) => r === true)).to.equal(true);
    expect(forceFlags(mock)).to.deep.equal([false]);
    expect(mock.callsTo(CHECK)).to.have.length(40);
  });

  it('40014 on an API while stable_token still hands out that token: one forced refresh, then success', async () => {
    const [session] = await sessions(core, mock, 1);
    expect(await session!.checkKey()).to.equal(true);
    mock.resetCalls();
    mock.fault(CHECK, { errcode: 40014 }, { times: 1 });
    expect(await session!.checkKey()).to.equal(true);
    expect(forceFlags(mock)).to.deep.equal([false, true]);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40014, 0]);
  });

  it('a refused token also renews on the signed APIs (setUserStorage after revokeAccessTokens)', async () => {
    const [session] = await sessions(core, mock, 1, 'oTokStore');
    await session!.setUserStorage([{ key: 'level', value: '1' }]);
    mock.revokeAccessTokens();
    mock.resetCalls();
    await session!.setUserStorage([{ key: 'level', value: '2' }]);
    expect(forceFlags(mock)).to.deep.equal([false]);
    expect(errcodes(mock.callsTo('/wxa/set_user_storage'))).to.deep.equal([40001, 0]);
    expect(mock.userStorage(session!.openid)).to.deep.equal({ level: '2' });
  });

  it('retries the call only once: a second refusal rejects', async () => {
    const [session] = await sessions(core, mock, 1);
    expect(await session!.checkKey()).to.equal(true);
    mock.resetCalls();
    mock.fault(CHECK, { errcode: 42001 }, { times: 5 });
    const error = await rejectionOf(session!.checkKey());
    expectWxError(error, 'WX_UPSTREAM_ERROR', 42001);
    expect(mock.callsTo(CHECK), 'the call and one retry').to.have.length(2);
  });

  it('breakStableToken: stable_token keeps returning the refused token -> exactly one force_refresh:true, then success', async () => {
    const [session] = await sessions(core, mock, 1);
    expect(await session!.checkKey()).to.equal(true);
    mock.breakStableToken();
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(forceFlags(mock), 'a plain fetch (same token back), then one forced').to.deep.equal([false, true]);
    expect(errcodes(mock.callsTo(STABLE))).to.deep.equal([0, 0]);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40001, 0]);
    // The forced token is cached.
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE)).to.have.length(0);
  });

  it('20 concurrent calls on a broken stable token force only once', async () => {
    const all = await sessions(core, mock, 20);
    expect(await all[0]!.checkKey()).to.equal(true);
    mock.breakStableToken();
    mock.resetCalls();
    // A slow plain fetch: every caller's 40001 arrives while it is in flight.
    mock.fault(STABLE, { delay: 150 }, { times: 1 });
    const results = await Promise.all(all.map((s) => s.checkKey()));
    expect(results.every((r) => r === true)).to.equal(true);
    expect(forceFlags(mock).filter((f) => f === true)).to.have.length(1);
    expect(forceFlags(mock)).to.deep.equal([false, true]);
  });

  it('forces at most once per 30 s (on its own clock, even when WeChat would allow it), and again after 30 s', async () => {
    const [session] = await sessions(core, mock, 1);
    expect(await session!.checkKey()).to.equal(true);
    mock.breakStableToken();
    expect(await session!.checkKey()).to.equal(true); // the first forced refresh
    // The mock's own 30 s limit is past, so only wx-session's own limit can hold a second force back.
    mock.advanceTime(31_000);
    mock.breakStableToken();
    mock.resetCalls();
    const error = await rejectionOf(session!.checkKey());
    expectWxError(error, 'WX_UPSTREAM_ERROR', 40001);
    expect(forceFlags(mock), 'no second force within 30 s').to.deep.equal([false]);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40001, 40001]);
    // 31 s later on the real clock (which the mock's clock follows) a force is allowed again.
    mock.resetCalls();
    await withClockAhead(31_000, async () => {
      expect(await session!.checkKey()).to.equal(true);
    });
    expect(forceFlags(mock)).to.deep.equal([false, true]);
  });

  it('a failed fetch is not cached: the next call fetches again', async () => {
    const all = await sessions(core, mock, 10);
    mock.resetCalls();
    mock.fault(STABLE, { status: 500 }, { times: 1 });
    const failures = await Promise.all(all.map((s) => rejectionOf(s.checkKey())));
    for (const error of failures) expectWxError(error, 'WX_UPSTREAM_ERROR');
    expect(mock.callsTo(STABLE), 'the failing fetch was shared too').to.have.length(1);
    expect(mock.callsTo(CHECK)).to.have.length(0);
    expect(await all[0]!.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE)).to.have.length(2);
  });

  it('a stable_token that does not answer in time -> WX_UPSTREAM_TIMEOUT', async () => {
    const quick = coreFor(mock, { timeout: 200 }).core;
    const [session] = await sessions(quick, mock, 1);
    mock.fault(STABLE, { hang: true }, { times: 1 });
    const started = Date.now();
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_TIMEOUT');
    expect(Date.now() - started).to.be.below(2000);
  });
});

describe('access tokens: shared between instances through store.accessTokens (as RedisStore offers)', () => {
  let mock: MockWeChat;
  let store: SharingStore;
  let core: WxSessionCore;
  beforeEach(async () => {
    mock = await startMockWeChat();
    store = new SharingStore();
    core = createWxSession(coreOptions(mock, { store }));
  });
  afterEach(async () => {
    await mock.close();
  });

  it('100 concurrent checkKey() on two instances make ONE stable_token call (force_refresh:false)', async () => {
    const other = createWxSession(coreOptions(mock, { store }));
    const mine = await sessions(core, mock, 50, 'oShareA');
    const theirs = await sessions(other, mock, 50, 'oShareB');
    mock.resetCalls();
    mock.fault(STABLE, { delay: 100 }, { times: 1 });
    const results = await Promise.all([...mine, ...theirs].map((s) => s.checkKey()));
    expect(results.every((r) => r === true)).to.equal(true);
    expect(forceFlags(mock)).to.deep.equal([false]);
    expect(mock.callsTo(CHECK)).to.have.length(100);
  });

  it('a token WeChat says is expired: one extra fetch, the call retried and succeeding, the other instance reusing it', async () => {
    const other = createWxSession(coreOptions(mock, { store }));
    const [mine] = await sessions(core, mock, 1, 'oShareC');
    const [theirs] = await sessions(other, mock, 1, 'oShareD');
    expect(await mine!.checkKey()).to.equal(true);
    mock.expireAccessTokens();
    mock.resetCalls();
    expect(await mine!.checkKey()).to.equal(true);
    expect(forceFlags(mock)).to.deep.equal([false]);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([42001, 0]);
    expect(await theirs!.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE), 'the other instance took the shared token').to.have.length(1);
  });

  it('breakStableToken: exactly one force_refresh:true, then success', async () => {
    const [session] = await sessions(core, mock, 1, 'oShareE');
    expect(await session!.checkKey()).to.equal(true);
    mock.breakStableToken();
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(forceFlags(mock)).to.deep.equal([false, true]);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40001, 0]);
  });

  it('a lock holder whose token never reaches the cache (its store node died): the waiter fetches on its own after one call time', async () => {
    const [session] = await sessions(core, mock, 1, 'oShareG');
    // Another instance took the fetch lock (for max(10 s, 2 x timeout)) and then lost its store.
    expect(await store.accessTokens.lock(mock.appId, 'fetch', 10_000)).to.be.a('function');
    mock.resetCalls();
    const started = Date.now();
    expect(await session!.checkKey()).to.equal(true);
    const elapsed = Date.now() - started;
    // timeout (1000 ms in these tests) + 500 ms, not the lock's 10 s.
    expect(elapsed, 'waited about one WeChat call for the holder').to.be.within(1400, 3000);
    expect(forceFlags(mock)).to.deep.equal([false]);
  });

  it('20 concurrent calls on a broken stable token force only once, and all succeed', async () => {
    const all = await sessions(core, mock, 20, 'oShareF');
    expect(await all[0]!.checkKey()).to.equal(true);
    mock.breakStableToken();
    mock.resetCalls();
    // A slow plain fetch: every caller's 40001 arrives while it is in flight.
    mock.fault(STABLE, { delay: 150 }, { times: 1 });
    const results = await Promise.allSettled(all.map((s) => s.checkKey()));
    expect(forceFlags(mock).filter((f) => f === true), 'one force_refresh').to.have.length(1);
    const failed = results.filter((r) => r.status === 'rejected').length;
    expect(failed, 'calls that waited for the forced token instead of retrying with the refused one').to.equal(0);
  });
});

describe('access tokens: configuration errors', () => {
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat();
  });
  afterEach(async () => {
    await mock.close();
  });

  it('a wrong appSecret: checkKey() rejects WX_CONFIG_ERROR 40125, naming the errcode, never the secret', async () => {
    const good = coreFor(mock);
    const { token } = await good.core.login(mock.issueCode('oConfig1'));
    const wrongSecret = 'wrong-app-secret-0f1e2d3c4b5a6978';
    const bad = createWxSession(coreOptions(mock, { appSecret: wrongSecret, store: good.store }));
    const auth = await bad.authenticate(token);
    expect(auth.session, 'the session is readable through the misconfigured core').to.not.equal(null);
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(auth.session!.checkKey()), 'WX_CONFIG_ERROR', 40125);
    expect(error.status).to.equal(500);
    expect(error.message).to.contain('40125');
    expectNoSecrets(errorText(error), [wrongSecret, mock.appSecret, SECRET], 'the error');
    expect(mock.callsTo(STABLE)).to.have.length(1);
    expect(mock.callsTo(CHECK), 'no API call without a token').to.have.length(0);
  });

  it('a wrong appId -> WX_CONFIG_ERROR 40013', async () => {
    const wrongAppId = 'wxnotthisapp00000';
    const good = coreFor(mock);
    const { token: goodToken } = await good.core.login(mock.issueCode('oConfig2'));
    const bad = createWxSession(coreOptions(mock, { appId: wrongAppId, store: good.store }));
    // Sessions belong to one app (DESIGN.md §8): the right app's token is nothing to this core.
    expect((await bad.authenticate(goodToken)).code).to.equal('WX_SESSION_INVALID');
    // A session of the misconfigured core itself. The mock refuses its appId at code2Session too
    // (40013), so this one login is answered as WeChat would answer the app; the stable_token call
    // below meets the mock's real appId check.
    mock.fault('/sns/jscode2session', { body: JSON.stringify({ openid: 'oConfig2', session_key: randomBytes(16).toString('base64') }) }, { times: 1 });
    const { token } = await bad.login(mock.issueCode('oConfig2'));
    const auth = await bad.authenticate(token);
    expect(auth.session, 'the session is readable through the core that made it').to.not.equal(null);
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(auth.session!.checkKey()), 'WX_CONFIG_ERROR', 40013);
    expect(error.status).to.equal(500);
    expect(error.message).to.contain('40013');
    expectNoSecrets(errorText(error), [mock.appSecret, SECRET], 'the error');
    expect(errcodes(mock.callsTo(STABLE)), 'WeChat refused the appId').to.deep.equal([40013]);
    expect(JSON.parse(mock.callsTo(STABLE)[0]!.body ?? '{}').appid).to.equal(wrongAppId);
    expect(mock.callsTo(CHECK), 'no API call without a token').to.have.length(0);
  });

  for (const errcode of CONFIG_ERRCODES) {
    it(`stable_token errcode ${errcode} -> WX_CONFIG_ERROR naming ${errcode}`, async () => {
      const { core } = coreFor(mock);
      const [session] = await sessions(core, mock, 1, 'oCfg');
      mock.fault(STABLE, { errcode }, { times: 1 });
      const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_CONFIG_ERROR', errcode);
      expect(error.status).to.equal(500);
      expect(error.message).to.contain(String(errcode));
      expect(error.toJSON()).to.deep.equal({ code: 'WX_CONFIG_ERROR', message: error.message, errcode });
      expectNoSecrets(errorText(error), [mock.appSecret, SECRET], 'the error');
    });
  }

  it('a configuration errcode from the API itself (checksession 40164) is WX_CONFIG_ERROR too', async () => {
    const { core } = coreFor(mock);
    const [session] = await sessions(core, mock, 1, 'oCfgApi');
    mock.fault(CHECK, { errcode: 40164 }, { times: 1 });
    const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_CONFIG_ERROR', 40164);
    expect(error.message).to.contain('40164');
  });

  it('a configuration errcode from a signed API (set_user_storage 89503) is WX_CONFIG_ERROR too', async () => {
    const { core } = coreFor(mock);
    const [session] = await sessions(core, mock, 1, 'oCfgSigned');
    mock.fault('/wxa/set_user_storage', { errcode: 89503 }, { times: 1 });
    const error = expectWxError(await rejectionOf(session!.setUserStorage([{ key: 'a', value: 'b' }])), 'WX_CONFIG_ERROR', 89503);
    expect(error.message).to.contain('89503');
  });
});

describe('access tokens: the accessToken option (the user\'s own token service)', () => {
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat();
  });
  afterEach(async () => {
    await mock.close();
  });

  it('calls the function instead of stable_token', async () => {
    let asked = 0;
    const { core } = coreFor(mock, { accessToken: async () => { asked++; return classicToken(mock); } });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(await session!.checkKey()).to.equal(true);
    await session!.setUserStorage([{ key: 'k', value: 'v' }]);
    expect(asked).to.be.at.least(1);
    expect(mock.callsTo(STABLE), 'stable_token never called').to.have.length(0);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([0, 0]);
    expect(mock.userStorage('oOwn0000')).to.deep.equal({ k: 'v' });
  });

  it('on 40001 asks the function again once and retries', async () => {
    // A token service with its own cache: it hands out `current`; once WeChat revoked that, the
    // service has a fresh one ready, which the next ask gets.
    let current = await classicToken(mock);
    let ready: string | undefined;
    let asked = 0;
    const { core } = coreFor(mock, {
      accessToken: async () => {
        asked++;
        const token = current;
        if (ready !== undefined) [current, ready] = [ready, undefined];
        return token;
      },
    });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    asked = 0;
    expect(await session!.checkKey()).to.equal(true);
    const perCall = asked;
    expect(perCall).to.be.at.least(1);
    mock.revokeAccessTokens();
    ready = await classicToken(mock);
    mock.resetCalls();
    asked = 0;
    expect(await session!.checkKey()).to.equal(true);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40001, 0]);
    expect(asked, 'asked once more than for a call that went through').to.equal(perCall + 1);
    expect(mock.callsTo(STABLE)).to.have.length(0);
  });

  it('a function that keeps returning a refused token: one retry, then the call rejects', async () => {
    const revoked = await classicToken(mock);
    mock.revokeAccessTokens();
    let asked = 0;
    const { core } = coreFor(mock, { accessToken: async () => { asked++; return revoked; } });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    mock.resetCalls();
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR', 40001);
    expect(mock.callsTo(CHECK)).to.have.length(2);
    expect(asked).to.be.at.least(2);
    expect(mock.callsTo(STABLE)).to.have.length(0);
  });

  it('a function that throws -> WX_UPSTREAM_ERROR, and WeChat is not called', async () => {
    const { core } = coreFor(mock, { accessToken: async () => { throw new Error('token service down'); } });
    const [session] = await sessions(core, mock, 1, 'oOwnFail');
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR');
    expect(error.status).to.equal(502);
    expectWxError(await rejectionOf(session!.setUserStorage([{ key: 'a', value: 'b' }])), 'WX_UPSTREAM_ERROR');
    expect(mock.calls, 'no call reached WeChat').to.have.length(0);
  });

  it('a function that resolves without a token -> WX_UPSTREAM_ERROR', async () => {
    const { core } = coreFor(mock, { accessToken: async () => '' });
    const [session] = await sessions(core, mock, 1, 'oOwnEmpty');
    mock.resetCalls();
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR');
    expect(mock.callsTo(CHECK)).to.have.length(0);
  });

  it('a WxSessionError the function throws passes through as it is', async () => {
    const { core } = coreFor(mock, { accessToken: async () => { throw new WxSessionError('WX_UPSTREAM_TIMEOUT'); } });
    const [session] = await sessions(core, mock, 1, 'oOwnTimeout');
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_TIMEOUT');
  });
});

describe('access tokens: SharedTokenSource.renew() against lookups in flight', () => {
  it('a lookup that read the refused token before renew() dropped it does not hand it back (no force_refresh, which would invalidate the token the other instances just fetched)', async () => {
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    let held: { token: string; until: number } | undefined = { token: 'T1', until: Date.now() + 60_000 };
    let openDrop: () => void = () => {};
    const cache: TokenCache = {
      // Reads now, answers 20 ms later (a lookup in flight).
      get: async () => {
        const seen = held && { token: held.token, ttlMs: held.until - Date.now() };
        await sleep(20);
        return seen;
      },
      set: async (_appId, token, ttlMs) => {
        held = { token, until: Date.now() + ttlMs };
      },
      drop: async (_appId, token) => {
        await new Promise<void>((resolve) => (openDrop = resolve));
        if (held?.token === token) held = undefined;
      },
      lock: async () => async () => {},
    };
    const fetches: boolean[] = [];
    const source = new SharedTokenSource(async (force) => {
      fetches.push(force);
      return { token: force ? 'T-forced' : 'T2', expiresIn: 7200 };
    }, cache, 'wxApp', 10_000, 1500);
    expect(await source.get()).to.equal('T1');
    const renewing = source.renew('T1'); // WeChat refused T1: the drop is under way
    await sleep(1);
    const reading = source.get(); // another request meanwhile: reads T1, not dropped yet
    await sleep(5);
    openDrop();
    expect(await renewing, 'renew()').to.equal('T2');
    expect(await reading, 'the request in between').to.equal('T2');
    expect(fetches, 'stable_token calls (force_refresh)').to.deep.equal([false]);
  });

});
