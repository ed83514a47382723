// Access tokens shared between instances through `store.accessTokens` (what RedisStore offers):
// one stable_token call for all of them, one force_refresh, a waiter that fetches on its own when
// the lock holder's token never arrives, and a refused token never taken back from the cache.
import { expect } from 'chai';
import { createWxSession, type WxSessionCore } from '../src/index.js';
import { SharedTokenSource } from '../src/wechat/shared-token.js';
import type { TokenCache } from '../src/store.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreOptions } from '../harness/apps.js';
import { SharingStore } from './support/stores.js';
import { CHECK, errcodes, forceFlags, sessions, STABLE } from './support/access-tokens.js';

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

  it('a lock left behind (its holder lost its store in a failover) costs one wait, not one at each token expiry until it expires', async () => {
    // The Cluster soak saw it: every expiry of the access token within the lock's 10 s stalled
    // each instance's key checks for a WeChat call time (5.5 s there), and the players with them.
    const [session] = await sessions(core, mock, 1, 'oShareH');
    expect(await store.accessTokens.lock(mock.appId, 'fetch', 10_000)).to.be.a('function');
    const first = Date.now();
    expect(await session!.checkKey()).to.equal(true);
    expect(Date.now() - first, 'the one wait: about one WeChat call').to.be.within(1400, 3000);
    for (let expiry = 0; expiry < 3; expiry++) {
      mock.expireAccessTokens();
      mock.resetCalls();
      const started = Date.now();
      expect(await session!.checkKey()).to.equal(true);
      expect(Date.now() - started, `ms after expiry ${expiry + 1}, the lock still held`).to.be.below(1000);
      expect(forceFlags(mock), 'one plain fetch').to.deep.equal([false]);
    }
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
    const fetchToken = async (force: boolean) => {
      fetches.push(force);
      return { token: force ? 'T-forced' : 'T2', expiresIn: 7200 };
    };
    const source = new SharedTokenSource({ fetchToken, cache, appId: 'wxApp', lockMs: 10_000, waitMs: 1500 });
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

  it("a holder whose release failed (its store went down after its fetch) does not wait for its own lock at the next expiry", async () => {
    let held: { token: string; until: number } | undefined;
    let locked = false;
    const cache: TokenCache = {
      get: async () => held && { token: held.token, ttlMs: held.until - Date.now() },
      set: async (_appId, token, ttlMs) => {
        held = { token, until: Date.now() + ttlMs };
      },
      drop: async (_appId, token) => {
        if (held?.token === token) held = undefined;
      },
      // The lock is taken once and never released: the release fails, as in a failover.
      lock: async () => {
        if (locked) return undefined;
        locked = true;
        return async () => {
          throw new Error('CLUSTERDOWN The cluster is down');
        };
      },
    };
    let n = 0;
    const fetchToken = async () => ({ token: `T${++n}`, expiresIn: 7200 });
    const source = new SharedTokenSource({ fetchToken, cache, appId: 'wxApp', lockMs: 10_000, waitMs: 1500 });
    expect(await source.get()).to.equal('T1');
    const started = Date.now();
    expect(await source.renew('T1'), 'renew() after WeChat refused T1').to.equal('T2');
    expect(Date.now() - started, 'ms: no wait of 1500 ms for its own lock').to.be.below(1000);
  });
});
