/**
 * wx-session/client: the game side of wx-session, for code that runs inside a WeChat mini game
 * or mini program, or a Douyin (`tt`) or QQ (`qq`) mini game. It wraps `wx.request` and
 * `wx.uploadFile`: attaches the session token, logs in (`wx.login` + POST loginPath) when there is
 * none, and repairs the session on the 401s of the wire protocol (README.md, "The wire protocol
 * in brief") with at most one retry. On Douyin and QQ, pass the platform's object as `wx`
 * (`createSessionClient({ wx: tt, appId })`): their calls have the same shape, and "`wx.login`"
 * below means its `login`.
 *
 * This file stands alone: plain ES2017, no imports, no Node, no other file of the package, so it
 * can be copied into a game as it is. Its types are its own (structural subsets of WeChat's `wx`),
 * checked against minigame-api-typings by the tests, so the published declarations need no extra
 * package.
 *
 * @example
 * ```js
 * import { createSessionClient } from 'wx-session/client';
 * const client = createSessionClient({ baseUrl: 'https://game.example.com' });
 * const res = await client.request({ url: '/me' });   // logs in first when needed
 * if (res.statusCode === 200) console.log(res.data);
 * ```
 *
 * @module
 */

// Header names of the wire protocol. Duplicated from src/http.ts on purpose: this file imports nothing.
const TOKEN_HEADER = 'X-WX-Session';
const CODE_HEADER = 'X-WX-Code';
const APP_ID_HEADER = 'X-WX-AppId';
const REISSUED_TOKEN_HEADER = 'x-wx-session-token'; // compared in lower case
const KEY_EXPIRED = 'WX_SESSION_KEY_EXPIRED';
const SESSION_CODE_PREFIX = 'WX_SESSION_';

// ---------------------------------------------------------------------------------------------
// The part of WeChat's `wx` this client uses (structural: the real `wx` fits, so do Douyin's `tt`,
// QQ's `qq` and a fake)

/** A header object as `wx.request` takes and returns it (names may come back in any case). */
export type WxHeader = Record<string, string>;

/** HTTP methods `wx.request` accepts. */
export type WxMethod = 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';

/** What a `wx.*` API passes to `fail`. */
export interface WxFailResult {
  errMsg: string;
  errno?: number;
}

export interface WxRequestOptions {
  url: string;
  method?: WxMethod;
  data?: string | object | ArrayBuffer;
  header?: WxHeader;
  dataType?: string;
  responseType?: 'text' | 'arraybuffer';
  timeout?: number;
  success?(result: WxRequestSuccess): void;
  fail?(error: WxFailResult): void;
}

export interface WxRequestSuccess {
  statusCode: number;
  data: unknown;
  header: Record<string, unknown>;
}

export interface WxUploadFileOptions {
  url: string;
  filePath: string;
  name: string;
  header?: WxHeader;
  formData?: Record<string, unknown>;
  timeout?: number;
  success?(result: WxUploadFileSuccess): void;
  fail?(error: WxFailResult): void;
}

export interface WxUploadFileSuccess {
  statusCode: number;
  /** The answer body as text (WeChat does not parse it). */
  data: string;
  /** Not in every WeChat version's uploadFile answer; read when present. */
  header?: Record<string, unknown>;
}

/**
 * What `login` hands to `success`. WeChat's `wx.login` and QQ's `qq.login` give `code`; Douyin's
 * `tt.login` gives `code` only to a user logged into Douyin, `anonymousCode` to every device, and
 * `isLogin`. The client sends the server `code` and/or `anonymousCode` (a guest has only the latter).
 */
export interface WxLoginSuccess {
  code?: string;
  /** Douyin only: the device's anonymous code, which logs in a guest. */
  anonymousCode?: string;
  /** Douyin only: whether the user is logged into Douyin. */
  isLogin?: boolean;
  errMsg?: string;
}

/** What the client passes to `login`. */
export interface WxLoginOptions {
  /** Douyin only (`tt.login`'s `force`); passed only when the client's `force` option is given. */
  force?: boolean;
  success?(result: WxLoginSuccess): void;
  fail?(error: WxFailResult): void;
}

