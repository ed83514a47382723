/**
 * A fake of WeChat's server API for tests: a real HTTP server on 127.0.0.1 that speaks the same
 * wire protocol as `https://api.weixin.qq.com` for the endpoints wx-session uses — code2Session,
 * access tokens (stable and classic), checkSessionKey and the signed mini-game storage APIs — and
 * lets a test script WeChat's behaviour: login codes, session_key rotation, a clock, token expiry,
 * and network faults (delays, hangs, HTTP errors, garbage bodies, connection resets).
 * Started with `platform: 'douyin'` or `'qq'`, it fakes Douyin's or QQ's mini-game server API
 * instead, in that platform's dialect (mock-douyin.ts, mock-qq.ts); one mock speaks one platform.
 *
 * It has no dependencies beyond Node's built-ins and never writes to the console.
 *
 * @example
 * ```ts
 * import { startMockWeChat } from 'wx-session/testing';
 *
 * const mock = await startMockWeChat();
 * const wx = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret });
 * const { token } = await wx.login(mock.issueCode('oUser1'));
 * mock.rotateSessionKey('oUser1');            // the next checksession answers 87009
 * mock.fault('/sns/jscode2session', { errcode: -1 }, { times: 2 });
 * await mock.close();
 * ```
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { douyinApis } from './mock-douyin.js';
import { isRecord, param, parseJsonObject, removeKv, setKv } from './mock-kit.js';
import type { KitAnswer, KitRequest, KitRoute, KitUser, PlatformKit, Redeemed } from './mock-kit.js';
import { paymentApis, resolvePaymentOptions } from './mock-payments.js';
import type { MockPayment, MockPaymentOptions, MockPaymentSettings } from './mock-payments.js';
import { playerApis } from './mock-player-apis.js';
import type { MockPhoneOptions } from './mock-player-apis.js';
import { qqApis } from './mock-qq.js';

export type { MockPayment, MockPaymentOptions, MockPaymentSettings, MockPhoneOptions };

/** Whose server API a mock fakes. */
export type MockPlatform = 'wechat' | 'douyin' | 'qq';

/** Options of {@link startMockWeChat}. */
export interface MockWeChatOptions {
  /**
   * The app's appid; requests carrying another one answer 40013.
   * @default 'wxmock0000000000'
   */
  appId?: string;
  /**
   * The app's secret; requests carrying another one answer 40125.
   * @default 32 random hex characters
   */
  appSecret?: string;
  /**
   * Port to listen on (127.0.0.1 only).
   * @default 0 (a free port; read it from {@link MockWeChat.url})
   */
  port?: number;
  /**
   * How long a login code can be redeemed, in milliseconds of the mock's clock.
   * @default 300_000 (5 minutes, as WeChat)
   */
  codeTtl?: number;
  /**
   * How long an access token lives, in seconds of the mock's clock.
   * @default 7200 (as WeChat)
   */
  tokenTtl?: number;
  /** Virtual payment settings (offerId, production and sandbox AppKeys); random by default. */
  payment?: MockPaymentOptions;
  /**
   * Whose server API to fake, in its own dialect: WeChat's (`api.weixin.qq.com`), Douyin's
   * (`/mgplatform/api/apps/…`, mock-douyin.ts) or QQ's (`api.q.qq.com`, mock-qq.ts). The paths of
   * the other platforms answer 404.
   * @default 'wechat'
   */
  platform?: MockPlatform;
}

/** One request the mock received, as recorded in {@link MockWeChat.calls}. Secrets are redacted. */
export interface MockCall {
  /** HTTP method, upper case. */
  method: string;
  /** Path without the query string, e.g. `/sns/jscode2session`. */
  path: string;
  /** Query parameters (first value of each name); `secret` and `access_token` read `'[redacted]'`. */
  query: Record<string, string>;
  /** The request body as UTF-8 text, with secrets redacted; absent when the body was empty or over 64 KiB. */
  body?: string;
  /** HTTP status answered; `0` while the request has not been answered (a hang, a pending delay). */
  status: number;
  /** errcode answered (Douyin's `err_no` where it answers one; `0` for a success, even where the platform omits the field); absent when the answer had none (e.g. a non-JSON fault body). */
  errcode?: number;
  /** When the request arrived, in epoch ms of the mock's clock (see {@link MockWeChat.advanceTime}). */
  at: number;
}

/**
 * A scripted misbehaviour for one path, set with {@link MockWeChat.fault}. A fault replaces the
 * normal handling of the call (no code is spent, no token issued), except `delay`, which answers
 * normally afterwards.
 */
export type MockFault =
  /** Answer normally after `delay` ms (real time, not the mock's clock). */
  | { delay: number }
  /** Never answer; the socket stays open until the client gives up or {@link MockWeChat.close} runs. */
  | { hang: true }
  /** Answer this HTTP status with this body (default: empty). */
  | { status: number; body?: string }
  /** Answer HTTP 200 with this raw body (non-JSON, truncated JSON...), labelled `application/json`. */
  | { body: string }
  /** Send the headers and part of a body, then destroy the socket. */
  | { reset: true }
  /**
   * Answer HTTP 200 `{"errcode": errcode, "errmsg": errmsg}` (errmsg defaults to WeChat's text for
   * that errcode); on a Douyin path, that errcode in the path's own shape (`{error: 1, errcode,
   * errmsg, message}` or `{err_no, err_msg|err_tips, log_id}`).
   */
  | { errcode: number; errmsg?: string };

