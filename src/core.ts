// The framework-agnostic core: login(code), authenticate(token), logout(token).
// No req/res here; a bad or expired token is a result, not an exception.
import { ErrorCode, WxSessionError } from './errors.js';
import { decryptData, safeEqual } from './crypto.js';
import { resolveOptions, type ResolvedOptions, type WxSessionOptions } from './options.js';
import { WxSession, type SessionHost } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';
import { MemoryStore } from './stores/memory.js';
import { LRUCache } from 'lru-cache';
import { isWellFormedToken, newSessionId, signToken, verifyToken } from './token.js';
import { WeChatApi, type KeyState } from './wechat/api.js';

export interface LoginExtras {
  /** From wx.getUserInfo & co; decrypted with the new session_key into `session.userInfo`. */
  encryptedData?: unknown;
  iv?: unknown;
}

export interface LoginResult {
  /** The signed token the game sends back in `X-WX-Session`. */
  token: string;
  session: WxSession;
  /** Seconds until the session expires unless it rolls. */
  expiresIn: number;
}

export type AuthResult =
  | { session: WxSession; code?: undefined; /** Present when the token was re-issued under the newest secret. */ token?: string }
  | { session: null; code: ErrorCode; token?: undefined };

export interface AuthenticateOptions {
  /** A fresh wx.login code (`X-WX-Code`), redeemed only if the session_key turns out stale. */
  code?: unknown;
}

export interface WxSessionCore {
  login(code: unknown, extras?: LoginExtras): Promise<LoginResult>;
  authenticate(token: unknown, options?: AuthenticateOptions): Promise<AuthResult>;
  /**
   * The same answer without waiting, when it needs no I/O: a token already verified, a store
   * that can look the record up synchronously (`peek`), nothing to check or renew. Undefined
   * means: call authenticate. The adapters use it so a request is not deferred needlessly.
   */
  authenticateSync(token: unknown, options?: AuthenticateOptions): AuthResult | undefined;
  logout(token: unknown): Promise<void>;
  /** The options in force, secrets left out. */
  readonly config: Readonly<{ appId: string; ttl: number; exposeOpenid: boolean }>;
}

const MAX_CODE_LENGTH = 256;

function storeFailure(logger: ResolvedOptions['logger'], action: string, error: unknown): WxSessionError {
  logger.warn(`wx-session: session store failed to ${action}`, { error: error instanceof Error ? error.message : String(error) });
  return new WxSessionError('WX_STORE_UNAVAILABLE', { cause: error });
}

class Core implements WxSessionCore, SessionHost {
  readonly #options: ResolvedOptions;
  readonly #store: SessionStore;
  readonly #api: WeChatApi;
  readonly config: WxSessionCore['config'];
  /** One checkSessionKey at a time per session: concurrent requests share it. */
  readonly #checks = new Map<string, Promise<KeyCheck>>();
  /**
   * Tokens whose signature already verified, so a busy session costs one HMAC, not one per
   * request. Keyed by the whole token: a token differing in any character misses and is verified.
   */
  readonly #verified = new LRUCache<string, { id: string; index: number }>({ max: 10_000 });
  /** After a checksession outage, checks pause until then (fail open without hammering WeChat). */
  #checksPausedUntil = 0;

  constructor(options: WxSessionOptions) {
    this.#options = resolveOptions(options);
    this.#store = this.#options.store ?? new MemoryStore();
    this.#api = new WeChatApi(this.#options, this.#store.accessTokens);
    this.config = Object.freeze({
      appId: this.#options.appId,
      ttl: this.#options.ttlMs / 1000,
      exposeOpenid: this.#options.exposeOpenid,
    });
  }

  get appId(): string {
    return this.#options.appId;
  }
  get maxDataAge(): number | undefined {
    return this.#options.maxDataAge;
  }

