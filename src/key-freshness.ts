// Keeping a session's session_key fresh (docs/session-key.md, "The rules"): a key due a check
// waits for one checksession call per session and key, however many requests share it; an 87009
// applies `keyExpired` ('refresh' redeems the request's X-WX-Code in place, 'reject' destroys the
// session); an outage of checksession fails open and pauses the checks for a while.
import { safeEqual } from './crypto.js';
import { reportUpstream, storeFailure, type SessionEvent } from './diagnostics.js';
import { absent, ErrorCode, WxSessionError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { withoutStale, type SessionRecords } from './records.js';
import type { WxSession } from './session.js';
import { SingleFlight } from './single-flight.js';
import type { SessionRecord, SessionStore } from './store.js';
import type { Platform } from './platforms/types.js';
import { MAX_CODE_LENGTH, type KeyState } from './wechat/api.js';

/** Why a request has no session, with WeChat's errcode when a refresh failed on one. */
export interface KeyFailure {
  code: ErrorCode;
  errcode?: number;
}

interface KeyCheck {
  /** 'unknown' when checksession could not answer (fail open). */
  state: KeyState | 'unknown';
  /** The stored record after the check, when it was written. */
  record?: SessionRecord;
}

/** A key refresh's outcome: the record with the new key, or why not. */
interface Refresh {
  failure?: KeyFailure;
  record?: SessionRecord;
}

/**
 * How long key checks pause after a checksession outage: the check interval, at least 5 s (so
 * `interval: 0` does not mean one failing call per request) and at most 30 s.
 */
export function checkOutagePause(intervalMs: number | false): number {
  return Math.min(Math.max(intervalMs || 0, 5_000), 30_000);
}

/** What key freshness works with: the app's options, the store, record writes and the app's platform. */
export interface KeyFreshnessContext {
  readonly options: ResolvedOptions;
  readonly store: SessionStore;
  readonly records: SessionRecords;
  readonly api: Pick<Platform, 'checkSessionKey' | 'code2Session'>;
  publish(event: SessionEvent['event'], record: SessionRecord, extra?: Partial<SessionEvent>): void;
}

export class KeyFreshness {
  readonly #context: KeyFreshnessContext;
  /**
   * One checkSessionKey per session and sealed key: concurrent requests share it, and a request
   * that already holds a repaired key never joins a check of the old one.
   */
  readonly #checks = new SingleFlight<string, KeyCheck>();
  /** One key refresh (code2Session of an X-WX-Code) per session: concurrent requests share the first. */
  readonly #refreshes = new SingleFlight<string, Refresh>();
  /** After a checksession outage checks pause until then: one failing call per pause, not per request. */
  #pausedUntil = 0;

  constructor(context: KeyFreshnessContext) {
    this.#context = context;
  }

  /**
   * True when the record's key is marked stale, or due a check (interval passed, no outage pause).
   * Never for a guest (a Douyin anonymous login): there is no openid to check its key with.
   */
  due(record: SessionRecord, now: number): boolean {
    if (record.anonymous) return false;
    if (record.keyStale) return true;
    const interval = this.#context.options.checkIntervalMs;
    return interval !== false && now - (record.keyCheckedAt ?? 0) >= interval && now >= this.#pausedUntil;
  }

  /** Confirms a due key, or applies `keyExpired` to a stale one. Undefined when the request goes on. */
  async freshen(session: WxSession, code: unknown): Promise<KeyFailure | undefined> {
    // The check needs the key: one that does not open (sealed under a secret no longer in
    // `secret`, or altered in the store) is lost, and so is the session.
    if (!canOpen(session)) return { code: ErrorCode.WX_SESSION_EXPIRED };
    if (!session.record.keyStale) {
      const check = await this.#checks.run(`${session.id} ${session.record.sessionKey}`, () => this.#check(session));
      if (check.record) session.replaceRecord(check.record);
      if (check.state !== 'expired') return undefined;
    }
    const { options, store, publish } = this.#context;
    if (options.keyExpired === 'reject') {
      await store.destroy(session.id).then(
        () => publish('expiry', session.record, { reason: 'key' }),
        (error: unknown) => storeFailure(options.logger, 'destroy a session', error),
      );
      return { code: ErrorCode.WX_SESSION_KEY_EXPIRED };
    }
    if (absent(code)) return { code: ErrorCode.WX_SESSION_KEY_EXPIRED };
    // Concurrent requests that met 87009 share the first one's code2Session; their own codes are not redeemed.
    const { failure, record } = await this.#refreshes.run(session.id, () => this.#refresh(session.id, session.record, code));
    if (record) session.replaceRecord(record);
    return failure;
  }

  /** `session.checkKey()`: asks WeChat now and records the answer; rejects on an outage. */
  async checkNow(session: WxSession): Promise<boolean> {
    const { api, options } = this.#context;
    const sealed = session.record.sessionKey;
    const state = await api.checkSessionKey(session.openid, session.sessionKey).catch((error: unknown) => {
      reportUpstream(options.logger, 'checkSessionKey', error, 'session.checkKey() rejects');
      throw error;
    });
    let record: SessionRecord | undefined;
    try {
      record = await this.#recordKeyState(session.id, sealed, state);
    } catch (error) {
      throw storeFailure(options.logger, 'record a session key check', error);
    }
    if (record) session.replaceRecord(record);
    return state === 'valid';
  }

  /** A signed API answered 87009 for the key sealed as `sealed`: the session is marked stale. */
  async markStale(session: WxSession, sealed: string): Promise<void> {
    const record = await this.#recordKeyState(session.id, sealed, 'expired').catch((error: unknown) => {
      storeFailure(this.#context.options.logger, 'mark a session key stale', error);
      return undefined;
    });
    if (record) session.replaceRecord(record);
  }

  /** Never rejects: an outage of checksession lets the request through (fail open). */
  async #check(session: WxSession): Promise<KeyCheck> {
    const { api, options } = this.#context;
    const sealed = session.record.sessionKey;
    let state: KeyState;
    try {
      state = await api.checkSessionKey(session.openid, session.sessionKey);
    } catch (error) {
      reportUpstream(options.logger, 'checkSessionKey', error, 'the request goes on with the session as it is');
      this.#pausedUntil = options.now() + checkOutagePause(options.checkIntervalMs);
      return { state: 'unknown' };
    }
    if (state === 'expired' && options.keyExpired === 'reject') return { state };
    const record = await this.#recordKeyState(session.id, sealed, state).catch((error: unknown) => {
      storeFailure(options.logger, 'record a session key check', error);
      return undefined;
    });
    return { state, record };
  }

  /**
   * Redeems a fresh login code of the same user and swaps in its session_key; same session,
   * same token. Another instance may have repaired the session meanwhile: then its key is taken
   * and the code is not redeemed.
   */
  async #refresh(id: string, seen: SessionRecord, code: unknown): Promise<Refresh> {
    const { api, options, store, records } = this.#context;
    if (typeof code !== 'string' || code.length > MAX_CODE_LENGTH) return { failure: { code: ErrorCode.WX_BAD_REQUEST } };
    let current: SessionRecord | undefined;
    try {
      current = await store.get(id);
    } catch (error) {
      storeFailure(options.logger, 'read a session', error);
      return { failure: { code: ErrorCode.WX_STORE_UNAVAILABLE } };
    }
    if (!current || !(current.expiresAt > options.now())) return { failure: { code: ErrorCode.WX_SESSION_EXPIRED } };
    if (!current.keyStale && !safeEqual(current.sessionKey, seen.sessionKey)) return { record: current };
    let wechat;
    try {
      wechat = await api.code2Session(code);
    } catch (error) {
      reportUpstream(options.logger, 'code2Session', error, 'the key refresh is refused');
      if (error instanceof WxSessionError) return { failure: error.errcode === undefined ? { code: error.code } : { code: error.code, errcode: error.errcode } };
      throw error;
    }
    // Another user's code must not take over this session.
    if (wechat.openid !== seen.openid) return { failure: { code: ErrorCode.WX_SESSION_INVALID } };
    const keyCheckedAt = options.now();
    const sessionKey = records.seal(id, wechat.sessionKey);
    const unionid = wechat.unionid ? { unionid: wechat.unionid } : {};
    let record: SessionRecord | undefined;
    try {
      record = await records.update(id, (stored) => withoutStale({ ...stored, sessionKey, keyCheckedAt, ...unionid }));
    } catch (error) {
      storeFailure(options.logger, 'save a refreshed session key', error);
      return { failure: { code: ErrorCode.WX_STORE_UNAVAILABLE } };
    }
    if (!record) return { failure: { code: ErrorCode.WX_SESSION_EXPIRED } };
    this.#context.publish('refresh', record);
    return { record };
  }

  /**
   * Writes what WeChat said of the key sealed as `sealed`: 'valid' records the time and clears a
   * stale mark, 'expired' marks the session stale (the next request takes the keyExpired path).
   * Skipped when the session holds another key by now (refreshed meanwhile).
   */
  #recordKeyState(id: string, sealed: string, state: KeyState): Promise<SessionRecord | undefined> {
    const now = this.#context.options.now();
    return this.#context.records.update(id, (current) => {
      if (!safeEqual(current.sessionKey, sealed)) return current;
      return state === 'valid' ? withoutStale({ ...current, keyCheckedAt: now }) : { ...current, keyStale: true };
    });
  }
}

/** True when the session's sealed key opens (opening it logs when it does not). */
function canOpen(session: WxSession): boolean {
  try {
    return session.sessionKey.length > 0;
  } catch {
    return false;
  }
}