/** Options of {@link MockWeChat.issueCode}. */
export interface MockIssueCodeOptions {
  /** The openid's unionid, returned with this and every later code2Session answer for that openid. */
  unionid?: string;
  /** Redeeming this code answers this errcode (e.g. -1, 40226, 45011) instead; the code is not spent by it. */
  errcode?: number;
  /** With `errcode`: how many redemptions answer it before the code behaves normally. Default: all of them. */
  times?: number;
  /** Rotate the openid's session_key when this code is redeemed, as a real re-login may. */
  rotate?: boolean;
}

/** Options of {@link MockWeChat.fault}. */
export interface MockFaultOptions {
  /** Apply the fault to the next `times` calls of the path, then drop it. Default: until {@link MockWeChat.clearFaults}. */
  times?: number;
}

/** A running fake WeChat API server. See {@link startMockWeChat}. */
export interface MockWeChat {
  /** Base URL, `http://127.0.0.1:<port>`, to pass as `apiBase`. */
  readonly url: string;
  /** The appid the mock accepts. */
  readonly appId: string;
  /** The secret the mock accepts. */
  readonly appSecret: string;
  /** Whose server API this mock fakes. */
  readonly platform: MockPlatform;
  /**
   * A one-time login code for `openid`, as `wx.login()` would give the game. The first code for an
   * openid creates its session_key. The code can be redeemed once, within `codeTtl`.
   * @param openid default: a fresh random openid (`'oMock…'`, 28 characters)
   */
  issueCode(openid?: string, opts?: MockIssueCodeOptions): string;
  /**
   * Douyin only: a one-time `anonymousCode`, as `tt.login()` gives a player not logged into the
   * host app. Redeemed as `anonymous_code`, it answers `anonymous_openid` and a session_key; the
   * guest's key is `sessionKeyOf(anonymousOpenid)`.
   * @param anonymousOpenid default: a fresh random one (`'aMock…'`, 28 characters)
   * @throws TypeError on a WeChat or QQ mock
   */
  issueAnonymousCode(anonymousOpenid?: string): string;
  /**
   * Give `openid` a new session_key (by default 16 random bytes, base64), as if the game called
   * `wx.login()` on another device. The old key then fails checksession and the signed APIs with
   * 87009 (on Douyin: 28001039). Creates the user if unknown.
   * @param sessionKey the new key (e.g. an official test vector's); default: a random one
   * @returns the new session_key
   */
  rotateSessionKey(openid: string, sessionKey?: string): string;
  /** The current session_key of `openid`, or `undefined` if no code was ever issued for it. */
  sessionKeyOf(openid: string): string | undefined;
  /**
   * Make calls to `path` (e.g. `'/sns/jscode2session'`; any query string is ignored) misbehave.
   * Faults on one path queue up: each call takes the first queued fault; one with `times` leaves
   * the queue after that many calls, one without stays until {@link clearFaults}.
   * Faulted calls are recorded in {@link calls} too.
   */
  fault(path: string, fault: MockFault, opts?: MockFaultOptions): void;
  /** Remove the faults of `path`, or of every path. */
  clearFaults(path?: string): void;
  /** Every request received, in order of arrival (a snapshot). */
  readonly calls: readonly MockCall[];
  /** The recorded calls to `path`. */
  callsTo(path: string): MockCall[];
  /** Forget the recorded calls. */
  resetCalls(): void;
  /** Move the mock's clock forward by `ms` (code expiry, token expiry, force_refresh limits). */
  advanceTime(ms: number): void;
  /** Every access token issued so far now answers 42001 (expired). */
  expireAccessTokens(): void;
  /** Every access token issued so far now answers 40001 (invalid). */
  revokeAccessTokens(): void;
  /**
   * The current stable token now answers 40001 on every API, yet `stable_token` (without
   * `force_refresh`) keeps returning it — the state only `force_refresh: true` repairs.
   */
  breakStableToken(): void;
  /** The most recently issued access token that is still valid (for tests). */
  currentAccessToken(): string | undefined;
  /** A copy of what `set_user_storage` has stored for `openid`. */
  userStorage(openid: string): Record<string, string>;
  /** A copy of what `setuserinteractivedata` has stored for `openid`. */
  userInteractiveData(openid: string): Record<string, number>;
  /** The payment settings (secrets: never print them). */
  readonly payment: MockPaymentSettings;
  /** Set the coins of `openid` in `zoneId` for env 0 (production) or 1 (sandbox). */
  setBalance(openid: string, zoneId: string, amount: number, env?: 0 | 1): void;
  /** The coins of `openid` in `zoneId` (`balance` includes `presentBalance`). */
  balanceOf(openid: string, zoneId: string, env?: 0 | 1): { balance: number; presentBalance: number };
  /** The payment operations applied so far (pay, cancel, present), oldest first. */
  readonly payments: MockPayment[];
  /** A single-use getuserphonenumber code for `openid`, valid 5 minutes of the mock's clock. */
  issuePhoneCode(openid: string, opts?: MockPhoneOptions): string;
  /** What getuserriskrank answers for `openid` (0..4; default 0). */
  setRiskRank(openid: string, rank: number): void;
  /** Make checkencryptedmsg know `encryptedData`; returns its create_time (unix s). */
  registerEncryptedData(encryptedData: string): number;
  /** Stop the server, destroying every open socket (hanging requests included). Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Constants

const DEFAULT_APP_ID = 'wxmock0000000000';
/** node:diagnostics_channel name on which each new mock publishes its secrets, for secret scanners. */
export const SECRETS_CHANNEL = 'wx-session:testing:secrets';
const MAX_BODY_BYTES = 64 * 1024;
const JSON_TYPE = 'application/json; encoding=utf-8'; // what WeChat sends
const REDACTED = '[redacted]';
/** A classic `/cgi-bin/token` call leaves the previous token valid this long. */
const CLASSIC_TOKEN_GRACE_MS = 5 * 60_000;
/** stable_token issues a new token when the current one has less than this left. */
const STABLE_RENEW_BEFORE_MS = 300_000;

/** `force_refresh: true` is allowed once per 30 s and 20 times a day. */
const FORCE_REFRESH_INTERVAL_MS = 30_000;
const FORCE_REFRESH_PER_DAY = 20;
const DAY_MS = 86_400_000;
const INTERACTIVE_KEY = /^(?:[1-9]|[1-4][0-9]|50)$/;
const SENSITIVE_PARAMS = new Set(['secret', 'appsecret', 'access_token']);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** errmsg texts, close to WeChat's own. */
const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  0: 'ok',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  1: 'data not exist',
  40029: 'invalid code',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40164: 'invalid ip, not in whitelist',
  40226: 'high risk user',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  42001: 'access_token expired',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  44002: 'empty post data',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  47001: 'data format error',
  61010: 'user no access in recent time',
  87008: 'invalid sig_method',
  87009: 'invalid signature',
  87016: 'kv too long',
  87017: 'over total',
  87018: 'too many kv',
  87019: 'key too long',
  87081: 'invalid openid',
  87082: 'invalid key',
  89503: 'this call needs to be confirmed by the admin',
  90010: '[signature] signature is invalid',
  90011: '[pay_sig] pay_sig is invalid',
  90012: 'bill_no already exists',
  90013: 'balance not enough',
  90018: 'parameter error',
};

