// The framework-agnostic core: login(code), authenticate(token), logout(token), verify().
// No req/res here; a bad or expired token is a result, not an exception. One core serves one
// app or several (docs/several-games.md): each app is an App (app.ts) with its platform, key
// freshness (key-freshness.ts) and record writes (records.ts); a token is valid only for its app's
// session.
import { App, publishEvent, type Grant } from './app.js';
import { decryptData } from './crypto.js';
import { sessionChannelWanted, setupProblem, storeFailure } from './diagnostics.js';
import type { AppChoice, AuthenticateOptions, AuthResult, LoginExtras, LoginResult, WxSessionCore } from './core-types.js';
import { absent, ErrorCode, WxSessionError } from './errors.js';
import { resolveOptions, type SharedOptions, type WxSessionCoreOptions } from './options.js';
import { RecentMap } from './recent-map.js';
import { newRecord } from './records.js';
import { Sealer } from './seal.js';
import { WxSession } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';
import { MemoryStore } from './stores/memory.js';
import { isWellFormedToken, newSessionId, signToken, verifyToken } from './token.js';
import { MAX_CODE_LENGTH } from './wechat/api.js';
import { sealedTokenCache } from './wechat/shared-token.js';
import type { EncryptedDataCheck, PhoneNumber } from './wechat/player-apis.js';


/** How many verified tokens the core remembers (bench/heap.ts measures what one costs). */
export const VERIFIED_TOKENS = 10_000;

/** A verified token: the session id it carries, and which secret signed it (above 0: re-issue). */
interface Verified {
  id: string;
  index: number;
}

class Core implements WxSessionCore {
  /** What every app shares: secrets, store, lifetimes, clock, logger (untagged). */
  readonly #shared: SharedOptions;
  readonly #store: SessionStore;
  /** The apps served, by appId. */
  readonly #apps: ReadonlyMap<string, App>;
  /** The app of a login or call that names none: the only one; undefined when there are several. */
  readonly #only: App | undefined;
  readonly config: WxSessionCore['config'];
  /**
   * Tokens whose signature already verified, so a busy session costs one HMAC, not one per
   * request. Keyed by the whole token: a token differing in any character misses and is verified.
   */
  readonly #verified = new RecentMap<string, Verified>(VERIFIED_TOKENS);

  constructor(options: WxSessionCoreOptions) {
    const { shared, apps } = resolveOptions(options);
    this.#shared = shared;
    // The default store runs on the core's clock when one was given.
    this.#store = shared.store ?? new MemoryStore(options.now ? { now: shared.now } : {});
    // Seals session_keys (and the shared access tokens, per appId) before a store sees them.
    const sealer = new Sealer(shared.secrets);
    const tokens = this.#store.accessTokens;
    const cache = tokens && sealedTokenCache(tokens, sealer);
    this.#apps = new Map(apps.map((app) => [app.appId, new App(app, this.#store, sealer, cache)]));
    this.#only = apps.length === 1 ? this.#apps.get(apps[0]!.appId) : undefined;
    this.#warnAboutStore();
    const served = Object.freeze(apps.map(({ appId, platform }) => Object.freeze({ appId, platform })));
    this.config = Object.freeze({ appId: apps[0]!.appId, apps: served, ttl: shared.ttlMs / 1000, exposeOpenid: shared.exposeOpenid });
  }

