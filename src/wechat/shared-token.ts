// The access token shared between instances through a TokenCache (RedisStore's
// `store.accessTokens`): sealed before the store keeps it, fetched by whichever instance takes
// the lock while the others wait for its token, and forced at most once per 30 s across them all.
import { safeEqual } from '../crypto.js';
import { wallClock } from '../options.js';
import { accessTokenContext, type Sealer } from '../seal.js';
import { SingleFlight } from '../single-flight.js';
import type { TokenCache } from '../store.js';
import { cacheLifetime, FORCE_REFRESH_INTERVAL_MS, type AccessTokenSource, type FetchedToken, type HeldToken } from './access-token.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The TokenCache as the core hands it to SharedTokenSource: the token is sealed before the store
 * keeps it (SECURITY.md, "Store compromise") and opened when read. A value that does not
 * open (another secret, altered) counts as no token: this instance fetches and stores a new one.
 */
export function sealedTokenCache(cache: TokenCache, sealer: Sealer): TokenCache {
  const open = async (appId: string) => {
    const stored = await cache.get(appId);
    if (!stored) return undefined;
    const token = sealer.open(stored.token, accessTokenContext(appId));
    return token === undefined ? undefined : { token, ttlMs: stored.ttlMs, sealed: stored.token };
  };
  return {
    get: async (appId) => {
      const stored = await open(appId);
      return stored && { token: stored.token, ttlMs: stored.ttlMs };
    },
    set: (appId, token, ttlMs) => cache.set(appId, sealer.seal(token, accessTokenContext(appId)), ttlMs),
    drop: async (appId, token) => {
      const stored = await open(appId);
      // The store compares the sealed text it holds, so a token stored meanwhile is kept.
      if (stored && safeEqual(stored.token, token)) await cache.drop(appId, stored.sealed);
    },
    lock: (appId, name, ttlMs) => cache.lock(appId, name, ttlMs),
  };
}

export interface SharedTokenOptions {
  /** One stable_token call. */
  fetchToken: (forceRefresh: boolean) => Promise<FetchedToken>;
  cache: TokenCache;
  appId: string;
  /** How long the fetch lock lives; a lock whose holder died expires after it. */
  lockMs: number;
  /** How long to wait for the lock holder's token before fetching on our own. @default lockMs */
  waitMs?: number;
  /** The core's clock, for the token's expiry and the force_refresh interval. @default Date.now */
  now?: () => number;
}

/**
 * stable_token shared through a TokenCache: the instance that takes the lock fetches, the
 * others wait for its token. A lock whose holder died expires after `lockMs`. Should the cache
 * itself fail, or no token appear within `waitMs` (the holder's store write failed, its Redis
 * node died), this instance fetches on its own rather than stop working: stable_token hands the
 * same token to concurrent callers and invalidates nothing, so the lock only saves calls.
 *
 * The waits for another instance run on real time (Date.now), whatever `now` says: they wait
 * for its network call.
 */
export class SharedTokenSource implements AccessTokenSource {
  readonly #fetch: (forceRefresh: boolean) => Promise<FetchedToken>;
  readonly #cache: TokenCache;
  readonly #appId: string;
  readonly #lockMs: number;
  readonly #waitMs: number;
  readonly #now: () => number;
  #local: HeldToken | undefined;
  #lastForce = -Infinity;
  /** 'fetch': the lookup-or-fetch that callers share; 'force': the force_refresh one. */
  readonly #flights = new SingleFlight<'fetch' | 'force', string>();
  /**
   * The last tokens WeChat refused here: never taken from the shared cache again. A lookup that
   * was in flight when the refusal came (or a drop that could not reach the cache) would
   * otherwise hand the refused token back, and renew() would take it for WeChat handing back the
   * refused token (force_refresh, which invalidates the token the other instances just fetched).
   */
  readonly #refused: string[] = [];
  /**
   * Until then (Date.now), a fetch lock found held is taken for one left behind: its holder's
   * token never came (its store write failed, or its release did, in a failover), so the lock
   * will sit until it expires. Waiting for it again at each token expiry would stall every
   * request for a WeChat call time each time; fetching on our own only costs a call.
   */
  #staleLockUntil = 0;

  constructor(options: SharedTokenOptions) {
    this.#fetch = options.fetchToken;
    this.#cache = options.cache;
    this.#appId = options.appId;
    this.#lockMs = options.lockMs;
    this.#waitMs = options.waitMs ?? options.lockMs;
    this.#now = options.now ?? wallClock;
  }

