// Session stores for the tests: one that records every record and call (and can age a key check),
// one that counts calls over a MemoryStore, one that fails on demand, and an in-memory shared
// access-token cache like the one RedisStore offers.
import { MemoryStore, type SessionRecord, type SessionStore } from '../../src/index.js';
import type { TokenCache } from '../../src/store.js';

/** The session id inside a token (`<id>.<signature>`, cookie-signature). */
export function sessionIdOf(token: string): string {
  return token.slice(0, token.lastIndexOf('.'));
}

/** An in-memory store that keeps every record by id and counts the calls the core makes. */
export class RecordingStore implements SessionStore {
  readonly records = new Map<string, SessionRecord>();
  counts = { get: 0, set: 0, destroy: 0, touch: 0 };

  async get(id: string): Promise<SessionRecord | undefined> {
    this.counts.get++;
    const record = this.records.get(id);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }
  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.counts.set++;
    if (ttlMs > 0) this.records.set(id, record);
    else this.records.delete(id);
  }
  async destroy(id: string): Promise<void> {
    this.counts.destroy++;
    this.records.delete(id);
  }
  async touch(id: string, ttlMs: number): Promise<void> {
    this.counts.touch++;
    const record = this.records.get(id);
    if (record) this.records.set(id, { ...record, expiresAt: Date.now() + ttlMs });
  }

  /** The stored record of the session behind `token`. */
  recordOf(token: string): SessionRecord | undefined {
    return this.records.get(sessionIdOf(token));
  }

  /** Pretends WeChat last confirmed this session's key `ms` ago (no sleeping in tests). */
  ageKeyCheck(token: string, ms: number): void {
    const id = sessionIdOf(token);
    const record = this.records.get(id);
    if (!record) throw new Error('test/support/stores: no such session');
    this.records.set(id, { ...record, keyCheckedAt: record.keyCheckedAt - ms });
  }
}

/**
 * A TokenCache (the `store.accessTokens` a RedisStore offers) kept in memory: what several
 * server instances would share. Locks expire by themselves, like Redis `SET NX PX`.
 */
export class MemoryTokenCache implements TokenCache {
  readonly #tokens = new Map<string, { token: string; until: number }>();
  readonly #locks = new Map<string, { owner: object; until: number }>();

  async get(appId: string): Promise<{ token: string; ttlMs: number } | undefined> {
    const entry = this.#tokens.get(appId);
    const ttlMs = entry ? entry.until - Date.now() : 0;
    return entry && ttlMs > 0 ? { token: entry.token, ttlMs } : undefined;
  }
  async set(appId: string, token: string, ttlMs: number): Promise<void> {
    this.#tokens.set(appId, { token, until: Date.now() + ttlMs });
  }
  async drop(appId: string, token: string): Promise<void> {
    if (this.#tokens.get(appId)?.token === token) this.#tokens.delete(appId);
  }
  async lock(appId: string, name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const key = `${appId}:${name}`;
    const held = this.#locks.get(key);
    if (held && held.until > Date.now()) return undefined;
    const owner = {};
    this.#locks.set(key, { owner, until: Date.now() + ttlMs });
    return async () => {
      if (this.#locks.get(key)?.owner === owner) this.#locks.delete(key);
    };
  }
}

/** A RecordingStore that offers a shared access-token cache, as RedisStore does. */
export class SharingStore extends RecordingStore {
  readonly accessTokens = new MemoryTokenCache();
}

/** A MemoryStore that counts the calls made to it. */
export class CountingStore implements SessionStore {
  readonly inner = new MemoryStore();
  counts = { get: 0, set: 0, destroy: 0, touch: 0 };
  /** Every record passed to set, in order. */
  readonly written: SessionRecord[] = [];
  /** The ttlMs passed with each set, in order. */
  readonly ttls: number[] = [];

  get(id: string) {
    this.counts.get++;
    return this.inner.get(id);
  }
  set(id: string, record: SessionRecord, ttlMs: number) {
    this.counts.set++;
    this.written.push(record);
    this.ttls.push(ttlMs);
    return this.inner.set(id, record, ttlMs);
  }
  destroy(id: string) {
    this.counts.destroy++;
    return this.inner.destroy(id);
  }
  touch(id: string, ttlMs: number) {
    this.counts.touch++;
    return this.inner.touch(id, ttlMs);
  }
  /** Writes of any kind (set and touch). */
  get writes(): number {
    return this.counts.set + this.counts.touch;
  }
  reset(): void {
    this.counts = { get: 0, set: 0, destroy: 0, touch: 0 };
    this.written.length = 0;
    this.ttls.length = 0;
  }
}

/** A store that works until `failing` is set (or an operation is listed in `failOn`), then rejects. */
export class SwitchableStore implements SessionStore {
  readonly inner = new MemoryStore();
  failing = false;
  readonly failOn = new Set<'get' | 'set' | 'destroy'>();
  readonly error = new Error('store is down (test)');

  #check(op: 'get' | 'set' | 'destroy'): Promise<void> {
    return this.failing || this.failOn.has(op) ? Promise.reject(this.error) : Promise.resolve();
  }
  async get(id: string) {
    await this.#check('get');
    return this.inner.get(id);
  }
  async set(id: string, record: SessionRecord, ttlMs: number) {
    await this.#check('set');
    return this.inner.set(id, record, ttlMs);
  }
  async destroy(id: string) {
    await this.#check('destroy');
    return this.inner.destroy(id);
  }
  heal(): void {
    this.failing = false;
    this.failOn.clear();
  }
}