  #warnAboutStore(): void {
    const { logger, maxSessionsPerUser } = this.#shared;
    if (typeof this.#store.update !== 'function') {
      logger.warn('wx-session: the session store has no update(); a logout racing a concurrent save may not be final (see SessionStore.update)');
    }
    if (maxSessionsPerUser !== false && typeof this.#store.limitSessions !== 'function') {
      logger.warn('wx-session: the session store has no limitSessions(); maxSessionsPerUser is not enforced');
    }
  }

  /** The app's appId; with several apps, the first one's (as `config.appId`). */
  get appId(): string {
    return this.config.appId;
  }

  /** The app a login or call names (`appId`), or the only one when it names none. */
  #appNamed(appId: unknown): App {
    if (absent(appId)) {
      if (this.#only) return this.#only;
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'this server serves several apps: name the app with appId (login body) or the X-WX-AppId header' });
    }
    if (typeof appId !== 'string') throw new WxSessionError('WX_BAD_REQUEST', { message: 'appId must be a string' });
    const app = this.#apps.get(appId);
    if (!app) throw new WxSessionError('WX_APP_UNKNOWN');
    return app;
  }

  /** The app a record belongs to, when this core serves it. */
  #appOf(record: SessionRecord): App | undefined {
    const app = this.#apps.get(record.appId);
    return app !== undefined && app.owns(record) ? app : undefined;
  }

  async login(code: unknown, extras: LoginExtras = {}): Promise<LoginResult> {
    const grant = grantOf(code, extras.anonymousCode);
    const app = this.#appNamed(extras.appId);
    const { encryptedData, iv } = extras;
    const wantsUserInfo = encryptedData !== undefined || iv !== undefined;
    if (wantsUserInfo && (typeof encryptedData !== 'string' || typeof iv !== 'string')) {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData and iv must both be strings' });
    }
    const { appId, platform, ttlMs, maxDataAge, logger } = app.options;
    const answer = await app.redeem(grant);
    const now = this.#shared.now();
    const userInfo = wantsUserInfo
      ? decryptData({ appId, sessionKey: answer.sessionKey, encryptedData: encryptedData as string, iv: iv as string, maxAge: maxDataAge, now })
      : undefined;

    const id = newSessionId();
    const { openid, unionid, anonymous } = answer;
    const record = newRecord({ appId, platform, openid, anonymous, unionid, sealedKey: app.records.seal(id, answer.sessionKey), now, ttlMs });
    if (userInfo !== undefined) record.userInfo = userInfo;

    try {
      await this.#store.set(id, record, ttlMs);
    } catch (error) {
      throw storeFailure(logger, 'save a new session', error);
    }
    app.publish('login', record);
    await this.#limitSessions(app, record);
    return { token: signToken(id, this.#shared.secrets[0]!), session: new WxSession(id, record, app), expiresIn: ttlMs / 1000 };
  }

  /** The session id inside a token, or why there is none. An LRU hit, else one HMAC per secret. */
  #verify(token: unknown): Verified | ErrorCode {
    if (absent(token)) return ErrorCode.WX_SESSION_MISSING;
    if (typeof token !== 'string') return ErrorCode.WX_SESSION_INVALID;
    let verified = this.#verified.get(token);
    if (!verified) {
      if (!isWellFormedToken(token)) return ErrorCode.WX_SESSION_INVALID;
      verified = verifyToken(token, this.#shared.secrets);
      if (!verified) return ErrorCode.WX_SESSION_INVALID;
      this.#verified.set(token, verified);
    }
    return verified;
  }

  #result(verified: Verified, session: WxSession): AuthResult {
    return verified.index > 0 ? { session, token: signToken(verified.id, this.#shared.secrets[0]!) } : { session };
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
    const app = this.#appOf(record);
    if (app === undefined) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    const now = this.#shared.now();
    // Expiry, renewal, key checks and re-sealing under a new secret all need the store or
    // the platform: #fromStore does them.
    if (record.expiresAt - now < this.#shared.ttlMs / 2 || app.freshness.due(record, now) || !app.records.isCurrent(record)) {
      return undefined;
    }
    return this.#result(verified, new WxSession(verified.id, record, app));
  }

  async #fromStore(verified: Verified, options: AuthenticateOptions): Promise<AuthResult> {
    let record: SessionRecord | undefined;
    try {
      record = await this.#store.get(verified.id);
    } catch (error) {
      storeFailure(this.#shared.logger, 'read a session', error);
      return { session: null, code: ErrorCode.WX_STORE_UNAVAILABLE };
    }
    const now = this.#shared.now();
    if (!record) return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    // A token of an app this core does not serve (same secret, same store) is not a token of ours.
    const app = this.#appOf(record);
    if (app === undefined) return { session: null, code: ErrorCode.WX_SESSION_INVALID };
    if (!(record.expiresAt > now)) {
      this.#expire(app, verified.id, record);
      return { session: null, code: ErrorCode.WX_SESSION_EXPIRED };
    }

    const session = new WxSession(verified.id, record, app);
    if (app.freshness.due(record, now)) {
      const failure = await app.freshness.freshen(session, options.code);
      if (failure) return { session: null, ...failure };
    }
    // Rolling renewal only when less than half the TTL is left, so not a write per request.
    if (session.record.expiresAt - now < this.#shared.ttlMs / 2) await app.records.renew(session);
    else if (!app.records.isCurrent(session.record)) await app.records.reseal(session);
    return this.#result(verified, session);
  }

  /** An expired session met on a request: destroyed without waiting; a failure is logged. */
  #expire(app: App, id: string, record: SessionRecord): void {
    Promise.resolve()
      .then(() => this.#store.destroy(id))
      .catch((error: unknown) => storeFailure(app.options.logger, 'destroy an expired session', error));
    app.publish('expiry', record, { reason: 'ttl' });
  }

  async logout(token: unknown): Promise<void> {
    if (typeof token !== 'string' || !isWellFormedToken(token)) return;
    const verified = verifyToken(token, this.#shared.secrets);
    if (!verified) return;
    this.#verified.delete(token);
    let record: SessionRecord | undefined;
    try {
      if (sessionChannelWanted()) record = await this.#store.get(verified.id);
      await this.#store.destroy(verified.id);
    } catch (error) {
      throw storeFailure(this.#shared.logger, 'destroy a session', error);
    }
    if (record) publishEvent(record.appId, 'logout', record);
  }

  /** Every app's credentials, checked at once; the first failing app (in the order given) rejects. */
  async verify(): Promise<void> {
    const apps = [...this.#apps.values()];
    const outcomes = await Promise.allSettled(apps.map((app) => app.platform.verifyCredentials()));
    const index = outcomes.findIndex((outcome) => outcome.status === 'rejected');
    if (index < 0) return;
    const error = (outcomes[index] as PromiseRejectedResult).reason as unknown;
    // Not logged: the rejection is the report, and the caller decides where it goes.
    const problem = setupProblem(error);
    if (!(error instanceof WxSessionError) || problem === undefined) throw error;
    throw new WxSessionError(error.code, {
      message: apps.length > 1 ? `app ${apps[index]!.appId} (${apps[index]!.platformName}): ${problem}` : problem,
      ...(error.errcode === undefined ? {} : { errcode: error.errcode }),
      ...(error.endpoint === undefined ? {} : { endpoint: error.endpoint }),
      ...(error.rid === undefined ? {} : { rid: error.rid }),
    });
  }

  async phoneNumber(code: string, options: { openid?: string } & AppChoice = {}): Promise<PhoneNumber> {
    return this.#appNamed(options?.appId).player.phoneNumber(code, options?.openid);
  }

  async checkEncryptedData(encryptedData: string, options: AppChoice = {}): Promise<EncryptedDataCheck> {
    return this.#appNamed(options?.appId).player.checkEncryptedData(encryptedData);
  }

  /**
   * The per-user cap (SECURITY.md, "Denial of service"): the player's oldest sessions of this app
   * past the cap are destroyed. A guest is capped by its anonymous_openid.
   */
  async #limitSessions(app: App, record: SessionRecord): Promise<void> {
    const max = this.#shared.maxSessionsPerUser;
    if (max === false || !this.#store.limitSessions) return;
    try {
      const evicted = await this.#store.limitSessions(record.openid, max, app.appId);
      if (evicted > 0) app.publish('eviction', record, { count: evicted });
    } catch (error) {
      // The new session is saved; the cap is enforced again at this user's next login.
      storeFailure(app.options.logger, 'apply the per-user session cap', error);
    }
  }
}

/** What a login redeems: `code` when there is one (it wins), else a Douyin `anonymousCode`. */
function grantOf(code: unknown, anonymousCode: unknown): Grant {
  if (!absent(code)) return { code: checkedCode(code, 'code') };
  if (absent(anonymousCode)) throw new WxSessionError('WX_CODE_MISSING');
  return { anonymousCode: checkedCode(anonymousCode, 'anonymousCode') };
}

function checkedCode(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new WxSessionError('WX_BAD_REQUEST', { message: `${name} must be a string` });
  if (value.length > MAX_CODE_LENGTH) throw new WxSessionError('WX_BAD_REQUEST', { message: `${name} is longer than ${MAX_CODE_LENGTH} characters` });
  return value;
}

/**
 * Creates the core that the adapters wrap, for one app (`appId`, `appSecret`) or several
 * (`apps`). Validates options at once.
 */
export function createWxSession(options: WxSessionCoreOptions): WxSessionCore {
  return new Core(options);
}

/** True for a core made by createWxSession (as opposed to its options): it has every method of WxSessionCore. */
export function isWxSessionCore(value: unknown): value is WxSessionCore {
  const core = value as Partial<WxSessionCore> | null;
  if (!core || typeof core !== 'object') return false;
  return [core.login, core.authenticate, core.authenticateSync, core.logout].every((method) => typeof method === 'function');
}
