// Access tokens for the WeChat server APIs: fetched from stable_token, cached in process until
// five minutes before expiry, one fetch at a time however many callers wait. A token WeChat
// refuses is renewed once; force_refresh only when WeChat keeps handing back the refused token.
import { safeEqual } from '../crypto.js';
import { WxSessionError } from '../errors.js';
import { errcodeError } from './errcodes.js';
import { accessTokenContext, type Sealer } from '../seal.js';
import { sourceOf, type WeChatAnswer, type WeChatRequest } from './http.js';

/** Where the WeChat APIs get their access token. Shared by every session of a core. */
export interface AccessTokenSource {
  /** A token believed valid. */
  get(): Promise<string>;
  /** WeChat refused `rejected` (40001/40014/42001): returns another one to retry with. */
  renew(rejected: string): Promise<string>;
}

export interface FetchedToken {
  token: string;
  /** Seconds the token has left, as WeChat said. */
  expiresIn: number;
}

/** Renew this long before WeChat's expiry: stable_token hands out a new token in that window. */
export const RENEW_BEFORE_MS = 300_000;
/** WeChat allows force_refresh once per 30 s; we ask at most that often. */
export const FORCE_REFRESH_INTERVAL_MS = 30_000;

/** How long to keep a token WeChat gave with `expiresIn` seconds left. */
export function cacheLifetime(expiresInSeconds: number): number {
  const life = expiresInSeconds * 1000;
  // Near its end a token is still kept a little, so callers do not each fetch it again.
  return Math.max(life - RENEW_BEFORE_MS, Math.min(life / 2, 30_000));
}

/** Calls `POST /cgi-bin/stable_token`; WeChat's errcodes become WxSessionErrors. */
export async function fetchStableToken(
  call: (request: WeChatRequest) => Promise<WeChatAnswer>,
  appId: string,
  appSecret: string,
  forceRefresh: boolean,
): Promise<FetchedToken> {
  const request: WeChatRequest = {
    method: 'POST',
    path: '/cgi-bin/stable_token',
    query: {},
    body: JSON.stringify({ grant_type: 'client_credential', appid: appId, secret: appSecret, force_refresh: forceRefresh }),
  };
  const answer = await call(request);
  const errcode = answer.errcode ?? 0;
  if (errcode !== 0) throw errcodeError(errcode, 'stable_token', sourceOf(answer, request));
  const { access_token: token, expires_in: expiresIn } = answer;
  if (typeof token !== 'string' || token.length === 0 || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint: request.path, message: 'stable_token answered without access_token or expires_in' });
  }
  return { token, expiresIn };
}

/** The default source: stable_token cached in this process. */
export class StableTokenSource implements AccessTokenSource {
  readonly #fetch: (forceRefresh: boolean) => Promise<FetchedToken>;
  #cached: { token: string; refreshAt: number } | undefined;
  #inflight: Promise<string> | undefined;
  #lastForce = -Infinity;
  #forcing: Promise<string> | undefined;

  constructor(fetchToken: (forceRefresh: boolean) => Promise<FetchedToken>) {
    this.#fetch = fetchToken;
  }

  get(): Promise<string> {
    const cached = this.#cached;
    if (cached && Date.now() < cached.refreshAt) return Promise.resolve(cached.token);
    return this.#load(false);
  }

