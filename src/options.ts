// Options of createWxSession: defaults in one frozen object, validated once at construction.
import { API_BASES, appLogger, fail, resolveApps } from './app-options.js';
import type { SessionStore } from './store.js';

/** A pino- or console-shaped logger. wx-session never passes it a secret. */
export interface Logger {
  warn(message: string, ...rest: unknown[]): void;
  error?(message: string, ...rest: unknown[]): void;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CheckSessionKeyOptions {
  /** Seconds between two checks of one session's key; 0 checks on every request. */
  interval: number;
}

/** The platforms a core serves (docs/platforms.md). */
export type PlatformName = 'wechat' | 'douyin' | 'qq';

/** One app of the `apps` option. */
export interface AppOptions {
  /** The app's AppID on its platform. */
  appId: string;
  /** The app's AppSecret. Never logged, never answered. */
  appSecret: string;
  /** @default 'wechat' */
  platform?: PlatformName;
  /** Mini-game virtual payment 2.0, WeChat apps only (see WxSessionOptions.payment). */
  payment?: PaymentOptions;
  /** @default the platform's: defaults.apiBases[platform] */
  apiBase?: string;
}

/** The options shared by both forms: the one-app `WxSessionOptions` and the several-apps `WxSessionAppsOptions`. */
export interface WxSessionCommonOptions {
  /** Token signing secret(s), each at least 32 characters. Signs with the first, accepts all. */
  secret: string | readonly string[];
  /** @default new MemoryStore() */
  store?: SessionStore;
  /** Session lifetime in seconds; sessions roll when less than half of it is left. @default 604800 (7 days) */
  ttl?: number;
  /** How often to confirm session_key with WeChat, or false for never. @default { interval: 1800 } */
  checkSessionKey?: CheckSessionKeyOptions | false;
  /** What a WeChat 87009 (stale session_key) does. @default 'refresh' */
  keyExpired?: 'refresh' | 'reject';
  /** Milliseconds per WeChat call. @default 5000 */
  timeout?: number;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /**
   * Your own access-token source (a central token service), called with the appId the token is
   * for; default: the platform's token API (stable_token on WeChat and Douyin, getToken on QQ),
   * cached per app, single-flight.
   */
  accessToken?: (appId: string) => Promise<string>;
  /** Whether the login answer includes openid/unionid. @default true */
  exposeOpenid?: boolean;
  /** Refuse encryptedData whose watermark is older than this many seconds. @default undefined (off) */
  maxDataAge?: number;
  /** Where warnings go (checksession outages, save failures). @default silent */
  logger?: Logger;
  /**
   * Most live sessions one openid may hold; a login past it destroys that openid's oldest ones,
   * so one account cannot crowd everyone else out of the store. False for no cap. Needs a store
   * with `limitSessions` (MemoryStore and RedisStore have it). @default 10
   */
  maxSessionsPerUser?: number | false;
  /**
   * The clock, in epoch milliseconds. Session expiry, rolling renewal, the checkSessionKey
   * interval, the pause after a checksession outage, access-token expiry and the `maxDataAge` of
   * encryptedData all read it, and so does the MemoryStore the core makes when `store` is left
   * out. For tests: move time by hand instead of sleeping. A store you pass in keeps its own
   * clock (`new MemoryStore({ now })` shares this one); network timeouts run on real timers.
   * @default Date.now
   */
  now?: () => number;
}

/** One app (docs/api.md, "Options"): `appId` and `appSecret` at the top level. */
export interface WxSessionOptions extends WxSessionCommonOptions {
  /** The mini game's AppID. */
  appId: string;
  /** The mini game's AppSecret. Never logged, never answered. */
  appSecret: string;
  /** The app's platform. @default 'wechat' */
  platform?: PlatformName;
  /** @default the platform's: 'https://api.weixin.qq.com' for WeChat (defaults.apiBases) */
  apiBase?: string;
  /**
   * Mini-game virtual payment 2.0 (`session.payments`): the offer id and AppKey(s) from the
   * virtual payment admin page. `env` 1 is the sandbox and signs with the sandbox AppKey; a plain
   * string `appKey` is taken as the key of the env configured. The AppKeys are secrets: never
   * logged, never answered. Without this option the payment calls reject WX_CONFIG_ERROR.
   */
  payment?: PaymentOptions;
  /** Several apps: WxSessionAppsOptions (giving both forms is a TypeError). */
  apps?: undefined;
}

/**
 * Several apps, each on its platform (docs/several-games.md), instead of a top-level `appId` and
 * `appSecret`: a login names its app (body `appId` or header `X-WX-AppId`), and a token is valid
 * only for the sessions of its app. The fields of one app (`platform`, `apiBase`, `payment`) go in
 * each app.
 */
export interface WxSessionAppsOptions extends WxSessionCommonOptions {
  apps: readonly AppOptions[];
  appId?: undefined;
  appSecret?: undefined;
  platform?: undefined;
  apiBase?: undefined;
  payment?: undefined;
}

/** What createWxSession takes: one app or several. */
export type WxSessionCoreOptions = WxSessionOptions | WxSessionAppsOptions;

export interface PaymentOptions {
  offerId: string;
  appKey: string | { production: string; sandbox: string };
  /** 0 production, 1 sandbox. @default 0 */
  env?: 0 | 1;
}

/** The payment option as the calls use it: the AppKey of the env in force only. */
export interface ResolvedPayment {
  offerId: string;
  env: 0 | 1;
  appKey: string;
}

/** The options of one app as its calls use them: the core's shared options and the app's own. */
export interface ResolvedOptions {
  appId: string;
  appSecret: string;
  platform: PlatformName;
  secrets: readonly string[];
  store: SessionStore | undefined;
  ttlMs: number;
  checkIntervalMs: number | false;
  keyExpired: 'refresh' | 'reject';
  apiBase: string;
  timeout: number;
  fetch: FetchLike;
  accessToken: ((appId: string) => Promise<string>) | undefined;
  exposeOpenid: boolean;
  maxDataAge: number | undefined;
  logger: Logger;
  maxSessionsPerUser: number | false;
  now: () => number;
  payment: ResolvedPayment | undefined;
}

export const defaults = Object.freeze({
  ttl: 7 * 24 * 3600,
  checkSessionKey: Object.freeze({ interval: 1800 }),
  keyExpired: 'refresh' as const,
  apiBase: 'https://api.weixin.qq.com',
  /** Each platform's API base. */
  apiBases: API_BASES,
  timeout: 5000,
  exposeOpenid: true,
  maxSessionsPerUser: 10,
});

const silent: Logger = Object.freeze({ warn() {}, error() {} });

/** Date.now, looked up at each call, so fake timers that replace it (sinon, Jest) move it too. */
export const wallClock = (): number => Date.now();

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number`);
  return value;
}

/**
 * The options every app shares, and those of each app the core serves, in the order given (one
 * for the one-app form): the shared options with the app's own. QQ has no server-side key check,
 * so its apps check none; with several apps, each app's logger names it.
 */
export function resolveOptions(options: WxSessionCoreOptions): { shared: SharedOptions; apps: ResolvedOptions[] } {
  if (options === null || typeof options !== 'object') fail('options are required');
  const apps = resolveApps(options);
  const shared = resolveShared(options);
  const several = apps.length > 1;
  const resolved = apps.map((app) => ({
    ...shared,
    ...app,
    checkIntervalMs: app.platform === 'qq' ? false : shared.checkIntervalMs,
    logger: several ? appLogger(shared.logger, app.appId) : shared.logger,
  }));
  return { shared, apps: resolved };
}

/** The options every app of a core shares (its logger untagged). */
export type SharedOptions = Omit<ResolvedOptions, 'appId' | 'appSecret' | 'platform' | 'apiBase' | 'payment'>;

function resolveShared(options: WxSessionCoreOptions): SharedOptions {
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (!Array.isArray(secrets) || secrets.length === 0) fail('secret must be a string or a non-empty array of strings');
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length < 32) fail('every secret must be a string of at least 32 characters');
  }

  const ttl = positive(options.ttl ?? defaults.ttl, 'ttl');
  const timeout = positive(options.timeout ?? defaults.timeout, 'timeout');

  let checkIntervalMs: number | false;
  const check = options.checkSessionKey ?? defaults.checkSessionKey;
  if (check === false) checkIntervalMs = false;
  else if (check && typeof check === 'object' && typeof check.interval === 'number' && check.interval >= 0 && Number.isFinite(check.interval)) {
    checkIntervalMs = check.interval * 1000;
  } else fail('checkSessionKey must be false or { interval: seconds >= 0 }');

  const keyExpired = options.keyExpired ?? defaults.keyExpired;
  if (keyExpired !== 'refresh' && keyExpired !== 'reject') fail("keyExpired must be 'refresh' or 'reject'");

  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') fail('fetch must be a function');
  if (options.accessToken !== undefined && typeof options.accessToken !== 'function') fail('accessToken must be a function returning a promise');
  if (options.store !== undefined) {
    const s = options.store as Partial<SessionStore> | null;
    if (!s || typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.destroy !== 'function') {
      fail('store must implement get, set and destroy');
    }
  }
  if (options.maxDataAge !== undefined) positive(options.maxDataAge, 'maxDataAge');
  const logger = options.logger ?? silent;
  if (typeof logger.warn !== 'function') fail('logger must have a warn method');
  const maxSessionsPerUser = options.maxSessionsPerUser ?? defaults.maxSessionsPerUser;
  if (maxSessionsPerUser !== false && !(Number.isInteger(maxSessionsPerUser) && maxSessionsPerUser >= 1)) {
    fail('maxSessionsPerUser must be a positive integer or false');
  }
  const now = options.now ?? wallClock;
  if (typeof now !== 'function') fail('now must be a function returning epoch milliseconds');

  return {
    secrets: Object.freeze([...secrets]),
    store: options.store,
    ttlMs: ttl * 1000,
    checkIntervalMs,
    keyExpired,
    timeout,
    fetch: fetchImpl,
    accessToken: options.accessToken,
    exposeOpenid: options.exposeOpenid ?? defaults.exposeOpenid,
    maxDataAge: options.maxDataAge,
    logger,
    maxSessionsPerUser,
    now,
  };
}
