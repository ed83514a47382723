// Access tokens for the WeChat server APIs: fetched from stable_token, cached in process until
// five minutes before expiry, one fetch at a time however many callers wait. A token WeChat
// refuses is renewed once; force_refresh only when WeChat keeps handing back the refused token.
// Instances that share one token through the store: shared-token.ts.
import { safeEqual } from '../crypto.js';
import { WxSessionError } from '../errors.js';
import { wallClock } from '../options.js';
import { SingleFlight } from '../single-flight.js';
import { errcodeError } from './errcodes.js';
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
  return tokenIn(answer, 'stable_token', request.path);
}

/**
 * The token in a token answer's `access_token` and `expires_in` (WeChat's and QQ's at the top
 * level, Douyin's under `data`); WX_UPSTREAM_ERROR when either is missing or unusable.
 */
export function tokenIn(fields: Record<string, unknown> | null | undefined, operation: string, endpoint: string): FetchedToken {
  const token = fields?.access_token;
  const expiresIn = fields?.expires_in;
  if (typeof token !== 'string' || token.length === 0 || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${operation} answered without access_token or expires_in` });
  }
  return { token, expiresIn };
}

/** A token in hand and when to stop using it, by the core's clock. */
export interface HeldToken {
  token: string;
  refreshAt: number;
}

/** The default source: stable_token cached in this process. */
export class StableTokenSource implements AccessTokenSource {
  readonly #fetch: (forceRefresh: boolean) => Promise<FetchedToken>;
  readonly #now: () => number;
  #cached: HeldToken | undefined;
  #lastForce = -Infinity;
  /** 'fetch': the plain stable_token call that callers share; 'force': the force_refresh one. */
  readonly #flights = new SingleFlight<'fetch' | 'force', string>();

  constructor(fetchToken: (forceRefresh: boolean) => Promise<FetchedToken>, now: () => number = wallClock) {
    this.#fetch = fetchToken;
    this.#now = now;
  }

  get(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return Promise.resolve(cached.token);
    return this.#load();
  }

  async renew(rejected: string): Promise<string> {
    // Another caller may have renewed it already while this one's call was in flight.
    if (this.#cached && !safeEqual(this.#cached.token, rejected)) return this.#cached.token;
    const forcing = this.#flights.current('force');
    if (forcing) return forcing;
    this.#cached = undefined;
    const token = await this.#load();
    if (!safeEqual(token, rejected)) return token;
    // WeChat handed back the very token it refused: only force_refresh repairs that.
    return this.#flights.current('force') ?? this.#force(token);
  }

  /** A force_refresh, at most one per FORCE_REFRESH_INTERVAL_MS; within it, `token` as it is. */
  #force(token: string): Promise<string> {
    const now = this.#now();
    if (now - this.#lastForce < FORCE_REFRESH_INTERVAL_MS) return Promise.resolve(token);
    this.#lastForce = now;
    return this.#flights.run('force', () => this.#fetchAndCache(true));
  }

  /** Every caller waiting for a token shares one upstream call: a forced one, if under way. */
  #load(): Promise<string> {
    return this.#flights.current('force') ?? this.#flights.run('fetch', () => this.#fetchAndCache(false));
  }

  async #fetchAndCache(forceRefresh: boolean): Promise<string> {
    const started = this.#now();
    const { token, expiresIn } = await this.#fetch(forceRefresh);
    this.#cached = { token, refreshAt: started + cacheLifetime(expiresIn) };
    return token;
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
