// The default store: an in-process map of sessions, bounded and with per-entry TTL. A flood of
// logins evicts sessions not used lately instead of exhausting memory; and an account that
// already holds sessions recycles its own oldest one when the store is full, so one account's
// flood never pushes out another user's session.
//
// Eviction is CLOCK, the second-chance approximation of least-recently-used: a read marks its
// entry used; to make room the hand goes through the entries oldest first, sending a used one to
// the back (unmarked) and evicting the first one not used since the hand last passed. So a read
// on the hot path is one Map lookup, one clock read and one flag written: no recency list to
// maintain, no timer (a cache with TTLs that reads a cached clock keeps a timer going every
// millisecond under load, which wakes the event loop more than the requests do).
//
// An index openid -> ids (kept in step with every write, delete, eviction and expiry) gives the
// per-user cap (`limitSessions`).
import { wallClock } from '../options.js';
import type { SessionRecord, SessionStore } from '../store.js';

export interface MemoryStoreOptions {
  /**
   * Most sessions kept; past this one not used lately is dropped (or, for an account that
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

/** A stored session: its record, when it expires, and whether it was used since the hand passed. */
class Entry {
  record: SessionRecord;
  /** The last ms it lives, after the store's epoch: a small integer for 24 days, so no number box. */
  deadline: number;
  used = false;

  constructor(record: SessionRecord, deadline: number) {
    this.record = record;
    this.deadline = deadline;
  }
}

export class MemoryStore implements SessionStore {
  /** id -> entry, oldest first: the order the clock's hand goes through. */
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #now: () => number;
  /** Deadlines count from here. */
  readonly #epoch: number;
  /**
   * openid -> the ids of its records the store holds (expired ones until met): the one id itself
   * while an account has one session, as most do, else a Set in the order they were indexed.
   */
  readonly #byUser = new Map<string, string | Set<string>>();
  #purgedAt = 0;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.max ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new TypeError('wx-session: MemoryStore max must be a positive integer');
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('wx-session: MemoryStore now must be a function');
    this.#max = max;
    this.#now = options.now ?? wallClock;
    this.#epoch = this.#now();
  }

  /** Sessions currently held (expired ones may count until met). */
  get size(): number {
    return this.#entries.size;
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

  #remove(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#unindex(id, entry.record);
  }

  /** The entry of `id` while it lives; an expired one is dropped. */
  #entry(id: string): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.deadline < this.#now() - this.#epoch) {
      this.#remove(id, entry);
      return undefined;
    }
    return entry;
  }

  /**
   * Live ids of `openid` (of app `appId` only, when given), oldest first (by createdAt, then as
   * indexed); expired ones are dropped.
   */
  #idsOf(openid: string, appId?: string): string[] {
    const ids = this.#byUser.get(openid);
    if (ids === undefined) return [];
    const live: Array<[string, number]> = [];
    for (const id of typeof ids === 'string' ? [ids] : [...ids]) {
      const entry = this.#entry(id);
      if (entry && (appId === undefined || entry.record.appId === appId)) live.push([id, Number(entry.record.createdAt) || 0]);
    }
    // A stable sort: sessions created in the same millisecond stay in the order they were
    // indexed, so the one a login just made is never taken for the oldest.
    live.sort((a, b) => a[1] - b[1]);
    return live.map(([id]) => id);
  }

  /** The record of `id` while it lives, its entry marked used. */
  #read(id: string): SessionRecord | undefined {
    const entry = this.#entry(id);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.record;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#read(id);
  }

  peek(id: string): SessionRecord | null | undefined {
    return this.#read(id) ?? null;
  }

  #write(id: string, record: SessionRecord, ttlMs: number): void {
    const old = this.#entries.get(id);
    if (!(ttlMs > 0)) {
      if (old) this.#remove(id, old);
      return;
    }
    const deadline = this.#now() - this.#epoch + Math.ceil(ttlMs);
    if (old) {
      // In place: a write is a use, and the account's index keeps its order.
      if (old.record.openid !== record.openid) this.#unindex(id, old.record);
      old.record = record;
      old.deadline = deadline;
      old.used = true;
      this.#index(id, record);
      return;
    }
    if (this.#entries.size >= this.#max) this.#makeRoom(record);
    this.#entries.set(id, new Entry(record, deadline));
    this.#index(id, record);
  }

  /**
   * The store is full and a new record comes: drop expired records (at most once a second); if
   * still full, the record's account gives up its own oldest session when it holds one, and
   * otherwise the clock's hand evicts one not used lately.
   */
  #makeRoom(record: SessionRecord): void {
    const now = this.#now();
    if (now - this.#purgedAt >= 1000) {
      this.#purgedAt = now;
      this.#purgeExpired(now);
      if (this.#entries.size < this.#max) return;
    }
    const own = typeof record.openid === 'string' ? this.#idsOf(record.openid, record.appId) : [];
    if (own.length > 0) {
      this.#remove(own[0]!, this.#entries.get(own[0]!)!);
      if (this.#entries.size < this.#max) return;
    }
    this.#evict();
  }

  #purgeExpired(now: number): void {
    const at = now - this.#epoch;
    for (const [id, entry] of this.#entries) if (entry.deadline < at) this.#remove(id, entry);
  }

  /** CLOCK: a used entry goes to the back, unmarked; the first one not used goes. */
  #evict(): void {
    for (const [id, entry] of this.#entries) {
      if (!entry.used) {
        this.#remove(id, entry);
        return;
      }
      entry.used = false;
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#write(id, record, ttlMs);
  }

  async update(id: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    if (this.#entry(id) === undefined) return false;
    this.#write(id, record, ttlMs);
    return true;
  }

  async destroy(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry) this.#remove(id, entry);
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const entry = this.#entry(id);
    if (entry) this.#write(id, { ...entry.record, expiresAt: this.#now() + ttlMs }, ttlMs);
  }

  async limitSessions(openid: string, max: number, appId?: string): Promise<number> {
    if (!Number.isInteger(max) || max < 0) throw new TypeError('wx-session: limitSessions max must be a whole number >= 0');
    const live = this.#idsOf(openid, appId);
    const excess = live.slice(0, Math.max(0, live.length - max));
    for (const id of excess) this.#remove(id, this.#entries.get(id)!);
    return excess.length;
  }

  /** Drops every session. */
  clear(): void {
    this.#entries.clear();
    this.#byUser.clear();
  }
}
