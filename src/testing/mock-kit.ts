/**
 * What the core of the mock (mock-wechat.ts) lends to its endpoint files: the shapes of a request,
 * an answer and a route, the state the platforms share (players and their session_keys, login
 * codes, access tokens) behind {@link MockKit} and {@link PlatformKit}, and the user-storage
 * limits every platform applies with its own errcodes. Internal; not part of the public API.
 * @module
 */

/** A JSON answer: HTTP status and body (the shape mock-wechat.ts sends). */
export interface KitAnswer {
  status: number;
  json: Record<string, unknown>;
}

export interface KitRequest {
  query: Record<string, string>;
  body: Buffer;
}

export interface KitRoute {
  method: 'GET' | 'POST';
  handle: (ctx: KitRequest) => KitAnswer;
  /**
   * How this path says an errcode (a `{ errcode }` fault, an errcode forced on a login code):
   * Douyin's paths answer in their own shapes. Default: WeChat's `{errcode, errmsg}`.
   */
  dialect?: (errcode: number, errmsg?: string) => KitAnswer;
}

/** What the endpoint files of WeChat's player APIs and payments use. */
export interface MockKit {
  appId: string;
  now(): number;
  errAnswer(errcode: number, errmsg?: string): KitAnswer;
  checkAccessToken(query: Record<string, string>): KitAnswer | undefined;
  /** The player's current session_key, or undefined for an unknown openid. */
  keyOf(openid: string): string | undefined;
  /** Give the player a new session_key and return it. */
  rotate(openid: string): string;
  hmacHex(key: string, message: Buffer | string): string;
  sameText(a: string, b: string): boolean;
  parseJsonObject(body: Buffer): Record<string, unknown> | undefined;
}

/** A player as the mock keeps it. */
export interface KitUser {
  sessionKey: string;
  unionid?: string;
  /** A Douyin guest, known by an anonymous_openid only. */
  anonymous: boolean;
  storage: Map<string, string>;
  interactive: Map<string, number>;
}

/** What redeeming a login code gave: the player, or why not. */
export type Redeemed =
  | { ok: true; openid: string; user: KitUser }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' }
  /** An errcode the test forced on the code with `issueCode(openid, { errcode })`; the code is not spent. */
  | { ok: false; reason: 'forced'; errcode: number };

/** A token as the token endpoints hand it out. */
export interface IssuedToken {
  access_token: string;
  /** Seconds left. */
  expires_in: number;
}

/** What the platform files need beyond {@link MockKit}. */
export interface PlatformKit extends MockKit {
  /** A query parameter, own properties only. */
  param(query: Record<string, string>, name: string): string | undefined;
  /** Whether `secret` is the app's secret (compared in constant time). */
  secretMatches(secret: unknown): boolean;
  /** 0 for a valid access token, else why not, in WeChat's numbers: 41001 missing, 40001 invalid, 42001 expired. */
  tokenState(value: string | undefined): 0 | 40001 | 41001 | 42001;
  /** Redeem a login code; `anonymous` redeems the codes of `issueAnonymousCode` (and only those). */
  redeemCode(code: string, anonymous: boolean): Redeemed;
  /** A player with an openid (not a guest), or undefined. */
  player(openid: string): KitUser | undefined;
  /** A new token per call; the previous one stays valid `graceMs` more (0: dies at once). */
  classicToken(graceMs: number): IssuedToken;
  /**
   * The stable token: the current one with its remaining life, a new one in its last 5 minutes;
   * `force` replaces it at most once per `intervalMs` and `perDay` times a day (else undefined).
   */
  stableToken(force: boolean, limits: { intervalMs: number; perDay: number }): IssuedToken | undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function param(query: Record<string, string>, name: string): string | undefined {
  return Object.hasOwn(query, name) ? query[name] : undefined;
}

// ---- user storage, the same limits on all three platforms (each answers them with its own errcodes)

const STORAGE_MAX_PAIRS = 128;
const STORAGE_MAX_KEY_BYTES = 128;
const STORAGE_MAX_PAIR_BYTES = 1024;

/** Why a set_user_storage body was refused; nothing was stored then. */
export type KvProblem = 'format' | 'emptyKey' | 'keyTooLong' | 'pairTooLong' | 'tooMany';

/** Apply a `{"kv_list":[{key, value}]}` body to `storage`, all pairs or none. */
export function setKv(storage: Map<string, string>, body: Buffer): KvProblem | undefined {
  const list = parseJsonObject(body)?.kv_list;
  if (!Array.isArray(list)) return 'format';
  const updates = new Map<string, string>();
  for (const item of list) {
    if (!isRecord(item) || typeof item.key !== 'string' || typeof item.value !== 'string') return 'format';
    const keyBytes = Buffer.byteLength(item.key);
    if (keyBytes === 0) return 'emptyKey';
    if (keyBytes > STORAGE_MAX_KEY_BYTES) return 'keyTooLong';
    if (keyBytes + Buffer.byteLength(item.value) > STORAGE_MAX_PAIR_BYTES) return 'pairTooLong';
    updates.set(item.key, item.value);
  }
  let total = storage.size;
  for (const key of updates.keys()) if (!storage.has(key)) total += 1;
  if (total > STORAGE_MAX_PAIRS) return 'tooMany';
  for (const [key, value] of updates) storage.set(key, value);
  return undefined;
}

/** Apply a `{"key":[...]}` body to `storage`. */
export function removeKv(storage: Map<string, string>, body: Buffer): 'format' | undefined {
  const keys = parseJsonObject(body)?.key;
  if (!Array.isArray(keys) || !keys.every((key): key is string => typeof key === 'string')) return 'format';
  for (const key of keys) storage.delete(key);
  return undefined;
}