/**
 * The members of `wx` the client calls. WeChat's own `wx` (minigame-api-typings) fits it, and so do
 * Douyin's `tt` and QQ's `qq`, whose calls have the same shape.
 */
export interface WxApi {
  login(options: WxLoginOptions): unknown;
  request(options: WxRequestOptions): unknown;
  uploadFile(options: WxUploadFileOptions): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: string): void;
  removeStorageSync(key: string): void;
}

/**
 * The global `wx` of a mini game / mini program, declared here (module-local) so this file needs
 * no WeChat typings; test/client-types.test.ts checks that minigame-api-typings' `wx` fits WxApi.
 */
declare const wx: WxApi | undefined;

// ---------------------------------------------------------------------------------------------
// The client's own API

export interface SessionClientOptions {
  /** The game server, e.g. `'https://game.example.com'`; request URLs are relative to it. */
  baseUrl: string;
  /** The server's login route. @default '/wx/login' */
  loginPath?: string;
  /** The server's logout route. @default '/wx/logout' */
  logoutPath?: string;
  /** The platform's API object: WeChat's `wx`, Douyin's `tt` or QQ's `qq`. @default the global `wx` */
  wx?: WxApi;
  /** Where the token is kept with `wx.setStorageSync`, so a relaunched game reuses it. @default 'wx-session-token' */
  storageKey?: string;
  /**
   * The game's appId, for a server that serves several apps (docs/several-games.md): sent as header
   * `X-WX-AppId` with each login. When not given, no header is sent (a server with one app needs none).
   */
  appId?: string;
  /**
   * Douyin only: `tt.login`'s `force`, passed to every `login` call when given (when not, `tt.login`
   * uses Douyin's default, `true`). `true`: a user not logged into Douyin is shown Douyin's login
   * sheet, and cancelling it fails the login (`'LOGIN_FAILED'`). `false`: no sheet; such a user
   * logs in as a guest with `anonymousCode` (a session with no openid). `wx.login` and `qq.login`
   * have no such option.
   */
  force?: boolean;
}

/**
 * `wx.request`'s options, promise-style: `url` is relative to `baseUrl`; no callbacks. Options not
 * listed here (`enableHttp2`, `enableCache`...) are passed on to `wx.request` as they are.
 */
export interface SessionRequestOptions extends Omit<WxRequestOptions, 'success' | 'fail'> {
  [option: string]: unknown;
}

/** `wx.uploadFile`'s options, promise-style: `url` is relative to `baseUrl`; no callbacks. Other options are passed on. */
export interface SessionUploadOptions extends Omit<WxUploadFileOptions, 'success' | 'fail'> {
  [option: string]: unknown;
}

/** What `client.request` resolves with: `wx.request`'s success, for any HTTP status. */
export interface SessionResponse<T = unknown> {
  statusCode: number;
  data: T;
  header: Record<string, unknown>;
}

/** What `client.uploadFile` resolves with: `wx.uploadFile`'s success, for any HTTP status. */
export interface SessionUploadResponse {
  statusCode: number;
  data: string;
  header?: Record<string, unknown>;
}

/** The login route's answer (README.md, "The wire protocol in brief"). */
export interface SessionLoginResult {
  token: string;
  expiresIn: number;
  openid?: string;
  unionid?: string;
  userInfo?: unknown;
  [field: string]: unknown;
}

export interface SessionClient {
  /**
   * `wx.request` with the session: attaches `X-WX-Session`, logs in first when there is no token,
   * and handles the session 401s with one retry (requests that meet WX_SESSION_KEY_EXPIRED
   * together share one `wx.login`). Resolves for any HTTP status; rejects when
   * `wx.request` or `wx.login` fails (network), and never retries anything else (5xx, 429).
   * When an implicit login is answered with an error (e.g. 429 `WX_RATE_LIMITED`), resolves with
   * that login answer.
   */
  request<T = unknown>(options: SessionRequestOptions): Promise<SessionResponse<T>>;
  /** `wx.uploadFile` with the same session handling as `request`. `data` is the answer's text. */
  uploadFile(options: SessionUploadOptions): Promise<SessionUploadResponse>;
  /**
   * Logs in now (`wx.login` + POST loginPath with `{ code }`, and `anonymousCode` when Douyin gives
   * one) and stores the token; joins a login already under way. Rejects with a
   * {@link SessionClientError} when it fails.
   */
  login(): Promise<SessionLoginResult>;
  /** POSTs logoutPath with the token, and forgets the token even when that fails. Never rejects. */
  logout(): Promise<void>;
  /** The stored token, if any. */
  token(): string | undefined;
}