// ---------------------------------------------------------------------------------------------
// Internal state

type UserRecord = KitUser;

interface CodeRecord {
  openid: string;
  /** A Douyin anonymous code: redeemed as `anonymous_code` only. */
  anonymous: boolean;
  issuedAt: number;
  used: boolean;
  rotate: boolean;
  forcedErrcode?: number;
  /** Forced answers left; `Infinity` = always. */
  forcedLeft: number;
}

interface TokenRecord {
  value: string;
  expiresAt: number;
  /** Set when a newer token replaced this one; invalid (40001) from then on. */
  invalidAfter?: number;
  /** Set by breakStableToken: the APIs refuse it (40001) but stable_token keeps serving it. */
  stuck?: boolean;
  /** Set by expireAccessTokens / revokeAccessTokens; the latest call wins. */
  forced?: 'expired' | 'revoked';
}

interface FaultEntry {
  fault: MockFault;
  left: number;
}

type Answer = KitAnswer;
type RequestContext = KitRequest;
type Route = KitRoute;

// ---------------------------------------------------------------------------------------------
// Small helpers

function noop(): void {}

function randomString(length: number, alphabet: string): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

function newSessionKey(): string {
  return randomBytes(16).toString('base64');
}

function hmacHex(sessionKey: string, message: Buffer | string): string {
  // WeChat keys the HMAC with the session_key *string* (its UTF-8 bytes), not its base64 decoding.
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(message).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A request id as WeChat appends it to an error's errmsg (`..., rid: 6476d8b4-2c1e5d7a-0bd8c8d6`). */
function rid(): string {
  const hex = randomBytes(12).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 16)}-${hex.slice(16)}`;
}

/** An errcode answer; WeChat's own texts get a `rid` appended, as WeChat does for errors. */
function errAnswer(errcode: number, errmsg?: string): Answer {
  if (errmsg !== undefined) return { status: 200, json: { errcode, errmsg } };
  const text = ERRMSG[errcode] ?? `mock errcode ${errcode}`;
  return { status: 200, json: { errcode, errmsg: errcode === 0 ? text : `${text}, rid: ${rid()}` } };
}

function okAnswer(json: Record<string, unknown>): Answer {
  return { status: 200, json };
}

/** Split a request target into path and query without ever throwing. */
function parseTarget(raw: string | undefined): { path: string; query: Record<string, string> } {
  let target = raw ?? '/';
  if (!target.startsWith('/')) {
    // absolute-form (`GET http://host/path`) or `*`
    try {
      const url = new URL(target);
      target = url.pathname + url.search;
    } catch {
      // leave it as it is: it will answer 404
    }
  }
  const mark = target.indexOf('?');
  const path = mark < 0 ? target : target.slice(0, mark);
  const entries = new Map<string, string>();
  if (mark >= 0) {
    for (const [name, value] of new URLSearchParams(target.slice(mark + 1))) {
      if (!entries.has(name)) entries.set(name, value);
    }
  }
  return { path, query: Object.fromEntries(entries) };
}

function normalizeFaultPath(path: string): string {
  if (typeof path !== 'string' || path === '') throw new TypeError('wx-session/testing: fault path must be a non-empty string');
  return parseTarget(path).path;
}

