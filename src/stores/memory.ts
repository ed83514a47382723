// The default store: an in-process LRU with per-entry TTL. Bounded, so a flood of logins
// evicts the least recently used sessions instead of exhausting memory; and an account that
// already holds sessions recycles its own oldest one when the store is full, so one account's
// flood never pushes out another user's session.
//
// An index openid -> ids (kept by the LRU's dispose hook, so it follows every delete, eviction
// and expiry) gives the per-user cap (`limitSessions`).
import { LRUCache } from 'lru-cache';
import { wallClock } from '../options.js';
import type { SessionRecord, SessionStore } from '../store.js';

export interface MemoryStoreOptions {
  /**
   * Most sessions kept; past this the least recently used is dropped (or, for an account that
   * already holds sessions, that account's oldest).
   * @default 100000
   */
  max?: number;
  /**
   * The clock, in epoch ms, that expiry and `touch` read: for tests, the same `now` the core is
   * given (the core passes its own to the MemoryStore it makes when `store` is left out).
   * @default Date.now
   */
  now?: () => number;
}

/**
 * The options of every read: given, so lru-cache does not make an empty object per call (it
 * defaults the argument to `{}`), which the hot path would pay on every request.
 */
const GET: LRUCache.GetOptions<string, SessionRecord, unknown> = {};

export class MemoryStore implements SessionStore {
  readonly #cache: LRUCache<string, SessionRecord>;
  readonly #max: number;
  readonly #now: () => number;
  /**
   * openid -> the ids of its records the cache holds (expired ones until purged): the one id
   * itself while an account has one session, as most do, else a Set in the order they were indexed.
   */
  readonly #byUser = new Map<string, string | Set<string>>();
  #purgedAt = 0;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.max ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new TypeError('wx-session: MemoryStore max must be a positive integer');
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('wx-session: MemoryStore now must be a function');
    this.#max = max;
    this.#now = options.now ?? wallClock;
    this.#cache = new LRUCache<string, SessionRecord>({
      max,
      // Runs synchronously on delete, eviction, expiry and replacement.
      dispose: (record, id) => this.#unindex(id, record),
      // A given clock drives the TTLs too, read afresh each time (it may jump); else the LRU's
      // own monotonic one, read at most once a millisecond.
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
  }

  /** Sessions currently held (expired ones may count until touched). */
  get size(): number {
    return this.#cache.size;
  }

  #index(id: string, record: SessionRecord): void {
    const openid = typeof record.openid === 'string' ? record.openid : undefined;
    if (openid === undefined) return;
    const ids = this.#byUser.get(openid);
    if (ids === undefined) this.#byUser.set(openid, id);
    else if (typeof ids !== 'string') ids.add(id);
    else if (ids !== id) this.#byUser.set(openid, new Set([ids, id]));
  }

  #unindex(id: string, record: SessionRecord): void {
    const openid = record.openid;
    const ids = typeof openid === 'string' ? this.#byUser.get(openid) : undefined;
    if (ids === undefined) return;
    if (typeof ids === 'string') {
      if (ids === id) this.#byUser.delete(openid);
      return;
    }
    ids.delete(id);
    if (ids.size === 1) this.#byUser.set(openid, ids.values().next().value!);
  }

  /**
   * Live ids of `openid` (of app `appId` only, when given), oldest first (by createdAt, then as
   * indexed); expired ones are dropped.
   */
  #live(openid: string, appId?: string): string[] {
    const ids = this.#byUser.get(openid);
    if (ids === undefined) return [];
    const now = this.#now();
    const live: Array<[string, number]> = [];
    for (const id of typeof ids === 'string' ? [ids] : [...ids]) {
      const record = this.#cache.peek(id); // no recency change; undefined once expired
      if (!record || record.expiresAt <= now) this.#cache.delete(id); // expired: dispose unindexes it
      else if (appId === undefined || record.appId === appId) live.push([id, Number(record.createdAt) || 0]);
    }
    // A stable sort: sessions created in the same millisecond stay in the order they were
    // indexed, so the one a login just made is never taken for the oldest.
    live.sort((a, b) => a[1] - b[1]);
    return live.map(([id]) => id);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#cache.get(id, GET);
  }

  peek(id: string): SessionRecord | null | undefined {
    return this.#cache.get(id, GET) ?? null;
  }

  #write(id: string, record: SessionRecord, ttlMs: number): void {
    if (!(ttlMs > 0)) {
      this.#cache.delete(id);
      return;
    }
    if (!this.#cache.has(id) && this.#cache.size >= this.#max) this.#makeRoom(record);
    this.#cache.set(id, record, { ttl: Math.ceil(ttlMs) });
    this.#index(id, record);
  }

  /**
   * The store is full and a new record comes: drop expired records (at most once a second), and
   * if still full and the record's account already holds sessions, drop that account's oldest
   * rather than letting the LRU push out someone else's.
   */
  #makeRoom(record: SessionRecord): void {
    const now = this.#now();
    if (now - this.#purgedAt >= 1000) {
      this.#purgedAt = now;
      this.#cache.purgeStale();
      if (this.#cache.size < this.#max) return;
    }
    if (typeof record.openid !== 'string') return;
    const own = this.#live(record.openid);
    if (own.length > 0 && this.#cache.size >= this.#max) this.#cache.delete(own[0]!);
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#write(id, record, ttlMs);
  }

  async update(id: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    if (this.#cache.peek(id) === undefined) return false;
    this.#write(id, record, ttlMs);
    return true;
  }

  async destroy(id: string): Promise<void> {
    this.#cache.delete(id);
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const record = this.#cache.peek(id);
    if (record) this.#write(id, { ...record, expiresAt: this.#now() + ttlMs }, ttlMs);
  }

  async limitSessions(openid: string, max: number, appId?: string): Promise<number> {
    if (!Number.isInteger(max) || max < 0) throw new TypeError('wx-session: limitSessions max must be a whole number >= 0');
    const live = this.#live(openid, appId);
    const excess = live.slice(0, Math.max(0, live.length - max));
    for (const id of excess) this.#cache.delete(id);
    return excess.length;
  }

  /** Drops every session. */
  clear(): void {
    this.#cache.clear();
    this.#byUser.clear();
  }
}