  async login(code: unknown, extras: LoginExtras = {}): Promise<LoginResult> {
    if (code === undefined || code === null || code === '') throw new WxSessionError('WX_CODE_MISSING');
    if (typeof code !== 'string') throw new WxSessionError('WX_BAD_REQUEST', { message: 'code must be a string' });
    if (code.length > MAX_CODE_LENGTH) throw new WxSessionError('WX_BAD_REQUEST', { message: `code is longer than ${MAX_CODE_LENGTH} characters` });
    const { encryptedData, iv } = extras;
    const wantsUserInfo = encryptedData !== undefined || iv !== undefined;
    if (wantsUserInfo && (typeof encryptedData !== 'string' || typeof iv !== 'string')) {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData and iv must both be strings' });
    }

    const wechat = await this.#api.code2Session(code);
    const userInfo = wantsUserInfo
      ? decryptData({ appId: this.#options.appId, sessionKey: wechat.sessionKey, encryptedData: encryptedData as string, iv: iv as string, maxAge: this.#options.maxDataAge })
      : undefined;

    const now = Date.now();
    const record: SessionRecord = {
      openid: wechat.openid,
      sessionKey: wechat.sessionKey,
      data: {},
      createdAt: now,
      expiresAt: now + this.#options.ttlMs,
      keyCheckedAt: now,
    };
    if (wechat.unionid !== undefined) record.unionid = wechat.unionid;
    if (userInfo !== undefined) record.userInfo = userInfo;

    const id = newSessionId();
    try {
      await this.#store.set(id, record, this.#options.ttlMs);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'save a new session', error);
    }
    return { token: signToken(id, this.#options.secrets[0]!), session: new WxSession(id, record, this), expiresIn: this.#options.ttlMs / 1000 };
  }

  /** The session id inside a token, or why there is none. An LRU hit, else one HMAC per secret. */
  #verify(token: unknown): { id: string; index: number } | ErrorCode {
    if (token === undefined || token === null || token === '') return ErrorCode.WX_SESSION_MISSING;
    if (typeof token !== 'string') return ErrorCode.WX_SESSION_INVALID;
    let verified = this.#verified.get(token);
    if (!verified) {
      if (!isWellFormedToken(token)) return ErrorCode.WX_SESSION_INVALID;
      verified = verifyToken(token, this.#options.secrets);
      if (!verified) return ErrorCode.WX_SESSION_INVALID;
      this.#verified.set(token, verified);
    }
    return verified;
  }

  #result(verified: { id: string; index: number }, session: WxSession): AuthResult {
    return verified.index > 0 ? { session, token: signToken(verified.id, this.#options.secrets[0]!) } : { session };
  }

  authenticateSync(token: unknown, _options?: AuthenticateOptions): AuthResult | undefined {
    const verified = this.#verify(token);
    if (typeof verified === 'string') return { session: null, code: verified };
    const record = this.#store.peek?.(verified.id);
    if (record === undefined) return undefined;
    if (record === null) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    const now = Date.now();
    // Expiry, renewal and key checks all need the store or WeChat: the async path does them.
    if (record.expiresAt - now < this.#options.ttlMs / 2 || this.#keyNeedsAttention(record, now)) return undefined;
    return this.#result(verified, new WxSession(verified.id, record, this));
  }

  authenticate(token: unknown, options: AuthenticateOptions = {}): Promise<AuthResult> {
    const quick = this.authenticateSync(token, options);
    return quick ? Promise.resolve(quick) : this.#authenticateFromStore(token, options);
  }

  async #authenticateFromStore(token: unknown, options: AuthenticateOptions): Promise<AuthResult> {
    const verified = this.#verify(token);
    if (typeof verified === 'string') return { session: null, code: verified };
    let record: SessionRecord | undefined;
    try {
      record = await this.#store.get(verified.id);
    } catch (error) {
      storeFailure(this.#options.logger, 'read a session', error);
      return { session: null, code: ErrorCode.WX_STORE_UNAVAILABLE };
    }
    const now = Date.now();
    if (!record) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    if (!(record.expiresAt > now)) {
      Promise.resolve()
        .then(() => this.#store.destroy(verified.id))
        .catch(() => {});
      return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    }

    const session = new WxSession(verified.id, record, this);
    if (this.#keyNeedsAttention(record, now)) {
      const failure = await this.#freshenKey(session, options.code);
      if (failure) return { session: null, code: failure };
    }
    if (session.record.expiresAt - now < this.#options.ttlMs / 2) await this.#renew(session);
    return this.#result(verified, session);
  }

  async logout(token: unknown): Promise<void> {
    if (typeof token !== 'string' || !isWellFormedToken(token)) return;
    const verified = verifyToken(token, this.#options.secrets);
    if (!verified) return;
    this.#verified.delete(token);
    try {
      await this.#store.destroy(verified.id);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'destroy a session', error);
    }
  }

  // ---- session_key freshness (DESIGN.md §3 checkSessionKey, §7 87009 policy)

  #keyNeedsAttention(record: SessionRecord, now: number): boolean {
    if (record.keyStale) return true;
    const interval = this.#options.checkIntervalMs;
    return interval !== false && now - (record.keyCheckedAt ?? 0) >= interval && now >= this.#checksPausedUntil;
  }

  /** Confirms the key, or applies `keyExpired` to a stale one. Returns the failure, if any. */
  async #freshenKey(session: WxSession, code: unknown): Promise<ErrorCode | undefined> {
    if (!session.record.keyStale) {
      const check = await this.#sharedCheck(session);
      if (check.record) session.replaceRecord(check.record);
      if (check.state !== 'expired') return undefined;
    }
    if (this.#options.keyExpired === 'reject') {
      await this.#store.destroy(session.id).catch((error: unknown) => storeFailure(this.#options.logger, 'destroy a session', error));
      return ErrorCode.WX_SESSION_KEY_EXPIRED;
    }
    if (code === undefined || code === null || code === '') return ErrorCode.WX_SESSION_KEY_EXPIRED;
    return this.#refreshKey(session, code);
  }

  #sharedCheck(session: WxSession): Promise<KeyCheck> {
    let flight = this.#checks.get(session.id);
    if (!flight) {
      flight = this.#check(session.id, session.openid, session.sessionKey);
      this.#checks.set(session.id, flight);
      const done = () => this.#checks.delete(session.id);
      flight.then(done, done);
    }
    return flight;
  }

  /** Never rejects: an outage of checksession lets the request through (fail open). */
  async #check(id: string, openid: string, sessionKey: string): Promise<KeyCheck> {
    let state: KeyState;
    try {
      state = await this.#api.checkSessionKey(openid, sessionKey);
    } catch (error) {
      const err = error instanceof WxSessionError ? error : undefined;
      this.#options.logger.warn('wx-session: checkSessionKey failed; the request goes on with the session as it is', {
        code: err?.code ?? 'WX_UPSTREAM_ERROR',
        errcode: err?.errcode,
        message: err?.message,
      });
      this.#checksPausedUntil = Date.now() + Math.min(this.#options.checkIntervalMs || 0, 30_000);
      return { state: 'unknown' };
    }
    if (state === 'expired' && this.#options.keyExpired === 'reject') return { state };
    const record = await this.#recordKeyState(id, sessionKey, state).catch((error: unknown) => {
      storeFailure(this.#options.logger, 'record a session key check', error);
      return undefined;
    });
    return { state, record };
  }

  /** Redeems a fresh login code of the same user and swaps in its session_key; same session, same token. */
  async #refreshKey(session: WxSession, code: unknown): Promise<ErrorCode | undefined> {
    if (typeof code !== 'string' || code.length > MAX_CODE_LENGTH) return ErrorCode.WX_BAD_REQUEST;
    let wechat;
    try {
      wechat = await this.#api.code2Session(code);
    } catch (error) {
      if (error instanceof WxSessionError) return error.code;
      throw error;
    }
    // Another user's code must not take over this session.
    if (wechat.openid !== session.openid) return ErrorCode.WX_SESSION_INVALID;
    const now = Date.now();
    let record: SessionRecord | undefined;
    try {
      record = await this.#update(session.id, (current) =>
        withoutStale({ ...current, sessionKey: wechat.sessionKey, keyCheckedAt: now, ...(wechat.unionid ? { unionid: wechat.unionid } : {}) }),
      );
    } catch (error) {
      storeFailure(this.#options.logger, 'save a refreshed session key', error);
      return ErrorCode.WX_STORE_UNAVAILABLE;
    }
    if (!record) return ErrorCode.WX_SESSION_EXPIRED;
    session.replaceRecord(record);
    return undefined;
  }

  /**
   * Writes what WeChat said of `sessionKey`: 'valid' records the time and clears a stale mark,
   * 'expired' marks the session stale (the next request takes the keyExpired path). Skipped
   * when the session holds another key by now (refreshed meanwhile).
   */
  #recordKeyState(id: string, sessionKey: string, state: KeyState): Promise<SessionRecord | undefined> {
    const now = Date.now();
    return this.#update(id, (current) => {
      if (!safeEqual(current.sessionKey, sessionKey)) return current;
      return state === 'valid' ? withoutStale({ ...current, keyCheckedAt: now }) : { ...current, keyStale: true };
    });
  }

  /**
   * Read-modify-write of the stored record, so concurrent changes to other fields are kept and a
   * session destroyed meanwhile is not brought back. Undefined when the session is gone.
   */
  async #update(id: string, change: (current: SessionRecord) => SessionRecord): Promise<SessionRecord | undefined> {
    const current = await this.#store.get(id);
    if (!current || !(current.expiresAt > Date.now())) return undefined;
    const next = change(current);
    if (next !== current) await this.#store.set(id, next, next.expiresAt - Date.now());
    return next;
  }

  async checkKey(session: WxSession): Promise<boolean> {
    const sessionKey = session.sessionKey;
    const state = await this.#api.checkSessionKey(session.openid, sessionKey);
    let record: SessionRecord | undefined;
    try {
      record = await this.#recordKeyState(session.id, sessionKey, state);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'record a session key check', error);
    }
    if (record) session.replaceRecord(record);
    return state === 'valid';
  }

  async signedPost(session: WxSession, path: string, payload: unknown): Promise<void> {
    const sessionKey = session.sessionKey;
    try {
      await this.#api.signedPost(path, session.openid, sessionKey, payload);
    } catch (error) {
      if (error instanceof WxSessionError && error.code === ErrorCode.WX_SESSION_KEY_EXPIRED) {
        const record = await this.#recordKeyState(session.id, sessionKey, 'expired').catch((storeError: unknown) => {
          storeFailure(this.#options.logger, 'mark a session key stale', storeError);
          return undefined;
        });
        if (record) session.replaceRecord(record);
      }
      throw error;
    }
  }

  /** Rolling renewal: only when less than half the TTL is left, so not a write per request. */
  async #renew(session: WxSession): Promise<void> {
    const ttlMs = this.#options.ttlMs;
    const now = Date.now(); // after any key check, so the stored and answered expiry agree
    try {
      if (this.#store.touch) await this.#store.touch(session.id, ttlMs);
      else await this.#store.set(session.id, { ...session.record, expiresAt: now + ttlMs }, ttlMs);
      session.replaceRecord({ ...session.record, expiresAt: now + ttlMs });
    } catch (error) {
      // The session is still valid for a while; a failed renewal must not log anyone out.
      storeFailure(this.#options.logger, 'renew a session', error);
    }
  }

  async destroy(session: WxSession): Promise<void> {
    try {
      await this.#store.destroy(session.id);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'destroy a session', error);
    }
  }

  /**
   * Saves `session.data` onto the record the store holds now, so a concurrent key refresh or
   * renewal is kept, and a session logged out meanwhile is not brought back.
   */
  async save(session: WxSession, json: string): Promise<void> {
    // Parsed from the session's JSON: the stored copy shares nothing with the live object.
    const data = JSON.parse(json) as Record<string, unknown>;
    let record: SessionRecord | undefined;
    try {
      record = await this.#update(session.id, (current) => ({ ...current, data }));
    } catch (error) {
      throw storeFailure(this.#options.logger, 'save session data', error);
    }
    if (record) session.replaceRecord(record, json);
  }
}

interface KeyCheck {
  /** 'unknown' when checksession could not answer (fail open). */
  state: KeyState | 'unknown';
  /** The stored record after the check, when it was written. */
  record?: SessionRecord;
}

function withoutStale(record: SessionRecord): SessionRecord {
  if (record.keyStale === undefined) return record;
  const { keyStale: _stale, ...rest } = record;
  return rest;
}

/** Creates the core that the Express and Koa adapters wrap. Validates options at once. */
export function createWxSession(options: WxSessionOptions): WxSessionCore {
  return new Core(options);
}

/** True for a core made by createWxSession (as opposed to its options). */
export function isWxSessionCore(value: unknown): value is WxSessionCore {
  const core = value as Partial<WxSessionCore> | null;
  return !!core && typeof core === 'object' && typeof core.login === 'function' && typeof core.authenticate === 'function' && typeof core.logout === 'function';
}
