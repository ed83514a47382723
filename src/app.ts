// One app a core serves (docs/platforms.md): its platform (WeChat, Douyin or QQ), its key
// freshness, player calls and record writes, and what its session objects ask of the core
// (SessionHost). The core picks the app of a login by the appId it names, and of a token by its
// record's appId.
import { publishSession, reportUpstream, storeFailure, type SessionEvent } from './diagnostics.js';
import { ErrorCode, WxSessionError } from './errors.js';
import { KeyFreshness } from './key-freshness.js';
import type { PlatformName, ResolvedOptions } from './options.js';
import { playerOf, PlayerCalls } from './player-calls.js';
import { createPlatform } from './platforms/index.js';
import type { LoginAnswer, Platform, SignedCall } from './platforms/types.js';
import { SessionRecords } from './records.js';
import type { Sealer } from './seal.js';
import type { SessionHost, WxSession } from './session.js';
import type { SessionRecord, SessionStore, TokenCache } from './store.js';

/** What a login redeems: a login code, or (Douyin) a guest's anonymous code. */
export type Grant = { code: string } | { anonymousCode: string };

/** A session event on `wx-session:session`; a guest's names its anonymous_openid, marked `anonymous`. */
export function publishEvent(appId: string, event: SessionEvent['event'], record: Pick<SessionRecord, 'openid' | 'anonymous'>, extra: Partial<SessionEvent> = {}): void {
  const who = record.anonymous ? { openid: record.openid, anonymous: true as const } : { openid: record.openid };
  publishSession({ event, appId, ...who, ...extra });
}

export class App implements SessionHost {
  readonly appId: string;
  readonly options: ResolvedOptions;
  readonly platform: Platform;
  readonly records: SessionRecords;
  readonly freshness: KeyFreshness;
  readonly player: PlayerCalls;
  readonly #store: SessionStore;

  /** `shared`: the store's access-token cache (sealed), where instances share each app's token. */
  constructor(options: ResolvedOptions, store: SessionStore, sealer: Sealer, shared: TokenCache | undefined) {
    this.options = options;
    this.appId = options.appId;
    this.#store = store;
    this.platform = createPlatform(options, shared);
    this.records = new SessionRecords(store, sealer, options);
    const publish = this.publish.bind(this);
    this.freshness = new KeyFreshness({ options, store, records: this.records, api: this.platform, publish });
    this.player = new PlayerCalls({ options, platform: this.platform, records: this.records, freshness: this.freshness });
  }

  get platformName(): PlatformName {
    return this.options.platform;
  }
  get maxDataAge(): number | undefined {
    return this.options.maxDataAge;
  }
  now(): number {
    return this.options.now();
  }

  /** True when `record` is a session of this app (its appId, and its platform where recorded). */
  owns(record: SessionRecord): boolean {
    return record.appId === this.appId && (record.platform === undefined || record.platform === this.options.platform);
  }

  /** A login's code (or a guest's anonymous code) redeemed with the platform; a failure is logged. */
  async redeem(grant: Grant): Promise<LoginAnswer> {
    try {
      return 'code' in grant ? await this.platform.code2Session(grant.code) : await this.platform.anonymousCode2Session(grant.anonymousCode);
    } catch (error) {
      reportUpstream(this.options.logger, 'code2Session', error, 'the login is refused');
      throw error;
    }
  }

  /** A session event of this app. */
  publish(event: SessionEvent['event'], record: Pick<SessionRecord, 'openid' | 'anonymous'>, extra: Partial<SessionEvent> = {}): void {
    publishEvent(this.appId, event, record, extra);
  }

  // ---- SessionHost: what the session objects ask of their app

  openKey(session: WxSession): string {
    const key = this.records.open(session.id, session.record);
    if (key === undefined) {
      const { logger } = this.options;
      (logger.error ?? logger.warn).call(logger, 'wx-session: a stored session_key could not be opened (was its signing secret removed?)');
      throw new WxSessionError('WX_SESSION_EXPIRED', { message: 'the session key could not be read; log in again' });
    }
    return key;
  }

  async checkKey(session: WxSession): Promise<boolean> {
    playerOf(session, 'A session_key check');
    return this.freshness.checkNow(session);
  }

  async signedPost(session: WxSession, call: SignedCall, payload: unknown): Promise<void> {
    const openid = playerOf(session, 'A signed API call');
    const sealed = session.record.sessionKey;
    const path = this.platform.signedPath(call) ?? call;
    try {
      await this.platform.signedPost(call, openid, session.sessionKey, payload);
    } catch (error) {
      reportUpstream(this.options.logger, path, error, 'the call rejects');
      if (error instanceof WxSessionError && error.code === ErrorCode.WX_SESSION_KEY_EXPIRED) await this.freshness.markStale(session, sealed);
      throw error;
    }
  }

  async destroy(session: WxSession): Promise<void> {
    try {
      await this.#store.destroy(session.id);
    } catch (error) {
      throw storeFailure(this.options.logger, 'destroy a session', error);
    }
    this.publish('logout', session.record);
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
      record = await this.records.update(session.id, (current) => ({ ...current, data }));
    } catch (error) {
      throw storeFailure(this.options.logger, 'save session data', error);
    }
    if (record) session.replaceRecord(record, json);
  }
}
