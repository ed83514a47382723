// Access tokens (docs/access-tokens.md; issue part 1): stable_token by default, cached in process
// until expires_in - 300 s, one upstream fetch however many callers wait; a refused token (40001,
// 40014, 42001) is dropped, fetched again and the call retried once; force_refresh only when WeChat
// hands back the very token it refused, at most once per 30 s. Sharing between instances,
// configuration errcodes and the accessToken option have their own files (access-token-*.test.ts).
// The core runs against the mock WeChat over real HTTP; session.checkKey() and
// session.setUserStorage() are what make it use a token.
import { expect } from 'chai';
import type { WxSessionCore } from '../src/index.js';
import { cacheLifetime, tokenIn } from '../src/wechat/access-token.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreFor } from './support/keys-app.js';
import { rejectionOf } from './support/keys.js';
import { testClock, type TestClock } from './support/clock.js';
import { CHECK, errcodes, expectWxError, forceFlags, sessions, STABLE } from './support/access-tokens.js';

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

describe('tokenIn: the token in a token answer (WeChat, QQ, Douyin under data)', () => {
  it('takes a non-empty access_token and a positive expires_in', () => {
    expect(tokenIn({ access_token: 'T', expires_in: 7200 }, 'stable_token', '/cgi-bin/stable_token')).to.deep.equal({ token: 'T', expiresIn: 7200 });
  });

  it('anything else is WX_UPSTREAM_ERROR naming the call and its endpoint, without errcode', () => {
    const unusable = [undefined, null, {}, { access_token: '', expires_in: 7200 }, { access_token: 5, expires_in: 7200 }, { access_token: 'T' }, { access_token: 'T', expires_in: 0 }, { access_token: 'T', expires_in: '7200' }];
    for (const fields of unusable) {
      let thrown: unknown;
      try {
        tokenIn(fields, 'getToken', '/api/getToken');
      } catch (error) {
        thrown = error;
      }
      const error = expectWxError(thrown, 'WX_UPSTREAM_ERROR');
      expect(error.message, JSON.stringify(fields)).to.equal('getToken answered without access_token or expires_in');
      expect(error.errcode).to.equal(undefined);
      expect(error.endpoint).to.equal('/api/getToken');
    }
  });
});

describe('access tokens: the default stable_token source', () => {
  let mock: MockWeChat;
  let core: WxSessionCore;
  let clock: TestClock;
  beforeEach(async () => {
    mock = await startMockWeChat();
    clock = testClock();
    core = coreFor(mock, { now: clock.now }).core;
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
    clock.advance(6_890_000);
    expect(await session!.checkKey()).to.equal(true);
    expect(mock.callsTo(STABLE), 'still cached 10 s before expires_in - 300 s').to.have.length(1);
    clock.advance(20_000);
    expect(await session!.checkKey()).to.equal(true);
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
    // 31 s later on the core's clock a force is allowed again.
    mock.resetCalls();
    clock.advance(31_000);
    expect(await session!.checkKey()).to.equal(true);
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