/**
 * Why `client.login()` failed, or why a request could not be sent. `code` is the server's error
 * code (e.g. `'WX_RATE_LIMITED'`), or `'LOGIN_FAILED'` when `wx.login` failed or gave neither
 * `code` nor `anonymousCode` (a key refresh needs `code`), or the login answer had no token, or
 * `'NETWORK_ERROR'` when `wx.request` / `wx.uploadFile` failed.
 */
export class SessionClientError extends Error {
  /** The server's error code, or `'LOGIN_FAILED'` / `'NETWORK_ERROR'`. */
  code: string;
  /** The HTTP status, when the server answered. */
  statusCode?: number;
  /** `Retry-After` in seconds, when the answer had one (429 `WX_RATE_LIMITED`). */
  retryAfter?: number;
  /** WeChat's `errMsg`, when a `wx.*` call failed. */
  errMsg?: string;
  /** The answer body, when the server answered. */
  data?: unknown;

  constructor(code: string, message: string, details?: { statusCode?: number; retryAfter?: number; errMsg?: string; data?: unknown }) {
    super(message);
    this.name = 'SessionClientError';
    this.code = code;
    if (details) {
      this.statusCode = details.statusCode;
      this.retryAfter = details.retryAfter;
      this.errMsg = details.errMsg;
      this.data = details.data;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The first header named `name` (lower case), whatever case the answer used. */
function headerOf(header: Record<string, unknown> | undefined, name: string): string | undefined {
  if (header) {
    for (const key in header) {
      if (key.toLowerCase() === name && header[key] != null) return String(header[key]);
    }
  }
  return undefined;
}

/** The `code` of a wx-session error body, parsed or text (uploadFile, or dataType other than json). */
function errorCodeOf(data: unknown): string | undefined {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch (_) {
      return undefined;
    }
  }
  const code = data && typeof data === 'object' ? (data as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** A 401 that a new login may cure: any WX_SESSION_* code but the stale session_key one. */
function isSessionCode(code: string | undefined): boolean {
  return !!code && code !== KEY_EXPIRED && code.indexOf(SESSION_CODE_PREFIX) === 0;
}

function networkError(error: WxFailResult | undefined, what: string): SessionClientError {
  const errMsg = (error && error.errMsg) || `${what}:fail`;
  return new SessionClientError('NETWORK_ERROR', `wx-session/client: ${errMsg}`, { errMsg });
}

function checkPath(name: string, value: string): string {
  if (typeof value !== 'string' || value.charAt(0) !== '/') throw new TypeError(`wx-session/client: ${name} must be a path starting with '/'`);
  return value;
}

interface Answer {
  statusCode: number;
  data: unknown;
  header?: Record<string, unknown>;
}

/** A login's outcome: the token, or the server's error answer. */
type LoginOutcome = { token: string; result?: SessionLoginResult } | { answer: Answer };

/**
 * A key refresh (docs/session-key.md, "The rules": one refresh per session): the one retry with
 * `X-WX-Code` that repairs `token`'s session after WX_SESSION_KEY_EXPIRED. `done` resolves (never
 * rejects) once that retry has settled, however it went; `settled` says it has.
 */
interface KeyRefresh {
  token: string;
  settled: boolean;
  done: Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The pieces of a client, each over the `wx` it was given

/** The token: kept with wx storage, so a relaunched game reuses it, and in memory should storage fail. */
interface TokenSlot {
  current(): string | undefined;
  save(token: string): void;
  clear(): void;
}

function tokenSlot(api: WxApi, storageKey: string): TokenSlot {
  let memory: string | undefined;
  return {
    current() {
      if (memory) return memory;
      try {
        const stored = api.getStorageSync(storageKey);
        if (typeof stored === 'string' && stored !== '') memory = stored;
      } catch (_) {
        // storage unreadable: no token
      }
      return memory;
    },
    save(token) {
      memory = token;
      try {
        api.setStorageSync(storageKey, token);
      } catch (_) {
        // storage full or failing: the token still lives in memory for this launch
      }
    },
    clear() {
      memory = undefined;
      try {
        api.removeStorageSync(storageKey);
      } catch (_) {
        // nothing more to do
      }
    },
  };
}

/** `wx.login`, `wx.request` and `wx.uploadFile` as promises; a failure rejects with a SessionClientError. */
interface WxCalls {
  /** Resolves with a `code` or an `anonymousCode` (or both), else rejects. */
  login(): Promise<WxLoginSuccess>;
  request(request: WxRequestOptions): Promise<WxRequestSuccess>;
  upload(upload: WxUploadFileOptions): Promise<WxUploadFileSuccess>;
}

function loginFailed(errMsg: string): SessionClientError {
  return new SessionClientError('LOGIN_FAILED', `wx-session/client: ${errMsg}`, { errMsg });
}

function wxCalls(api: WxApi, force: boolean | undefined): WxCalls {
  return {
    login: () =>
      new Promise((resolve, reject) => {
        const login: WxLoginOptions = {
          success: (result) => (result && (result.code || result.anonymousCode) ? resolve(result) : reject(loginFailed('login gave no code'))),
          fail: (error) => reject(loginFailed((error && error.errMsg) || 'login:fail')),
        };
        if (force !== undefined) login.force = force;
        api.login(login);
      }),
    request: (request) =>
      new Promise((resolve, reject) => {
        request.success = resolve;
        request.fail = (error) => reject(networkError(error, 'request'));
        api.request(request);
      }),
    upload: (upload) =>
      new Promise((resolve, reject) => {
        upload.success = resolve;
        upload.fail = (error) => reject(networkError(error, 'uploadFile'));
        api.uploadFile(upload);
      }),
  };
}

/** Logging in (`wx.login` + POST loginPath): one at a time, shared by everyone who needs it. */
interface Logins {
  once(): Promise<LoginOutcome>;
  /** After `failed` was refused: a token someone else got meanwhile, or a login (once). */
  relogin(failed: string): Promise<LoginOutcome> | LoginOutcome;
  /** A logout: a login under way does not store its token afterwards. */
  abandon(): void;
}

function logins(calls: WxCalls, tokens: TokenSlot, loginUrl: string, appId: string | undefined): Logins {
  let flight: Promise<LoginOutcome> | undefined;
  let epoch = 0;

  async function login(): Promise<LoginOutcome> {
    const started = epoch;
    const { code, anonymousCode } = await calls.login();
    // `code` and/or Douyin's `anonymousCode` (a guest's only one); the server prefers `code`.
    const data: WxLoginSuccess = {};
    if (code) data.code = code;
    if (anonymousCode) data.anonymousCode = anonymousCode;
    const header: WxHeader = { 'content-type': 'application/json' };
    if (appId) header[APP_ID_HEADER] = appId;
    const res = await calls.request({ url: loginUrl, method: 'POST', data, header });
    let body = res.data;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch (_) {
        // not JSON: handled below
      }
    }
    if (res.statusCode !== 200) return { answer: res };
    const result = body as SessionLoginResult | null;
    if (!result || typeof result !== 'object' || typeof result.token !== 'string' || result.token === '') {
      throw new SessionClientError('LOGIN_FAILED', 'wx-session/client: the login answer has no token', { statusCode: 200, data: body });
    }
    if (started === epoch) tokens.save(result.token);
    return { token: result.token, result };
  }

  function once(): Promise<LoginOutcome> {
    if (!flight) {
      const done = () => {
        flight = undefined;
      };
      flight = login();
      flight.then(done, done);
    }
    return flight;
  }

  return {
    once,
    relogin(failed) {
      const now = tokens.current();
      if (now !== undefined && now !== failed) return { token: now };
      if (now === failed) tokens.clear();
      return once();
    },
    abandon() {
      epoch++;
    },
  };
}

/** Key refreshes: one wx.login for every request of a token that meets WX_SESSION_KEY_EXPIRED. */
interface KeyRefreshes {
  /** The latest refresh if it has settled: one that ended before a request was sent did not repair what that request meets. */
  settled(): KeyRefresh | undefined;
  /**
   * The refresh a request of `token` answered WX_SESSION_KEY_EXPIRED should wait for instead of
   * starting its own, if any: the latest one of the same token, unless it had already settled
   * when the request was sent (`settledAtSend`). One under way, or one that ended while the
   * request was in flight, may have repaired the session after the server answered.
   */
  toJoin(token: string, settledAtSend: KeyRefresh | undefined): KeyRefresh | undefined;
  /** Starts one: `wx.login()` (which must give a `code`), then `attempt(token, code)`, the retry with X-WX-Code. Settles as that retry does. */
  start<R>(token: string, attempt: (token: string, code: string) => Promise<R>): Promise<R>;
}

function keyRefreshes(wxLogin: () => Promise<string>): KeyRefreshes {
  /** The latest key refresh, under way or settled. */
  let refresh: KeyRefresh | undefined;
  return {
    settled: () => (refresh && refresh.settled ? refresh : undefined),
    toJoin: (token, settledAtSend) => (refresh && refresh.token === token && refresh !== settledAtSend ? refresh : undefined),
    start(token, attempt) {
      const retrying = wxLogin().then((code) => attempt(token, code));
      const mine = { token, settled: false } as KeyRefresh;
      const settle = () => {
        mine.settled = true;
      };
      mine.done = retrying.then(settle, settle);
      refresh = mine;
      return retrying;
    },
  };
}

/** What the session protocol around a request works with. */
interface SessionParts {
  tokens: TokenSlot;
  logins: Logins;
  refreshes: KeyRefreshes;
}

/**
 * One try of a request under `token` (and `code`, on a key refresh): the caller's headers without
 * its own session headers, ours added; a token the answer re-issues is stored.
 */
function attemptWith<R extends Answer>(tokens: TokenSlot, send: (header: WxHeader) => Promise<R>, userHeader: WxHeader | undefined) {
  return async (token: string, code?: string): Promise<R> => {
    const header: WxHeader = {};
    if (userHeader) {
      for (const name in userHeader) {
        const lower = name.toLowerCase();
        if (lower !== 'x-wx-session' && lower !== 'x-wx-code') header[name] = userHeader[name]!;
      }
    }
    header[TOKEN_HEADER] = token;
    if (code) header[CODE_HEADER] = code;
    const res = await send(header);
    const reissued = headerOf(res.header, REISSUED_TOKEN_HEADER);
    if (reissued && tokens.current() === token) tokens.save(reissued);
    return res;
  };
}

/** The session protocol around one request: log in when there is no token, and one retry on a session 401. */
async function withSession<R extends Answer>(parts: SessionParts, send: (header: WxHeader) => Promise<R>, userHeader: WxHeader | undefined, fromLogin: (answer: Answer) => R): Promise<R> {
  const { tokens, logins, refreshes } = parts;
  const attempt = attemptWith(tokens, send, userHeader);
  let token = tokens.current();
  if (!token) {
    const outcome = await logins.once();
    if ('answer' in outcome) return fromLogin(outcome.answer);
    token = outcome.token;
  }
  const settledAtSend = refreshes.settled();
  const res = await attempt(token);
  const code = res.statusCode === 401 ? errorCodeOf(res.data) : undefined;
  let retry: R;
  if (code === KEY_EXPIRED) {
    // The session is fine but its session_key is stale: a fresh code lets the server repair it in
    // place, keeping the token. One repair serves every request of this token, and WeChat redeems
    // a code once: the first request gets a code and retries with it; the others wait for that
    // retry to settle and retry without a code (still one retry each, whatever the answer).
    const shared = refreshes.toJoin(token, settledAtSend);
    if (shared) {
      await shared.done;
      retry = await attempt(token);
    } else {
      retry = await refreshes.start(token, attempt);
    }
  } else if (isSessionCode(code)) {
    const outcome = await logins.relogin(token);
    if ('answer' in outcome) return fromLogin(outcome.answer);
    token = outcome.token;
    retry = await attempt(token);
  } else {
    return res;
  }
  // One retry only. If the token is still refused, forget it: the next call logs in afresh.
  if (retry.statusCode === 401 && isSessionCode(errorCodeOf(retry.data)) && tokens.current() === token) tokens.clear();
  return retry;
}

/** Copies a wx.* options object without the keys the client sets itself. */
function copy<T extends object>(source: T): T {
  const target = {} as T;
  for (const key in source) {
    if (key !== 'success' && key !== 'fail' && key !== 'complete' && key !== 'url' && key !== 'header') target[key] = source[key];
  }
  return target;
}

/** Why `client.login()` rejects when the server answered the login with an error. */
function loginRefused(answer: Answer): SessionClientError {
  const { statusCode, data, header } = answer;
  const retryAfter = Number(headerOf(header, 'retry-after'));
  const code = errorCodeOf(data);
  return new SessionClientError(code || 'LOGIN_FAILED', `wx-session/client: login answered ${statusCode}${code ? ` ${code}` : ''}`, {
    statusCode,
    data,
    retryAfter: retryAfter >= 0 ? retryAfter : undefined,
  });
}

// ---------------------------------------------------------------------------------------------

export function createSessionClient(options: SessionClientOptions): SessionClient {
  if (!options || typeof options.baseUrl !== 'string' || options.baseUrl === '') throw new TypeError('wx-session/client: baseUrl is required');
  const api: WxApi | undefined = options.wx || (typeof wx !== 'undefined' ? wx : undefined);
  if (!api) throw new TypeError('wx-session/client: no wx object (pass options.wx outside WeChat)');
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const loginPath = checkPath('loginPath', options.loginPath || '/wx/login');
  const logoutPath = checkPath('logoutPath', options.logoutPath || '/wx/logout');
  const urlOf = (path: string) => baseUrl + (path.charAt(0) === '/' ? path : `/${path}`);

  const calls = wxCalls(api, options.force);
  const tokens = tokenSlot(api, options.storageKey || 'wx-session-token');
  // A key refresh sends `code` in X-WX-Code: an anonymous code (a Douyin guest) cannot repair a session key.
  const refreshCode = () => calls.login().then((result) => result.code || Promise.reject(loginFailed('login gave no code')));
  const parts: SessionParts = { tokens, logins: logins(calls, tokens, urlOf(loginPath), options.appId), refreshes: keyRefreshes(refreshCode) };

  return {
    request<T = unknown>(options: SessionRequestOptions): Promise<SessionResponse<T>> {
      const url = urlOf(options.url);
      return withSession(
        parts,
        (header) => {
          const request = copy(options) as WxRequestOptions;
          request.url = url;
          request.header = header;
          return calls.request(request) as Promise<SessionResponse<T>>;
        },
        options.header,
        (answer) => answer as SessionResponse<T>,
      );
    },

    uploadFile(options: SessionUploadOptions): Promise<SessionUploadResponse> {
      const url = urlOf(options.url);
      return withSession(
        parts,
        (header) => {
          const upload = copy(options) as WxUploadFileOptions;
          upload.url = url;
          upload.header = header;
          return calls.upload(upload);
        },
        options.header,
        (answer) => ({ statusCode: answer.statusCode, data: typeof answer.data === 'string' ? answer.data : JSON.stringify(answer.data), header: answer.header }),
      );
    },

    login(): Promise<SessionLoginResult> {
      return parts.logins.once().then((outcome) => ('answer' in outcome ? Promise.reject(loginRefused(outcome.answer)) : outcome.result!));
    },

    logout(): Promise<void> {
      const token = tokens.current();
      parts.logins.abandon();
      tokens.clear();
      if (!token) return Promise.resolve();
      const header: WxHeader = {};
      header[TOKEN_HEADER] = token;
      return calls.request({ url: urlOf(logoutPath), method: 'POST', header }).then(
        () => undefined,
        () => undefined,
      );
    },

    token: tokens.current,
  };
}