function checkFault(fault: MockFault): void {
  const f: unknown = fault;
  if (!isRecord(f)) throw new TypeError('wx-session/testing: a fault must be an object');
  if ('delay' in f) {
    if (typeof f.delay !== 'number' || !Number.isFinite(f.delay) || f.delay < 0) throw new TypeError('wx-session/testing: fault delay must be a number of ms >= 0');
  } else if ('hang' in f) {
    if (f.hang !== true) throw new TypeError('wx-session/testing: fault hang must be true');
  } else if ('status' in f) {
    if (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 200 || f.status > 599) throw new TypeError('wx-session/testing: fault status must be an HTTP status 200..599');
    if (f.body !== undefined && typeof f.body !== 'string') throw new TypeError('wx-session/testing: fault body must be a string');
  } else if ('body' in f) {
    if (typeof f.body !== 'string') throw new TypeError('wx-session/testing: fault body must be a string');
  } else if ('reset' in f) {
    if (f.reset !== true) throw new TypeError('wx-session/testing: fault reset must be true');
  } else if ('errcode' in f) {
    if (typeof f.errcode !== 'number' || !Number.isInteger(f.errcode)) throw new TypeError('wx-session/testing: fault errcode must be an integer');
    if (f.errmsg !== undefined && typeof f.errmsg !== 'string') throw new TypeError('wx-session/testing: fault errmsg must be a string');
  } else {
    throw new TypeError('wx-session/testing: unknown fault (expected delay, hang, status, body, reset or errcode)');
  }
}

function checkTimes(times: number | undefined, what: string): number {
  if (times === undefined) return Infinity;
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) throw new TypeError(`wx-session/testing: ${what} times must be an integer >= 1`);
  return times;
}

/** The errcode of an answer: `errcode`, or Douyin's `err_no`. */
function errcodeOf(json: Record<string, unknown>): number | undefined {
  const code = json.errcode ?? json.err_no;
  return typeof code === 'number' ? code : undefined;
}

function errcodeOfText(text: string): number | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? errcodeOf(value) : undefined;
  } catch {
    return undefined;
  }
}

/** Read the whole body, keeping at most `limit` bytes. `null` when the client went away. */
function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean } | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // keep draining so the client gets a proper 413 rather than a broken pipe
        tooLarge = true;
        chunks.length = 0;
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    req.on('error', () => resolve(null));
    req.on('close', () => resolve(null)); // no-op when 'end' came first
  });
}

const PLATFORMS: readonly MockPlatform[] = ['wechat', 'douyin', 'qq'];

function validateOptions(options: MockWeChatOptions): Required<Omit<MockWeChatOptions, 'payment'>> {
  const opts: unknown = options;
  if (!isRecord(opts)) throw new TypeError('wx-session/testing: options must be an object');
  const { appId = DEFAULT_APP_ID, appSecret = randomBytes(16).toString('hex'), port = 0, codeTtl = 300_000, tokenTtl = 7200, platform = 'wechat' } = options;
  if (!PLATFORMS.includes(platform)) throw new TypeError("wx-session/testing: platform must be 'wechat', 'douyin' or 'qq'");
  if (typeof appId !== 'string' || appId === '') throw new TypeError('wx-session/testing: appId must be a non-empty string');
  if (typeof appSecret !== 'string' || appSecret === '') throw new TypeError('wx-session/testing: appSecret must be a non-empty string');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('wx-session/testing: port must be an integer 0..65535');
  if (typeof codeTtl !== 'number' || !(codeTtl > 0) || !Number.isFinite(codeTtl)) throw new TypeError('wx-session/testing: codeTtl must be a positive number of ms');
  if (typeof tokenTtl !== 'number' || !(tokenTtl > 0) || !Number.isFinite(tokenTtl)) throw new TypeError('wx-session/testing: tokenTtl must be a positive number of seconds');
  return { appId, appSecret, port, codeTtl, tokenTtl, platform };
}

// ---------------------------------------------------------------------------------------------
// The fake

/**
 * Start a fake WeChat API server on 127.0.0.1, faithful to WeChat's wire protocol:
 *
 * - `GET /sns/jscode2session` — code2Session: 40013 bad appid, 40125 bad secret, 40002 bad
 *   grant_type, 41008 no code, 40029 unknown or expired code, 40163 code already used.
 * - `POST /cgi-bin/stable_token` — returns the current token with its remaining `expires_in`;
 *   `force_refresh: true` replaces it (the old one answers 40001), at most once per 30 s and 20
 *   times a day (else 45009).
 * - `GET /cgi-bin/token` — a new token per call; the previous one stays valid 5 more minutes.
 * - `GET /wxa/checksession` — 0 when `signature = hex(hmac_sha256(session_key, ''))`, else 87009.
 * - `POST /wxa/set_user_storage`, `/wxa/remove_user_storage`, `/wxa/setuserinteractivedata` —
 *   signed with `hex(hmac_sha256(session_key, exact body bytes))`, with WeChat's limits.
 * - `GET /wxa/resetusersessionkey`, `POST /wxa/business/getuserphonenumber`, `/wxa/getuserriskrank`,
 *   `/wxa/business/checkencryptedmsg` (mock-player-apis.ts) and the mini-game payments
 *   `POST /wxa/game/getbalance|pay|cancelpay|present` (mock-payments.ts).
 *
 * Errcodes come in HTTP 200 JSON bodies, as from WeChat. Access tokens are checked before anything
 * else on the `/wxa/` APIs (41001 missing, 40001 invalid, 42001 expired). Unknown paths answer 404,
 * wrong methods 405, bodies over 64 KiB 413 (JSON with the same number as errcode).
 *
 * With `platform: 'douyin'` or `'qq'` the mock serves that platform's paths instead (mock-douyin.ts,
 * mock-qq.ts); codes, session_keys, access tokens, faults, the call log and user storage work the
 * same way.
 *
 * Always `await mock.close()` when done.
 */