  async renew(rejected: string): Promise<string> {
    // Another caller may have renewed it already while this one's call was in flight.
    if (this.#cached && !safeEqual(this.#cached.token, rejected)) return this.#cached.token;
    if (this.#forcing) return this.#forcing;
    this.#cached = undefined;
    const token = await this.#load(false);
    if (!safeEqual(token, rejected)) return token;
    // WeChat handed back the very token it refused: only force_refresh repairs that.
    if (this.#forcing) return this.#forcing;
    if (Date.now() - this.#lastForce < FORCE_REFRESH_INTERVAL_MS) return token;
    this.#lastForce = Date.now();
    const forcing = this.#load(true);
    this.#forcing = forcing;
    const clear = () => {
      if (this.#forcing === forcing) this.#forcing = undefined;
    };
    forcing.then(clear, clear);
    return forcing;
  }

  /** Single flight: every caller waiting for a token shares one upstream call. */
  #load(forceRefresh: boolean): Promise<string> {
    if (this.#inflight && !forceRefresh) return this.#inflight;
    const started = Date.now();
    const flight = this.#fetch(forceRefresh).then(
      ({ token, expiresIn }) => {
        this.#cached = { token, refreshAt: started + cacheLifetime(expiresIn) };
        return token;
      },
    );
    this.#inflight = flight;
    const clear = () => {
      if (this.#inflight === flight) this.#inflight = undefined;
    };
    flight.then(clear, clear);
    return flight;
  }
}

/** The user's own token service (`accessToken` option): asked again when WeChat refuses a token. */
export class FunctionTokenSource implements AccessTokenSource {
  readonly #provide: () => Promise<string>;

  constructor(provide: () => Promise<string>) {
    this.#provide = provide;
  }

  async get(): Promise<string> {
    let token: unknown;
    try {
      token = await this.#provide();
    } catch (error) {
      if (error instanceof WxSessionError) throw error;
      throw new WxSessionError('WX_UPSTREAM_ERROR', { message: 'the accessToken option failed to provide a token', cause: error });
    }
    if (typeof token !== 'string' || token.length === 0) {
      throw new WxSessionError('WX_UPSTREAM_ERROR', { message: 'the accessToken option resolved without a token' });
    }
    return token;
  }

  renew(): Promise<string> {
    return this.get();
  }
}

/**
 * Where instances share one access token, so N servers make one stable_token call per token
 * lifetime, not N. RedisStore provides one as `store.accessTokens`.
 */
export interface TokenCache {
  /** The shared token and how long it is still to be used, if any. */
  get(appId: string): Promise<{ token: string; ttlMs: number } | undefined>;
  set(appId: string, token: string, ttlMs: number): Promise<void>;
  /** Forgets the shared token, only if it is still `token`. */
  drop(appId: string, token: string): Promise<void>;
  /** A lock that expires by itself after `ttlMs`; resolves to its release, or undefined when taken. */
  lock(appId: string, name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The TokenCache as the core hands it to SharedTokenSource: the token is sealed before the store
 * keeps it (DESIGN.md §8 "Nothing usable at rest") and opened when read. A value that does not
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

/**
 * stable_token shared through a TokenCache: the instance that takes the lock fetches, the
 * others wait for its token. A lock whose holder died expires after `lockMs`. Should the cache
 * itself fail, or no token appear within `waitMs` (the holder's store write failed, its Redis
 * node died), this instance fetches on its own rather than stop working: stable_token hands the
 * same token to concurrent callers and invalidates nothing, so the lock only saves calls.
 */
export class SharedTokenSource implements AccessTokenSource {
  readonly #fetch: (forceRefresh: boolean) => Promise<FetchedToken>;
  readonly #cache: TokenCache;
  readonly #appId: string;
  readonly #lockMs: number;
  readonly #waitMs: number;
  #local: { token: string; refreshAt: number } | undefined;
  #inflight: Promise<string> | undefined;
  #forcing: Promise<string> | undefined;
  #lastForce = -Infinity;
  /**
   * The last tokens WeChat refused here: never taken from the shared cache again. A lookup that
   * was in flight when the refusal came (or a drop that could not reach the cache) would
   * otherwise hand the refused token back, and renew() would take it for WeChat handing back the
   * refused token (force_refresh, which invalidates the token the other instances just fetched).
   */
  readonly #refused: string[] = [];

  constructor(fetchToken: (forceRefresh: boolean) => Promise<FetchedToken>, cache: TokenCache, appId: string, lockMs: number, waitMs = lockMs) {
    this.#fetch = fetchToken;
    this.#cache = cache;
    this.#appId = appId;
    this.#lockMs = lockMs;
    this.#waitMs = waitMs;
  }

  get(): Promise<string> {
    const local = this.#local;
    if (local && Date.now() < local.refreshAt) return Promise.resolve(local.token);
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
    if (this.#forcing) return this.#forcing;
    if (!this.#isRefused(rejected)) {
      this.#refused.push(rejected);
      if (this.#refused.length > 8) this.#refused.shift();
    }
    this.#local = undefined;
    await this.#cache.drop(this.#appId, rejected).catch(() => {});
    const token = await this.#single();
    if (!safeEqual(token, rejected)) return token;
    // WeChat keeps handing back the refused token: callers here share one forced refresh.
    if (!this.#forcing) {
      const forcing = this.#force(rejected);
      this.#forcing = forcing;
      const clear = () => {
        if (this.#forcing === forcing) this.#forcing = undefined;
      };
      forcing.then(clear, clear);
    }
    return this.#forcing!;
  }

  /** One force_refresh per 30 s across instances; an instance that loses waits for the winner's token. */
  async #force(rejected: string): Promise<string> {
    let allowed: (() => Promise<void>) | undefined;
    let cacheDown = false;
    try {
      allowed = await this.#cache.lock(this.#appId, 'force-refresh', FORCE_REFRESH_INTERVAL_MS);
    } catch {
      cacheDown = true;
    }
    if (cacheDown) {
      if (Date.now() - this.#lastForce < FORCE_REFRESH_INTERVAL_MS) return rejected;
      this.#lastForce = Date.now();
      return this.#keep(await this.#fetch(true));
    }
    if (allowed) return this.#keep(await this.#fetch(true));
    const deadline = Date.now() + this.#lockMs;
    while (Date.now() < deadline) {
      await sleep(50);
      const shared = await this.#shared().catch(() => undefined);
      if (shared && !safeEqual(shared.token, rejected) && shared.ttlMs > 0) {
        this.#local = { token: shared.token, refreshAt: Date.now() + shared.ttlMs };
        return shared.token;
      }
    }
    return rejected;
  }

  #single(): Promise<string> {
    if (this.#inflight) return this.#inflight;
    const flight = this.#obtain();
    this.#inflight = flight;
    const clear = () => {
      if (this.#inflight === flight) this.#inflight = undefined;
    };
    flight.then(clear, clear);
    return flight;
  }

  async #keep(fetched: FetchedToken): Promise<string> {
    const life = cacheLifetime(fetched.expiresIn);
    await this.#cache.set(this.#appId, fetched.token, life).catch(() => {});
    this.#local = { token: fetched.token, refreshAt: Date.now() + life };
    return fetched.token;
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
      if (shared && shared.ttlMs > 0) {
        this.#local = { token: shared.token, refreshAt: Date.now() + shared.ttlMs };
        return shared.token;
      }
      if (release) {
        try {
          // Another instance may have stored a token between our lookup and our lock.
          const again = await this.#shared().catch(() => undefined);
          if (again && again.ttlMs > 0) {
            this.#local = { token: again.token, refreshAt: Date.now() + again.ttlMs };
            return again.token;
          }
          return await this.#keep(await this.#fetch(false));
        } finally {
          await release().catch(() => {});
        }
      }
      // The holder should have stored a token within one WeChat call: fetch on our own.
      if (Date.now() > deadline) return this.#keep(await this.#fetch(false));
      await sleep(50);
    }
  }
}
