// The framework-agnostic core: login(code), authenticate(token), logout(token).
// No req/res here; a bad or expired token is a result, not an exception.
import { ErrorCode, WxSessionError } from './errors.js';
import { decryptData } from './crypto.js';
import { resolveOptions, type ResolvedOptions, type WxSessionOptions } from './options.js';
import { WxSession, type SessionHost } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';
import { MemoryStore } from './stores/memory.js';
import { isWellFormedToken, newSessionId, signToken, verifyToken } from './token.js';
import { WeChatApi } from './wechat/api.js';

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

  constructor(options: WxSessionOptions) {
    this.#options = resolveOptions(options);
    this.#store = this.#options.store ?? new MemoryStore();
    this.#api = new WeChatApi(this.#options);
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

  async authenticate(token: unknown, _options: AuthenticateOptions = {}): Promise<AuthResult> {
    if (token === undefined || token === null || token === '') return { session: null, code: ErrorCode.WX_SESSION_MISSING };
    if (typeof token !== 'string' || !isWellFormedToken(token)) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    const verified = verifyToken(token, this.#options.secrets);
    if (!verified) return { session: null, code: ErrorCode.WX_SESSION_INVALID };

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
      this.#store.destroy(verified.id).catch(() => {});
      return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    }

    const session = new WxSession(verified.id, record, this);
    if (record.expiresAt - now < this.#options.ttlMs / 2) await this.#renew(session, now);
    return verified.index > 0 ? { session, token: signToken(verified.id, this.#options.secrets[0]!) } : { session };
  }

  async logout(token: unknown): Promise<void> {
    if (typeof token !== 'string' || !isWellFormedToken(token)) return;
    const verified = verifyToken(token, this.#options.secrets);
    if (!verified) return;
    try {
      await this.#store.destroy(verified.id);
    } catch (error) {
      throw storeFailure(this.#options.logger, 'destroy a session', error);
    }
  }

  /** Rolling renewal: only when less than half the TTL is left, so not a write per request. */
  async #renew(session: WxSession, now: number): Promise<void> {
    const ttlMs = this.#options.ttlMs;
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
  async save(session: WxSession): Promise<void> {
    const data = JSON.parse(JSON.stringify(session.data)) as Record<string, unknown>;
    let record: SessionRecord | undefined;
    try {
      const current = await this.#store.get(session.id);
      if (!current || !(current.expiresAt > Date.now())) return;
      record = { ...current, data };
      await this.#store.set(session.id, record, record.expiresAt - Date.now());
    } catch (error) {
      throw storeFailure(this.#options.logger, 'save session data', error);
    }
    session.replaceRecord(record, true);
  }
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