export async function startMockWeChat(options: MockWeChatOptions = {}): Promise<MockWeChat> {
  const { appId, appSecret, port, codeTtl, tokenTtl, platform } = validateOptions(options);
  const paymentSettings = resolvePaymentOptions(options.payment);
  // The AppKeys never cross the wire, so a secrets witness (test/support/witness.ts) learns them here.
  const secretsChannel = channel(SECRETS_CHANNEL);
  if (secretsChannel.hasSubscribers) secretsChannel.publish({ appSecret, appKey: paymentSettings.appKey, sandboxAppKey: paymentSettings.sandboxAppKey });
  const tokenTtlMs = tokenTtl * 1000;

  let clockOffset = 0;
  const now = (): number => Date.now() + clockOffset;

  const users = new Map<string, UserRecord>();
  const codes = new Map<string, CodeRecord>();
  const tokens = new Map<string, TokenRecord>();
  let stableCurrent: TokenRecord | undefined;
  let classicCurrent: TokenRecord | undefined;
  const forceRefreshes: number[] = [];
  const faults = new Map<string, FaultEntry[]>();
  const calls: MockCall[] = [];

  // ---- users, codes, tokens

  function userOf(openid: string, anonymous = false): UserRecord {
    let user = users.get(openid);
    if (!user) {
      user = { sessionKey: newSessionKey(), anonymous, storage: new Map(), interactive: new Map() };
      users.set(openid, user);
    }
    return user;
  }

  function rotate(user: UserRecord, sessionKey?: string): string {
    let key = sessionKey ?? newSessionKey();
    while (sessionKey === undefined && sameText(key, user.sessionKey)) key = newSessionKey();
    user.sessionKey = key;
    return key;
  }

  function newCode(record: Omit<CodeRecord, 'issuedAt' | 'used' | 'forcedLeft'> & { forcedLeft?: number }): string {
    let code = randomString(32, ALNUM);
    while (codes.has(code)) code = randomString(32, ALNUM);
    codes.set(code, { forcedLeft: 0, ...record, issuedAt: now(), used: false });
    return code;
  }

  /** Unknown, used, expired, forced (not spent), in that order; else spent, rotating the key if asked. */
  function redeemCode(code: string, anonymous: boolean): Redeemed {
    const record = codes.get(code);
    if (!record || record.anonymous !== anonymous) return { ok: false, reason: 'unknown' };
    if (record.used) return { ok: false, reason: 'used' };
    if (now() - record.issuedAt >= codeTtl) return { ok: false, reason: 'expired' };
    if (record.forcedErrcode !== undefined && record.forcedLeft > 0) {
      record.forcedLeft -= 1;
      return { ok: false, reason: 'forced', errcode: record.forcedErrcode };
    }
    record.used = true;
    const user = userOf(record.openid, anonymous);
    if (record.rotate) rotate(user);
    return { ok: true, openid: record.openid, user };
  }

  function issueToken(): TokenRecord {
    const record: TokenRecord = { value: randomBytes(48).toString('base64url'), expiresAt: now() + tokenTtlMs };
    tokens.set(record.value, record);
    return record;
  }

  /** 0 when valid, else the errcode WeChat answers for it. */
  function tokenState(record: TokenRecord, at: number): 0 | 40001 | 42001 {
    if (record.forced === 'revoked') return 40001;
    if (record.forced === 'expired') return 42001;
    if (record.invalidAfter !== undefined && at >= record.invalidAfter) return 40001;
    if (at >= record.expiresAt) return 42001;
    return 0;
  }

  function tokenStateOf(value: string | undefined): 0 | 40001 | 41001 | 42001 {
    if (!value) return 41001;
    const record = tokens.get(value);
    return record ? tokenState(record, now()) : 40001;
  }

  function checkAccessToken(query: Record<string, string>): Answer | undefined {
    const state = tokenStateOf(param(query, 'access_token'));
    return state === 0 ? undefined : errAnswer(state);
  }

  function secretMatches(secret: unknown): boolean {
    return typeof secret === 'string' && sameText(secret, appSecret);
  }

  /** appid first, then secret, as WeChat checks them. */
  function checkCredentials(appid: unknown, secret: unknown): Answer | undefined {
    if (appid === undefined || appid === '') return errAnswer(41002);
    if (appid !== appId) return errAnswer(40013);
    if (secret === undefined || secret === '') return errAnswer(41004);
    if (!secretMatches(secret)) return errAnswer(40125);
    return undefined;
  }

  /** A new token per call; the previous one stays valid `graceMs` more. */
  function classicToken(graceMs: number) {
    const at = now();
    if (classicCurrent) classicCurrent.invalidAfter = Math.min(classicCurrent.invalidAfter ?? Infinity, at + graceMs);
    classicCurrent = issueToken();
    return { access_token: classicCurrent.value, expires_in: tokenTtl };
  }

  function stableToken(force: boolean, limits: { intervalMs: number; perDay: number }) {
    const at = now();
    if (force) {
      while (forceRefreshes.length > 0 && at - forceRefreshes[0]! >= DAY_MS) forceRefreshes.shift();
      const last = forceRefreshes[forceRefreshes.length - 1];
      if ((last !== undefined && at - last < limits.intervalMs) || forceRefreshes.length >= limits.perDay) return undefined;
      forceRefreshes.push(at);
      if (stableCurrent) stableCurrent.invalidAfter = Math.min(stableCurrent.invalidAfter ?? at, at);
      stableCurrent = issueToken();
      return { access_token: stableCurrent.value, expires_in: tokenTtl };
    }
    // While the current token is valid, every caller gets that same token and its remaining life;
    // in its last 5 minutes a new one is handed out (the old stays valid until it expires).
    // A token broken with breakStableToken() keeps being served until a force_refresh.
    if (stableCurrent && (stableCurrent.stuck || (tokenState(stableCurrent, at) === 0 && stableCurrent.expiresAt - at > STABLE_RENEW_BEFORE_MS))) {
      return { access_token: stableCurrent.value, expires_in: Math.floor((stableCurrent.expiresAt - at) / 1000) };
    }
    stableCurrent = issueToken();
    return { access_token: stableCurrent.value, expires_in: tokenTtl };
  }

  // ---- endpoints

  function code2Session({ query }: RequestContext): Answer {
    const denied = checkCredentials(param(query, 'appid'), param(query, 'secret'));
    if (denied) return denied;
    if (param(query, 'grant_type') !== 'authorization_code') return errAnswer(40002);
    const code = param(query, 'js_code');
    if (!code) return errAnswer(41008);
    const redeemed = redeemCode(code, false);
    if (!redeemed.ok) return errAnswer(redeemed.reason === 'forced' ? redeemed.errcode : redeemed.reason === 'used' ? 40163 : 40029);
    const json: Record<string, unknown> = { session_key: redeemed.user.sessionKey, openid: redeemed.openid };
    if (redeemed.user.unionid !== undefined) json.unionid = redeemed.user.unionid;
    return okAnswer(json);
  }

  function stableTokenRoute({ body }: RequestContext): Answer {
    const json = parseJsonObject(body);
    if (!json) return errAnswer(47001);
    const denied = checkCredentials(json.appid, json.secret);
    if (denied) return denied;
    if (json.grant_type !== 'client_credential') return errAnswer(40002);
    const force = json.force_refresh;
    if (force !== undefined && typeof force !== 'boolean') return errAnswer(47001);
    const issued = stableToken(force === true, { intervalMs: FORCE_REFRESH_INTERVAL_MS, perDay: FORCE_REFRESH_PER_DAY });
    return issued ? okAnswer({ ...issued }) : errAnswer(45009);
  }

  function classicTokenRoute({ query }: RequestContext): Answer {
    const denied = checkCredentials(param(query, 'appid'), param(query, 'secret'));
    if (denied) return denied;
    if (param(query, 'grant_type') !== 'client_credential') return errAnswer(40002);
    return okAnswer(classicToken(CLASSIC_TOKEN_GRACE_MS));
  }

  /** Token, openid, sig_method and signature checks shared by the `/wxa/` login-state APIs. */
  function signedCall(ctx: RequestContext, badOpenid: number): { user: UserRecord } | Answer {
    const denied = checkAccessToken(ctx.query);
    if (denied) return denied;
    const openid = param(ctx.query, 'openid');
    const user = openid ? users.get(openid) : undefined;
    if (!user) return errAnswer(badOpenid);
    if (param(ctx.query, 'sig_method') !== 'hmac_sha256') return errAnswer(40097);
    const signature = param(ctx.query, 'signature') ?? '';
    if (!sameText(signature, hmacHex(user.sessionKey, ctx.body))) return errAnswer(87009);
    return { user };
  }

  function checkSession(ctx: RequestContext): Answer {
    const checked = signedCall(ctx, 40003);
    return 'user' in checked ? errAnswer(0) : checked;
  }

  const STORAGE_ERRCODES = { format: 47001, emptyKey: 40097, keyTooLong: 87019, pairTooLong: 87016, tooMany: 87018 } as const;

  function setUserStorage(ctx: RequestContext): Answer {
    const checked = signedCall(ctx, 40003);
    if (!('user' in checked)) return checked;
    const problem = setKv(checked.user.storage, ctx.body);
    return errAnswer(problem ? STORAGE_ERRCODES[problem] : 0);
  }

  function removeUserStorage(ctx: RequestContext): Answer {
    const checked = signedCall(ctx, 40003);
    if (!('user' in checked)) return checked;
    return errAnswer(removeKv(checked.user.storage, ctx.body) ? 47001 : 0);
  }

  function setUserInteractiveData(ctx: RequestContext): Answer {
    const checked = signedCall(ctx, 87081);
    if (!('user' in checked)) return checked;
    const list = parseJsonObject(ctx.body)?.kv_list;
    if (!Array.isArray(list)) return errAnswer(47001);
    const updates = new Map<string, number>();
    for (const item of list) {
      if (!isRecord(item)) return errAnswer(47001);
      if (typeof item.key !== 'string' || !INTERACTIVE_KEY.test(item.key)) return errAnswer(87082);
      if (typeof item.value !== 'number' || !Number.isSafeInteger(item.value)) return errAnswer(87082);
      updates.set(item.key, item.value);
    }
    for (const [key, value] of updates) checked.user.interactive.set(key, value);
    return errAnswer(0);
  }

  const kit: PlatformKit = {
    appId,
    now,
    errAnswer,
    checkAccessToken,
    keyOf: (openid) => users.get(openid)?.sessionKey,
    rotate: (openid) => rotate(userOf(openid)),
    hmacHex,
    sameText,
    parseJsonObject,
    param,
    secretMatches,
    tokenState: tokenStateOf,
    redeemCode,
    player: (openid) => {
      const user = users.get(openid);
      return user && !user.anonymous ? user : undefined;
    },
    classicToken,
    stableToken,
  };
  const player = playerApis(kit);
  const payments = paymentApis(kit, paymentSettings);

  function platformRoutes(): [string, Route][] {
    if (platform === 'douyin') return douyinApis(kit);
    if (platform === 'qq') return qqApis(kit, { setUserStorage, removeUserStorage });
    return [
      ...player.routes,
      ...payments.routes,
      ['/sns/jscode2session', { method: 'GET', handle: code2Session }],
      ['/cgi-bin/stable_token', { method: 'POST', handle: stableTokenRoute }],
      ['/cgi-bin/token', { method: 'GET', handle: classicTokenRoute }],
      ['/wxa/checksession', { method: 'GET', handle: checkSession }],
      ['/wxa/set_user_storage', { method: 'POST', handle: setUserStorage }],
      ['/wxa/remove_user_storage', { method: 'POST', handle: removeUserStorage }],
      ['/wxa/setuserinteractivedata', { method: 'POST', handle: setUserInteractiveData }],
    ];
  }
  const routes = new Map<string, Route>(platformRoutes());

  function route(method: string, path: string, ctx: RequestContext): Answer {
    const found = routes.get(path);
    if (!found) return { status: 404, json: { errcode: 404, errmsg: 'not found' } };
    if (method !== found.method) return { status: 405, json: { errcode: 405, errmsg: `method not allowed, use ${found.method}` } };
    return found.handle(ctx);
  }

  // ---- recording (secrets never reach the log)

  const logSecrets = [appSecret, paymentSettings.appKey, paymentSettings.sandboxAppKey];

  function redactText(text: string): string {
    // Guard against mangling the log with a trivially short secret.
    let out = text;
    for (const secret of logSecrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
    return out;
  }

  function redactBody(text: string): string {
    return redactText(
      text
        .replace(/("(?:secret|appsecret|access_token)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, `$1"${REDACTED}"`)
        .replace(/(^|&)(secret|appsecret|access_token)=[^&]*/g, `$1$2=${REDACTED}`),
    );
  }

  function redactQuery(query: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(query).map(([name, value]) => [name, SENSITIVE_PARAMS.has(name) ? REDACTED : redactText(value)]));
  }

  function takeFault(path: string): MockFault | undefined {
    const queue = faults.get(path);
    const entry = queue?.[0];
    if (!queue || !entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) {
      queue.shift();
      if (queue.length === 0) faults.delete(path);
    }
    return entry.fault;
  }

  // ---- HTTP

  let closed = false;
  const sockets = new Set<Socket>();
  const sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          sleepers.delete(sleeper);
          resolve();
        }, ms),
        wake: resolve,
      };
      sleepers.add(sleeper);
    });
  }

  function canWrite(res: ServerResponse): boolean {
    return !closed && !res.destroyed && !res.headersSent;
  }

  function send(res: ServerResponse, call: MockCall, status: number, body: string, contentType: string, errcode: number | undefined): void {
    call.status = status;
    if (errcode !== undefined) call.errcode = errcode;
    if (!canWrite(res)) return;
    const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
    if (body !== '') headers['content-type'] = contentType;
    if (status === 405) {
      const allowed = routes.get(call.path)?.method;
      if (allowed) headers.allow = allowed;
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  function sendAnswer(res: ServerResponse, call: MockCall, answer: Answer): void {
    const errcode = errcodeOf(answer.json) ?? (answer.status === 200 ? 0 : undefined);
    send(res, call, answer.status, JSON.stringify(answer.json), JSON_TYPE, errcode);
  }

  async function applyFault(fault: MockFault, res: ServerResponse, call: MockCall, path: string, answerNormally: () => Answer): Promise<void> {
    if ('delay' in fault) {
      await sleep(fault.delay);
      if (!closed) sendAnswer(res, call, answerNormally());
    } else if ('hang' in fault) {
      // Say nothing. The socket is destroyed by the client or by close().
    } else if ('status' in fault) {
      const body = fault.body ?? '';
      const errcode = errcodeOfText(body);
      send(res, call, fault.status, body, errcode === undefined ? 'text/plain; charset=utf-8' : JSON_TYPE, errcode);
    } else if ('body' in fault) {
      send(res, call, 200, fault.body, JSON_TYPE, errcodeOfText(fault.body));
    } else if ('reset' in fault) {
      call.status = 200;
      if (!canWrite(res)) return;
      const partial = '{"errcode":0,"errmsg":"o';
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': '64' });
      res.write(partial, () => res.socket?.destroy());
    } else {
      const dialect = routes.get(path)?.dialect ?? errAnswer;
      sendAnswer(res, call, dialect(fault.errcode, fault.errmsg));
    }
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', noop);
    res.on('error', noop);
    const method = (req.method ?? 'GET').toUpperCase();
    const { path, query } = parseTarget(req.url);
    const read = await readBody(req, MAX_BODY_BYTES);
    if (read === null || closed) return; // the client went away
    const call: MockCall = { method, path: redactText(path), query: redactQuery(query), status: 0, at: now() };
    if (read.body.length > 0) call.body = redactBody(read.body.toString('utf8'));
    calls.push(call);
    if (read.tooLarge) {
      sendAnswer(res, call, { status: 413, json: { errcode: 413, errmsg: `request body over ${MAX_BODY_BYTES} bytes` } });
      return;
    }
    const answerNormally = (): Answer => route(method, path, { query, body: read.body });
    const fault = takeFault(path);
    if (fault) await applyFault(fault, res, call, path, answerNormally);
    else sendAnswer(res, call, answerNormally());
  }

  const server: Server = createServer((req, res) => {
    handleRequest(req, res).catch(() => {
      // A bug in the mock must not take the test process down: answer 500 if still possible.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': JSON_TYPE });
        res.end(JSON.stringify({ errcode: -1, errmsg: 'mock internal error' }));
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', noop);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error: Error, socket: Socket) => {
    // Unparsable HTTP: answer 400 when the socket still can, then drop it.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', noop);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;

  const mock: MockWeChat = {
    url,
    appId,
    appSecret,
    platform,

    issueCode(openid = `oMock${randomString(23, `${ALNUM}-_`)}`, opts = {}) {
      if (typeof openid !== 'string' || openid === '') throw new TypeError('wx-session/testing: openid must be a non-empty string');
      const { unionid, errcode, times, rotate: rotateOnRedeem = false } = opts;
      if (unionid !== undefined && (typeof unionid !== 'string' || unionid === '')) throw new TypeError('wx-session/testing: unionid must be a non-empty string');
      if (errcode !== undefined && (typeof errcode !== 'number' || !Number.isInteger(errcode))) throw new TypeError('wx-session/testing: errcode must be an integer');
      const forcedLeft = checkTimes(times, 'issueCode');
      const user = userOf(openid);
      if (unionid !== undefined) user.unionid = unionid;
      const forced = errcode !== undefined && errcode !== 0 ? { forcedErrcode: errcode, forcedLeft } : {};
      return newCode({ openid, anonymous: false, rotate: rotateOnRedeem === true, ...forced });
    },

    issueAnonymousCode(anonymousOpenid = `aMock${randomString(23, `${ALNUM}-_`)}`) {
      if (platform !== 'douyin') throw new TypeError('wx-session/testing: anonymous codes are Douyin\'s (start the mock with platform: \'douyin\')');
      if (typeof anonymousOpenid !== 'string' || anonymousOpenid === '') throw new TypeError('wx-session/testing: anonymousOpenid must be a non-empty string');
      userOf(anonymousOpenid, true);
      return newCode({ openid: anonymousOpenid, anonymous: true, rotate: false });
    },

    rotateSessionKey(openid, sessionKey) {
      if (typeof openid !== 'string' || openid === '') throw new TypeError('wx-session/testing: openid must be a non-empty string');
      if (sessionKey !== undefined && (typeof sessionKey !== 'string' || sessionKey === '')) throw new TypeError('wx-session/testing: sessionKey must be a non-empty string');
      return rotate(userOf(openid), sessionKey);
    },

    sessionKeyOf(openid) {
      return users.get(openid)?.sessionKey;
    },

    fault(path, fault, opts = {}) {
      const key = normalizeFaultPath(path);
      checkFault(fault);
      const left = checkTimes(opts.times, 'fault');
      const queue = faults.get(key) ?? [];
      queue.push({ fault: { ...fault }, left });
      faults.set(key, queue);
    },

    clearFaults(path) {
      if (path === undefined) faults.clear();
      else faults.delete(normalizeFaultPath(path));
    },

    get calls() {
      return calls.map((call) => ({ ...call, query: { ...call.query } }));
    },

    callsTo(path) {
      const key = parseTarget(path).path;
      return calls.filter((call) => call.path === key).map((call) => ({ ...call, query: { ...call.query } }));
    },

    resetCalls() {
      calls.length = 0;
    },

    advanceTime(ms) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new TypeError('wx-session/testing: advanceTime needs a number of ms >= 0');
      clockOffset += ms;
    },

    expireAccessTokens() {
      for (const record of tokens.values()) record.forced = 'expired';
    },

    breakStableToken() {
      if (!stableCurrent) return;
      stableCurrent.forced = 'revoked';
      stableCurrent.stuck = true;
    },
    revokeAccessTokens() {
      for (const record of tokens.values()) record.forced = 'revoked';
    },

    currentAccessToken() {
      const at = now();
      let latest: string | undefined;
      for (const record of tokens.values()) if (tokenState(record, at) === 0) latest = record.value;
      return latest;
    },

    userStorage(openid) {
      return Object.fromEntries(users.get(openid)?.storage ?? []);
    },

    userInteractiveData(openid) {
      return Object.fromEntries(users.get(openid)?.interactive ?? []);
    },

    payment: paymentSettings,
    setBalance: payments.api.setBalance,
    balanceOf: payments.api.balanceOf,
    get payments() {
      return payments.api.payments;
    },
    issuePhoneCode: player.api.issuePhoneCode,
    setRiskRank: player.api.setRiskRank,
    registerEncryptedData: player.api.registerEncryptedData,

    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        for (const sleeper of sleepers) {
          clearTimeout(sleeper.timer);
          sleeper.wake();
        }
        sleepers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
  return Object.freeze(mock);
}
