// The framework-agnostic core: login(code), authenticate(token), logout(token), verify().
// No req/res here; a bad or expired token is a result, not an exception. Keeping session_keys
// fresh is key-freshness.ts; writes to existing sessions are records.ts.
import { decryptData } from './crypto.js';
import { publishSession, reportUpstream, sessionChannelWanted, setupProblem, storeFailure, type SessionEvent } from './diagnostics.js';
import type { AuthenticateOptions, AuthResult, LoginExtras, LoginResult, WxSessionCore } from './core-types.js';
import { ErrorCode, WxSessionError } from './errors.js';
import { KeyFreshness } from './key-freshness.js';
import { resolveOptions, type ResolvedOptions, type WxSessionOptions } from './options.js';
import { PlayerCalls } from './player-calls.js';
import { RecentMap } from './recent-map.js';
import { newRecord, SessionRecords } from './records.js';
import { Sealer } from './seal.js';
import { WxSession, type SessionHost } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';
import { MemoryStore } from './stores/memory.js';
import { isWellFormedToken, newSessionId, signToken, verifyToken } from './token.js';
import { MAX_CODE_LENGTH, WeChatApi } from './wechat/api.js';
import { sealedTokenCache } from './wechat/shared-token.js';
import type { EncryptedDataCheck, PhoneNumber } from './wechat/player-apis.js';


/** How many verified tokens the core remembers (bench/heap.ts measures what one costs). */
export const VERIFIED_TOKENS = 10_000;

/** A verified token: the session id it carries, and which secret signed it (above 0: re-issue). */
interface Verified {
  id: string;
  index: number;
}

class Core implements WxSessionCore, SessionHost {
  readonly #options: ResolvedOptions;
  readonly #store: SessionStore;
  readonly #api: WeChatApi;
  readonly #records: SessionRecords;
  readonly #freshness: KeyFreshness;
  readonly player: PlayerCalls;
  readonly config: WxSessionCore['config'];
  /**
   * Tokens whose signature already verified, so a busy session costs one HMAC, not one per
   * request. Keyed by the whole token: a token differing in any character misses and is verified.
   */
  readonly #verified = new RecentMap<string, Verified>(VERIFIED_TOKENS);

