// The default store: an in-process LRU with per-entry TTL. Bounded, so a flood of logins
// evicts the least recently used sessions instead of exhausting memory.
import { LRUCache } from 'lru-cache';
import type { SessionRecord, SessionStore } from '../store.js';

export interface MemoryStoreOptions {
  /**
   * Most sessions kept; past this the least recently used is dropped.
   * @default 100000
   */
  max?: number;
}

export class MemoryStore implements SessionStore {
  readonly #cache: LRUCache<string, SessionRecord>;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.max ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new TypeError('wx-session: MemoryStore max must be a positive integer');
    this.#cache = new LRUCache<string, SessionRecord>({ max });
  }

  /** Sessions currently held (expired ones may count until touched). */
  get size(): number {
    return this.#cache.size;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#cache.get(id);
  }

  peek(id: string): SessionRecord | null {
    return this.#cache.get(id) ?? null;
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    if (ttlMs > 0) this.#cache.set(id, record, { ttl: Math.ceil(ttlMs) });
    else this.#cache.delete(id);
  }

  async destroy(id: string): Promise<void> {
    this.#cache.delete(id);
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const record = this.#cache.get(id);
    if (record) await this.set(id, { ...record, expiresAt: Date.now() + ttlMs }, ttlMs);
  }

  /** Drops every session. */
  clear(): void {
    this.#cache.clear();
  }
}
