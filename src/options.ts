// Options of createWxSession: defaults in one frozen object, validated once at construction.
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

export interface WxSessionOptions {
  /** The mini game's AppID. */
  appId: string;
  /** The mini game's AppSecret. Never logged, never answered. */
  appSecret: string;
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
  /** @default 'https://api.weixin.qq.com' */
  apiBase?: string;
  /** Milliseconds per WeChat call. @default 5000 */
  timeout?: number;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** Your own access-token source (a central token service); default: stable_token, cached, single-flight. */
  accessToken?: () => Promise<string>;
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
  /**
   * Mini-game virtual payment 2.0 (`session.payments`): the offer id and AppKey(s) from the
   * virtual payment admin page. `env` 1 is the sandbox and signs with the sandbox AppKey; a plain
   * string `appKey` is taken as the key of the env configured. The AppKeys are secrets: never
   * logged, never answered. Without this option the payment calls reject WX_CONFIG_ERROR.
   */
  payment?: PaymentOptions;
}

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

export interface ResolvedOptions {
  appId: string;
  appSecret: string;
  secrets: readonly string[];
  store: SessionStore | undefined;
  ttlMs: number;
  checkIntervalMs: number | false;
  keyExpired: 'refresh' | 'reject';
  apiBase: string;
  timeout: number;
  fetch: FetchLike;
  accessToken: (() => Promise<string>) | undefined;
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
  timeout: 5000,
  exposeOpenid: true,
  maxSessionsPerUser: 10,
});

const silent: Logger = Object.freeze({ warn() {}, error() {} });

/** Date.now, looked up at each call, so fake timers that replace it (sinon, Jest) move it too. */
export const wallClock = (): number => Date.now();

function fail(message: string): never {
  throw new TypeError(`wx-session: ${message}`);
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function resolvePayment(payment: PaymentOptions | undefined): ResolvedPayment | undefined {
  if (payment === undefined) return undefined;
  if (payment === null || typeof payment !== 'object') fail('payment must be { offerId, appKey, env? }');
  const { offerId, appKey } = payment;
  const env = payment.env ?? 0;
  if (!nonEmpty(offerId)) fail('payment.offerId must be a non-empty string');
  if (env !== 0 && env !== 1) fail('payment.env must be 0 (production) or 1 (sandbox)');
  if (typeof appKey === 'string') {
    if (!nonEmpty(appKey)) fail('payment.appKey must be a non-empty string or { production, sandbox }');
    return { offerId, env, appKey };
  }
  if (appKey === null || typeof appKey !== 'object' || !nonEmpty(appKey.production) || !nonEmpty(appKey.sandbox)) {
    // Names the field only: the value is a secret.
    fail('payment.appKey must be a non-empty string or { production, sandbox } of non-empty strings');
  }
  return { offerId, env, appKey: env === 1 ? appKey.sandbox : appKey.production };
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number`);
  return value;
}

export function resolveOptions(options: WxSessionOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options are required');
  const { appId, appSecret } = options;
  if (typeof appId !== 'string' || appId.length === 0) fail('appId is required');
  if (typeof appSecret !== 'string' || appSecret.length === 0) fail('appSecret is required');

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

  const apiBase = options.apiBase ?? defaults.apiBase;
  if (typeof apiBase !== 'string' || !/^https?:\/\//.test(apiBase)) fail('apiBase must be an http(s) URL');

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
    appId,
    appSecret,
    secrets: Object.freeze([...secrets]),
    store: options.store,
    ttlMs: ttl * 1000,
    checkIntervalMs,
    keyExpired,
    apiBase: apiBase.replace(/\/+$/, ''),
    timeout,
    fetch: fetchImpl,
    accessToken: options.accessToken,
    exposeOpenid: options.exposeOpenid ?? defaults.exposeOpenid,
    maxDataAge: options.maxDataAge,
    logger,
    maxSessionsPerUser,
    now,
    payment: resolvePayment(options.payment),
  };
}