  constructor(options: WxSessionOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    // The default store runs on the core's clock when one was given.
    this.#store = resolved.store ?? new MemoryStore(options.now ? { now: resolved.now } : {});
    // Seals session_keys (and the shared access token) before a store sees them.
    const sealer = new Sealer(resolved.secrets);
    this.#records = new SessionRecords(this.#store, sealer, resolved);
    const shared = this.#store.accessTokens;
    this.#api = new WeChatApi(resolved, shared && sealedTokenCache(shared, sealer));
    const publish = this.#publish.bind(this);
    this.#freshness = new KeyFreshness({ options: resolved, store: this.#store, records: this.#records, api: this.#api, publish });
    this.player = new PlayerCalls({ options: resolved, api: this.#api, records: this.#records, freshness: this.#freshness });
    this.#warnAboutStore();
    this.config = Object.freeze({ appId: resolved.appId, ttl: resolved.ttlMs / 1000, exposeOpenid: resolved.exposeOpenid });
  }

  #warnAboutStore(): void {
    const { logger, maxSessionsPerUser } = this.#options;
    if (typeof this.#store.update !== 'function') {
      logger.warn('wx-session: the session store has no update(); a logout racing a concurrent save may not be final (see SessionStore.update)');
    }
    if (maxSessionsPerUser !== false && typeof this.#store.limitSessions !== 'function') {
      logger.warn('wx-session: the session store has no limitSessions(); maxSessionsPerUser is not enforced');
    }
  }

  get appId(): string {
    return this.#options.appId;
  }
  get maxDataAge(): number | undefined {
    return this.#options.maxDataAge;
  }
  now(): number {
    return this.#options.now();
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
    const { appId, ttlMs, maxDataAge, logger } = this.#options;

    let wechat;
    try {
      wechat = await this.#api.code2Session(code);
    } catch (error) {
      reportUpstream(logger, 'code2Session', error, 'the login is refused');
      throw error;
    }
    const now = this.now();
    const userInfo = wantsUserInfo
      ? decryptData({ appId, sessionKey: wechat.sessionKey, encryptedData: encryptedData as string, iv: iv as string, maxAge: maxDataAge, now })
      : undefined;

    const id = newSessionId();
    const { openid, unionid } = wechat;
    const record = newRecord({ appId, openid, unionid, sealedKey: this.#records.seal(id, wechat.sessionKey), now, ttlMs });
    if (userInfo !== undefined) record.userInfo = userInfo;

    try {
      await this.#store.set(id, record, ttlMs);
    } catch (error) {
      throw storeFailure(logger, 'save a new session', error);
    }
    this.#publish('login', record.openid);
    await this.#limitSessions(record.openid);
    return { token: signToken(id, this.#options.secrets[0]!), session: new WxSession(id, record, this), expiresIn: ttlMs / 1000 };
  }

  /** The session id inside a token, or why there is none. An LRU hit, else one HMAC per secret. */
  #verify(token: unknown): Verified | ErrorCode {
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

  #result(verified: Verified, session: WxSession): AuthResult {
    return verified.index > 0 ? { session, token: signToken(verified.id, this.#options.secrets[0]!) } : { session };
  }

  authenticateSync(token: unknown): AuthResult | undefined {
    const verified = this.#verify(token);
    return typeof verified === 'string' ? { session: null, code: verified } : this.#fromPeek(verified);
  }

  /**
   * The whole answer, from the store's `get`. The adapters try authenticateSync first and come
   * here only when it had none: the store is peeked once, read once, and the token's HMAC,
   * computed there, is remembered (#verified).
   */
  authenticate(token: unknown, options: AuthenticateOptions = {}): Promise<AuthResult> {
    const verified = this.#verify(token);
    if (typeof verified === 'string') return Promise.resolve({ session: null, code: verified });
    return this.#fromStore(verified, options);
  }

  /** The answer from the store's synchronous `peek`, when it needs nothing more; undefined: call authenticate. */
  #fromPeek(verified: Verified): AuthResult | undefined {
    const record = this.#store.peek?.(verified.id);
    if (record === undefined) return undefined;
    if (record === null) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    if (record.appId !== this.#options.appId) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    const now = this.now();
    // Expiry, renewal, key checks and re-sealing under a new secret all need the store or
    // WeChat: #fromStore does them.
    if (record.expiresAt - now < this.#options.ttlMs / 2 || this.#freshness.due(record, now) || !this.#records.isCurrent(record)) {
      return undefined;
    }
    return this.#result(verified, new WxSession(verified.id, record, this));
  }

  async #fromStore(verified: Verified, options: AuthenticateOptions): Promise<AuthResult> {
    let record: SessionRecord | undefined;
    try {
      record = await this.#store.get(verified.id);
    } catch (error) {
      storeFailure(this.#options.logger, 'read a session', error);
      return { session: null, code: ErrorCode.WX_STORE_UNAVAILABLE };
    }
    const now = this.now();
    if (!record) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    // A token of another app (same secret, same store) is not a token of this one.
    if (record.appId !== this.#options.appId) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    if (!(record.expiresAt > now)) {
      this.#expire(verified.id, record.openid);
      return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    }

    const session = new WxSession(verified.id, record, this);
    if (this.#freshness.due(record, now)) {
      const failure = await this.#freshness.freshen(session, options.code);
      if (failure) return { session: null, ...failure };
    }
    // Rolling renewal only when less than half the TTL is left, so not a write per request.
    if (session.record.expiresAt - now < this.#options.ttlMs / 2) await this.#records.renew(session);
    else if (!this.#records.isCurrent(session.record)) await this.#records.reseal(session);
    return this.#result(verified, session);
  }

  /** An expired session met on a request: destroyed without waiting; a failure is logged. */
  #expire(id: string, openid: string): void {
    Promise.resolve()
      .then(() => this.#store.destroy(id))
      .catch((error: unknown) => storeFailure(this.#options.logger, 'destroy an expired session', error));
    this.#publish('expiry', openid, { reason: 'ttl' });
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

  phoneNumber(code: string, options: { openid?: string } = {}): Promise<PhoneNumber> {
    return this.player.phoneNumber(code, options?.openid);
  }

  checkEncryptedData(encryptedData: string): Promise<EncryptedDataCheck> {
    return this.player.checkEncryptedData(encryptedData);
  }

  #publish(event: SessionEvent['event'], openid: string, extra: Partial<SessionEvent> = {}): void {
    publishSession({ event, appId: this.#options.appId, openid, ...extra });
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

  // ---- SessionHost: what the session objects ask of the core

  openKey(session: WxSession): string {
    const key = this.#records.open(session.id, session.record);
    if (key === undefined) {
      const { logger } = this.#options;
      (logger.error ?? logger.warn).call(logger, 'wx-session: a stored session_key could not be opened (was its signing secret removed?)');
      throw new WxSessionError('WX_SESSION_EXPIRED', { message: 'the session key could not be read; log in again' });
    }
    return key;
  }

  checkKey(session: WxSession): Promise<boolean> {
    return this.#freshness.checkNow(session);
  }

  async signedPost(session: WxSession, path: string, payload: unknown): Promise<void> {
    const sealed = session.record.sessionKey;
    try {
      await this.#api.signedPost(path, session.openid, session.sessionKey, payload);
    } catch (error) {
      reportUpstream(this.#options.logger, path, error, 'the call rejects');
      if (error instanceof WxSessionError && error.code === ErrorCode.WX_SESSION_KEY_EXPIRED) await this.#freshness.markStale(session, sealed);
      throw error;
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
      record = await this.#records.update(session.id, (current) => ({ ...current, data }));
    } catch (error) {
      throw storeFailure(this.#options.logger, 'save session data', error);
    }
    if (record) session.replaceRecord(record, json);
  }
}

/** Creates the core that the Express and Koa adapters wrap. Validates options at once. */
export function createWxSession(options: WxSessionOptions): WxSessionCore {
  return new Core(options);
}

/** True for a core made by createWxSession (as opposed to its options): it has every method of WxSessionCore. */
export function isWxSessionCore(value: unknown): value is WxSessionCore {
  const core = value as Partial<WxSessionCore> | null;
  if (!core || typeof core !== 'object') return false;
  return [core.login, core.authenticate, core.authenticateSync, core.logout].every((method) => typeof method === 'function');
}
