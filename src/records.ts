// Writes to sessions that already exist, as the core and key freshness make them. Each is a
// read-modify-write of the stored record, so concurrent changes to other fields are kept, written
// with the store's `update`, which never brings back a session destroyed meanwhile (logout is
// final: SECURITY.md, "A stolen token"); a session_key sealed under an older secret is sealed
// again on the way.
import { storeFailure } from './diagnostics.js';
import type { PlatformName, ResolvedOptions } from './options.js';
import { sessionKeyContext, type Sealer } from './seal.js';
import type { WxSession } from './session.js';
import type { SessionRecord, SessionStore } from './store.js';

/** The data of a new session: shared, so frozen; WxSession.data copies it on first use. */
const NO_DATA: Record<string, unknown> = Object.freeze({});

/** What a new session's record is made of: the platform's answer, its key already sealed. */
export interface NewRecord {
  appId: string;
  platform: PlatformName;
  /** The openid, or a guest's anonymous_openid (then `anonymous`). */
  openid: string;
  anonymous?: boolean;
  unionid?: string | undefined;
  sealedKey: string;
  now: number;
  ttlMs: number;
}

/**
 * A new session's record. One literal per shape, so every field sits in the object itself (a
 * field added later costs a property array of its own in every stored session), and `data`
 * starts as one shared frozen empty object: a stored session costs what it holds.
 */
export function newRecord({ appId, platform, openid, anonymous, unionid, sealedKey: sessionKey, now, ttlMs }: NewRecord): SessionRecord {
  const expiresAt = now + ttlMs;
  if (anonymous) return { appId, platform, openid, anonymous: true, sessionKey, data: NO_DATA, createdAt: now, expiresAt, keyCheckedAt: now };
  return unionid === undefined
    ? { appId, platform, openid, sessionKey, data: NO_DATA, createdAt: now, expiresAt, keyCheckedAt: now }
    : { appId, platform, openid, unionid, sessionKey, data: NO_DATA, createdAt: now, expiresAt, keyCheckedAt: now };
}

export class SessionRecords {
  readonly #store: SessionStore;
  readonly #sealer: Sealer;
  readonly #options: ResolvedOptions;

  constructor(store: SessionStore, sealer: Sealer, options: ResolvedOptions) {
    this.#store = store;
    this.#sealer = sealer;
    this.#options = options;
  }

  /** `sessionKey` sealed for session `id` under the first secret. */
  seal(id: string, sessionKey: string): string {
    return this.#sealer.seal(sessionKey, sessionKeyContext(this.#options.appId, id));
  }

  /** The session_key a record holds; undefined when it does not open (its secret removed, or altered). */
  open(id: string, record: SessionRecord): string | undefined {
    return this.#sealer.open(record.sessionKey, sessionKeyContext(record.appId, id));
  }

  /** True when the record's key is sealed under the first secret. */
  isCurrent(record: SessionRecord): boolean {
    return this.#sealer.isCurrent(record.sessionKey);
  }

  /** The record after `change`, as written; undefined when the session is gone, expired or another app's. */
  async update(id: string, change: (current: SessionRecord) => SessionRecord): Promise<SessionRecord | undefined> {
    const { appId, now } = this.#options;
    const current = await this.#store.get(id);
    if (!current || !(current.expiresAt > now()) || current.appId !== appId) return undefined;
    let next = change(current);
    if (!this.isCurrent(next)) {
      const key = this.open(id, next);
      if (key !== undefined) next = { ...next, sessionKey: this.seal(id, key) };
    }
    if (next === current) return current;
    const ttlMs = next.expiresAt - now();
    if (!this.#store.update) await this.#store.set(id, next, ttlMs);
    else if (!(await this.#store.update(id, next, ttlMs))) return undefined;
    return next;
  }

  /**
   * Rolling renewal: the session lives a full TTL from now. A failure is logged, not answered:
   * the session is still valid for a while, and a failed renewal must not log anyone out.
   */
  async renew(session: WxSession): Promise<void> {
    const { ttlMs, now } = this.#options;
    const expiresAt = now() + ttlMs; // read after any key check, so the stored and answered expiry agree
    try {
      if (this.#store.touch && this.isCurrent(session.record)) {
        await this.#store.touch(session.id, ttlMs);
        session.replaceRecord({ ...session.record, expiresAt });
      } else {
        const record = await this.update(session.id, (current) => ({ ...current, expiresAt }));
        if (record) session.replaceRecord(record);
      }
    } catch (error) {
      storeFailure(this.#options.logger, 'renew a session', error);
    }
  }

  /** Writes the session again so its key is sealed under the first secret; a failure is logged. */
  async reseal(session: WxSession): Promise<void> {
    try {
      const record = await this.update(session.id, (current) => current);
      if (record) session.replaceRecord(record);
    } catch (error) {
      storeFailure(this.#options.logger, 'seal a session key under the current secret', error);
    }
  }
}

/** The record without its stale mark: WeChat confirmed the key, or it was replaced. */
export function withoutStale(record: SessionRecord): SessionRecord {
  if (record.keyStale === undefined) return record;
  const { keyStale: _stale, ...rest } = record;
  return rest;
}