  get(): Promise<string> {
    const local = this.#local;
    if (local && this.#now() < local.refreshAt) return Promise.resolve(local.token);
    return this.#single();
  }

  #isRefused(token: string): boolean {
    return this.#refused.some((refused) => safeEqual(refused, token));
  }

  /** The shared token, unless WeChat refused it here. */
  async #shared(): Promise<{ token: string; ttlMs: number } | undefined> {
    const shared = await this.#cache.get(this.#appId);
    return shared && !this.#isRefused(shared.token) ? shared : undefined;
  }

  async renew(rejected: string): Promise<string> {
    if (this.#local && !safeEqual(this.#local.token, rejected)) return this.#local.token;
    const forcing = this.#flights.current('force');
    if (forcing) return forcing;
    if (!this.#isRefused(rejected)) {
      this.#refused.push(rejected);
      if (this.#refused.length > 8) this.#refused.shift();
    }
    this.#local = undefined;
    await this.#cache.drop(this.#appId, rejected).catch(() => {});
    const token = await this.#single();
    if (!safeEqual(token, rejected)) return token;
    // WeChat keeps handing back the refused token: callers here share one forced refresh.
    return this.#flights.run('force', () => this.#force(rejected));
  }

  /** One force_refresh per 30 s across instances; an instance that loses waits for the winner's token. */
  async #force(rejected: string): Promise<string> {
    let allowed: (() => Promise<void>) | undefined;
    try {
      allowed = await this.#cache.lock(this.#appId, 'force-refresh', FORCE_REFRESH_INTERVAL_MS);
    } catch {
      // The cache is down: this instance keeps the 30 s on its own.
      const now = this.#now();
      if (now - this.#lastForce < FORCE_REFRESH_INTERVAL_MS) return rejected;
      this.#lastForce = now;
      return this.#keep(await this.#fetch(true));
    }
    if (allowed) return this.#keep(await this.#fetch(true));
    const deadline = Date.now() + this.#lockMs;
    while (Date.now() < deadline) {
      await sleep(50);
      const shared = await this.#shared().catch(() => undefined);
      if (shared && !safeEqual(shared.token, rejected) && shared.ttlMs > 0) return this.#hold(shared);
    }
    return rejected;
  }

  #single(): Promise<string> {
    return this.#flights.run('fetch', () => this.#obtain());
  }

  #hold(shared: { token: string; ttlMs: number }): string {
    this.#local = { token: shared.token, refreshAt: this.#now() + shared.ttlMs };
    return shared.token;
  }

  async #keep(fetched: FetchedToken): Promise<string> {
    const ttlMs = cacheLifetime(fetched.expiresIn);
    await this.#cache.set(this.#appId, fetched.token, ttlMs).catch(() => {});
    return this.#hold({ token: fetched.token, ttlMs });
  }

  async #obtain(): Promise<string> {
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      let shared: { token: string; ttlMs: number } | undefined;
      let release: (() => Promise<void>) | undefined;
      try {
        shared = await this.#shared();
        if (!shared || !(shared.ttlMs > 0)) release = await this.#cache.lock(this.#appId, 'fetch', this.#lockMs);
      } catch {
        return this.#keep(await this.#fetch(false)); // the cache is down: fetch on our own
      }
      if (shared && shared.ttlMs > 0) return this.#hold(shared);
      if (release) return this.#fetchHolding(release);
      if (Date.now() < this.#staleLockUntil) return this.#keep(await this.#fetch(false));
      // The holder should have stored a token within one WeChat call: fetch on our own, and wait
      // no more for a lock that may be this one, left behind.
      if (Date.now() > deadline) {
        this.#staleLockUntil = Date.now() + this.#lockMs;
        return this.#keep(await this.#fetch(false));
      }
      await sleep(50);
    }
  }

  /** With the fetch lock held: another instance may have stored a token between our lookup and our lock. */
  async #fetchHolding(release: () => Promise<void>): Promise<string> {
    this.#staleLockUntil = 0; // the lock was free: none is left behind
    try {
      const again = await this.#shared().catch(() => undefined);
      if (again && again.ttlMs > 0) return this.#hold(again);
      return await this.#keep(await this.#fetch(false));
    } finally {
      // A release that failed leaves our lock until it expires: do not wait for it ourselves.
      await release().catch(() => {
        this.#staleLockUntil = Date.now() + this.#lockMs;
      });
    }
  }
}
