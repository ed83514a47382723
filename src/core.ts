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
import { sealedTokenCache } from './wechat/access-token.js';
import { Sealer, sessionKeyContext } from './seal.js';
import { publishSession, reportUpstream, sessionChannelWanted, setupProblem, type SessionEvent } from './diagnostics.js';

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
  | { session: null; code: ErrorCode; token?: undefined; /** WeChat's errcode, when a refresh failed on one. */ errcode?: number };

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
  /**
   * Checks the app's credentials with WeChat now (one `stable_token` call, or your `accessToken`
   * function): resolves when they work, rejects with a WxSessionError whose message says which
   * one is wrong and what to do ("AppSecret rejected (40125): ..."). Logs nothing: the rejection
   * is the report. Call it at start-up.
   */
  verify(): Promise<void>;
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
  /** One key refresh (code2Session of an X-WX-Code) at a time per session: concurrent requests share the first. */
  readonly #refreshes = new Map<string, Promise<Refresh>>();
  /** After a checksession outage, checks pause until then (fail open without hammering WeChat). */
  #checksPausedUntil = 0;
  /** Seals session_keys (and the shared access token) before a store sees them. */
  readonly #sealer: Sealer;

  constructor(options: WxSessionOptions) {
    this.#options = resolveOptions(options);
    this.#store = this.#options.store ?? new MemoryStore();
    this.#sealer = new Sealer(this.#options.secrets);
    const shared = this.#store.accessTokens;
    this.#api = new WeChatApi(this.#options, shared && sealedTokenCache(shared, this.#sealer));
    const { logger, maxSessionsPerUser } = this.#options;
    if (typeof this.#store.update !== 'function') {
      logger.warn('wx-session: the session store has no update(); a logout racing a concurrent save may not be final (see SessionStore.update)');
    }
    if (maxSessionsPerUser !== false && typeof this.#store.limitSessions !== 'function') {
      logger.warn('wx-session: the session store has no limitSessions(); maxSessionsPerUser is not enforced');
    }
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

    let wechat;
    try {
      wechat = await this.#api.code2Session(code);
    } catch (error) {
      reportUpstream(this.#options.logger, 'code2Session', error, 'the login is refused');
      throw error;
    }
    const userInfo = wantsUserInfo
      ? decryptData({ appId: this.#options.appId, sessionKey: wechat.sessionKey, encryptedData: encryptedData as string, iv: iv as string, maxAge: this.#options.maxDataAge })
      : undefined;

    const id = newSessionId();
    const now = Date.now();
    const record: SessionRecord = {
      appId: this.#options.appId,
      openid: wechat.openid,
      sessionKey: this.#seal(id, wechat.sessionKey),
      data: {},
      createdAt: now,
      expiresAt: now + this.#options.ttlMs,
      keyCheckedAt: now,
    };
    if (wechat.unionid !== undefined) record.unionid = wechat.unionid;
    if (userInfo !== undefined) record.userInfo = userInfo;

    try {
      await this.#store.set(id, record, this.#options.ttlMs);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'save a new session', error);
    }
    this.#publish('login', record.openid);
    await this.#limitSessions(record.openid);
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
    if (record.appId !== this.#options.appId) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    const now = Date.now();
    // Expiry, renewal, key checks and re-sealing under a new secret all need the store or
    // WeChat: the async path does them.
    if (record.expiresAt - now < this.#options.ttlMs / 2 || this.#keyNeedsAttention(record, now) || !this.#sealer.isCurrent(record.sessionKey)) {
      return undefined;
    }
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
    // A token of another app (same secret, same store) is not a token of this one.
    if (record.appId !== this.#options.appId) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    if (!(record.expiresAt > now)) {
      Promise.resolve()
        .then(() => this.#store.destroy(verified.id))
        .catch(() => {});
      this.#publish('expiry', record.openid, { reason: 'ttl' });
      return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    }

    const session = new WxSession(verified.id, record, this);
    if (this.#keyNeedsAttention(record, now)) {
      // The check needs the key: one that does not open (sealed under a secret no longer in
      // `secret`, or altered in the store) is lost, and so is the session.
      if (!this.#canOpen(session)) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
      const failure = await this.#freshenKey(session, options.code);
      if (failure) return { session: null, ...failure };
    }
    if (session.record.expiresAt - now < this.#options.ttlMs / 2) await this.#renew(session);
    else if (!this.#sealer.isCurrent(session.record.sessionKey)) await this.#reseal(session);
    return this.#result(verified, session);
  }

  async logout(token: unknown): Promise<void> {
    if (typeof token !== 'string' || !isWellFormedToken(token)) return;
    const verified = verifyToken(token, this.#options.secrets);
    if (!verified) return;
    this.#verified.delete(token);
    let record: SessionRecord | undefined;
    try {
      if (sessionChannelWanted()) record = await this.#store.get(verified.id);
      await this.#store.destroy(verified.id);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'destroy a session', error);
    }
    if (record) this.#publish('logout', record.openid);
  }

  async verify(): Promise<void> {
    try {
      await this.#api.verifyCredentials();
    } catch (error) {
      // Not logged: the rejection is the report, and the caller decides where it goes.
      const problem = setupProblem(error);
      if (!(error instanceof WxSessionError) || problem === undefined) throw error;
      throw new WxSessionError(error.code, {
        message: problem,
        ...(error.errcode === undefined ? {} : { errcode: error.errcode }),
        ...(error.endpoint === undefined ? {} : { endpoint: error.endpoint }),
        ...(error.rid === undefined ? {} : { rid: error.rid }),
      });
    }
  }

  #publish(event: SessionEvent['event'], openid: string, extra: Partial<SessionEvent> = {}): void {
    publishSession({ event, appId: this.#options.appId, openid, ...extra });
  }

  // ---- session_key freshness (DESIGN.md §3 checkSessionKey, §7 87009 policy)

  #keyNeedsAttention(record: SessionRecord, now: number): boolean {
    if (record.keyStale) return true;
    const interval = this.#options.checkIntervalMs;
    return interval !== false && now - (record.keyCheckedAt ?? 0) >= interval && now >= this.#checksPausedUntil;
  }

  /** Confirms the key, or applies `keyExpired` to a stale one. Returns the failure, if any. */
  async #freshenKey(session: WxSession, code: unknown): Promise<Failure | undefined> {
    if (!session.record.keyStale) {
      const check = await this.#sharedCheck(session);
      if (check.record) session.replaceRecord(check.record);
      if (check.state !== 'expired') return undefined;
    }
    if (this.#options.keyExpired === 'reject') {
      await this.#store.destroy(session.id).then(
        () => this.#publish('expiry', session.openid, { reason: 'key' }),
        (error: unknown) => storeFailure(this.#options.logger, 'destroy a session', error),
      );
      return { code: ErrorCode.WX_SESSION_KEY_EXPIRED };
    }
    if (code === undefined || code === null || code === '') return { code: ErrorCode.WX_SESSION_KEY_EXPIRED };
    return this.#sharedRefresh(session, code);
  }

  /**
   * One refresh per session (DESIGN.md §8): concurrent requests that met 87009 with an
   * X-WX-Code share the first one's code2Session; their own codes are not redeemed.
   */
  async #sharedRefresh(session: WxSession, code: unknown): Promise<Failure | undefined> {
    let flight = this.#refreshes.get(session.id);
    if (!flight) {
      flight = this.#refreshKey(session.id, session.record, code);
      this.#refreshes.set(session.id, flight);
      const done = () => this.#refreshes.delete(session.id);
      flight.then(done, done);
    }
    const { failure, record } = await flight;
    if (record) session.replaceRecord(record);
    return failure;
  }

  /** Keyed by session and sealed key: a request that already holds a repaired key never joins a check of the old one. */
  #sharedCheck(session: WxSession): Promise<KeyCheck> {
    const sealed = session.record.sessionKey;
    const key = `${session.id} ${sealed}`;
    let flight = this.#checks.get(key);
    if (!flight) {
      flight = this.#check(session.id, session.openid, session.sessionKey, sealed);
      this.#checks.set(key, flight);
      const done = () => this.#checks.delete(key);
      flight.then(done, done);
    }
    return flight;
  }

  /** Never rejects: an outage of checksession lets the request through (fail open). */
  async #check(id: string, openid: string, sessionKey: string, sealed: string): Promise<KeyCheck> {
    let state: KeyState;
    try {
      state = await this.#api.checkSessionKey(openid, sessionKey);
    } catch (error) {
      reportUpstream(this.#options.logger, 'checkSessionKey', error, 'the request goes on with the session as it is');
      this.#checksPausedUntil = Date.now() + checkOutagePause(this.#options.checkIntervalMs);
      return { state: 'unknown' };
    }
    if (state === 'expired' && this.#options.keyExpired === 'reject') return { state };
    const record = await this.#recordKeyState(id, sealed, state).catch((error: unknown) => {
      storeFailure(this.#options.logger, 'record a session key check', error);
      return undefined;
    });
    return { state, record };
  }

  /**
   * Redeems a fresh login code of the same user and swaps in its session_key; same session,
   * same token. Another instance may have repaired the session meanwhile: then its key is taken
   * and the code is not redeemed.
   */
  async #refreshKey(id: string, seen: SessionRecord, code: unknown): Promise<Refresh> {
    if (typeof code !== 'string' || code.length > MAX_CODE_LENGTH) return { failure: { code: ErrorCode.WX_BAD_REQUEST } };
    let current: SessionRecord | undefined;
    try {
      current = await this.#store.get(id);
    } catch (error) {
      storeFailure(this.#options.logger, 'read a session', error);
      return { failure: { code: ErrorCode.WX_STORE_UNAVAILABLE } };
    }
    if (!current || !(current.expiresAt > Date.now())) return { failure: { code: ErrorCode.WX_SESSION_EXPIRED } };
    if (!current.keyStale && !safeEqual(current.sessionKey, seen.sessionKey)) return { record: current };
    let wechat;
    try {
      wechat = await this.#api.code2Session(code);
    } catch (error) {
      reportUpstream(this.#options.logger, 'code2Session', error, 'the key refresh is refused');
      if (error instanceof WxSessionError) return { failure: error.errcode === undefined ? { code: error.code } : { code: error.code, errcode: error.errcode } };
      throw error;
    }
    // Another user's code must not take over this session.
    if (wechat.openid !== seen.openid) return { failure: { code: ErrorCode.WX_SESSION_INVALID } };
    const now = Date.now();
    const sessionKey = this.#seal(id, wechat.sessionKey);
    let record: SessionRecord | undefined;
    try {
      record = await this.#update(id, (stored) =>
        withoutStale({ ...stored, sessionKey, keyCheckedAt: now, ...(wechat.unionid ? { unionid: wechat.unionid } : {}) }),
      );
    } catch (error) {
      storeFailure(this.#options.logger, 'save a refreshed session key', error);
      return { failure: { code: ErrorCode.WX_STORE_UNAVAILABLE } };
    }
    if (!record) return { failure: { code: ErrorCode.WX_SESSION_EXPIRED } };
    this.#publish('refresh', record.openid);
    return { record };
  }

  /**
   * Writes what WeChat said of the key sealed as `sealed`: 'valid' records the time and clears a
   * stale mark, 'expired' marks the session stale (the next request takes the keyExpired path).
   * Skipped when the session holds another key by now (refreshed meanwhile).
   */
  #recordKeyState(id: string, sealed: string, state: KeyState): Promise<SessionRecord | undefined> {
    const now = Date.now();
    return this.#update(id, (current) => {
      if (!safeEqual(current.sessionKey, sealed)) return current;
      return state === 'valid' ? withoutStale({ ...current, keyCheckedAt: now }) : { ...current, keyStale: true };
    });
  }

  /**
   * Read-modify-write of the stored record, so concurrent changes to other fields are kept; the
   * write is the store's `update`, which never brings back a session destroyed meanwhile (logout
   * is final, DESIGN.md §8). A key sealed under an older secret is sealed again with the first.
   * Undefined when the session is gone.
   */
  async #update(id: string, change: (current: SessionRecord) => SessionRecord): Promise<SessionRecord | undefined> {
    const current = await this.#store.get(id);
    if (!current || !(current.expiresAt > Date.now()) || current.appId !== this.#options.appId) return undefined;
    let next = change(current);
    if (!this.#sealer.isCurrent(next.sessionKey)) {
      const key = this.#sealer.open(next.sessionKey, sessionKeyContext(next.appId, id));
      if (key !== undefined) next = { ...next, sessionKey: this.#seal(id, key) };
    }
    if (next === current) return current;
    const ttlMs = next.expiresAt - Date.now();
    if (!this.#store.update) await this.#store.set(id, next, ttlMs);
    else if (!(await this.#store.update(id, next, ttlMs))) return undefined;
    return next;
  }

  /** Writes the session again so its key is sealed under the current secret. */
  async #reseal(session: WxSession): Promise<void> {
    try {
      const record = await this.#update(session.id, (current) => current);
      if (record) session.replaceRecord(record);
    } catch (error) {
      storeFailure(this.#options.logger, 'seal a session key under the current secret', error);
    }
  }

  #seal(id: string, sessionKey: string): string {
    return this.#sealer.seal(sessionKey, sessionKeyContext(this.#options.appId, id));
  }

  #canOpen(session: WxSession): boolean {
    try {
      return session.sessionKey.length > 0;
    } catch {
      return false;
    }
  }

  openKey(session: WxSession): string {
    const key = this.#sealer.open(session.record.sessionKey, sessionKeyContext(session.record.appId, session.id));
    if (key === undefined) {
      this.#error('wx-session: a stored session_key could not be opened (was its signing secret removed?)');
      throw new WxSessionError('WX_SESSION_EXPIRED', { message: 'the session key could not be read; log in again' });
    }
    return key;
  }

  #error(message: string): void {
    const { logger } = this.#options;
    (logger.error ?? logger.warn).call(logger, message);
  }

  /** The per-user cap (DESIGN.md §8): the openid's oldest sessions past the cap are destroyed. */
  async #limitSessions(openid: string): Promise<void> {
    const max = this.#options.maxSessionsPerUser;
    if (max === false || !this.#store.limitSessions) return;
    try {
      const evicted = await this.#store.limitSessions(openid, max);
      if (evicted > 0) this.#publish('eviction', openid, { count: evicted });
    } catch (error) {
      // The new session is saved; the cap is enforced again at this user's next login.
      storeFailure(this.#options.logger, 'apply the per-user session cap', error);
    }
  }

  async checkKey(session: WxSession): Promise<boolean> {
    const sealed = session.record.sessionKey;
    const state = await this.#api.checkSessionKey(session.openid, session.sessionKey).catch((error: unknown) => {
      reportUpstream(this.#options.logger, 'checkSessionKey', error, 'session.checkKey() rejects');
      throw error;
    });
    let record: SessionRecord | undefined;
    try {
      record = await this.#recordKeyState(session.id, sealed, state);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'record a session key check', error);
    }
    if (record) session.replaceRecord(record);
    return state === 'valid';
  }

  async signedPost(session: WxSession, path: string, payload: unknown): Promise<void> {
    const sealed = session.record.sessionKey;
    try {
      await this.#api.signedPost(path, session.openid, session.sessionKey, payload);
    } catch (error) {
      reportUpstream(this.#options.logger, path, error, 'the call rejects');
      if (error instanceof WxSessionError && error.code === ErrorCode.WX_SESSION_KEY_EXPIRED) {
        const record = await this.#recordKeyState(session.id, sealed, 'expired').catch((storeError: unknown) => {
          storeFailure(this.#options.logger, 'mark a session key stale', storeError);
          return undefined;
        });
        if (record) session.replaceRecord(record);
      }
      throw error;
    }
  }

  /**
   * Rolling renewal: only when less than half the TTL is left, so not a write per request. Like
   * every write to an existing session, it never brings back one destroyed meanwhile.
   */
  async #renew(session: WxSession): Promise<void> {
    const ttlMs = this.#options.ttlMs;
    const now = Date.now(); // after any key check, so the stored and answered expiry agree
    try {
      if (this.#store.touch && this.#sealer.isCurrent(session.record.sessionKey)) {
        await this.#store.touch(session.id, ttlMs);
        session.replaceRecord({ ...session.record, expiresAt: now + ttlMs });
      } else {
        const record = await this.#update(session.id, (current) => ({ ...current, expiresAt: now + ttlMs }));
        if (record) session.replaceRecord(record);
      }
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
    this.#publish('logout', session.openid);
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

/** Why a request has no session, with WeChat's errcode when a refresh failed on one. */
interface Failure {
  code: ErrorCode;
  errcode?: number;
}

/** A key refresh's outcome: the record with the new key, or why not. */
interface Refresh {
  failure?: Failure;
  record?: SessionRecord;
}

/**
 * How long key checks pause after a checksession outage: the check interval, at least 5 s (so
 * `interval: 0` does not mean one failing call per request) and at most 30 s.
 */
export function checkOutagePause(intervalMs: number | false): number {
  return Math.min(Math.max(intervalMs || 0, 5_000), 30_000);
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
