// RedisStore's in-process cache and its coherence: what was read or written here is kept for a
// moment, dropped when another instance announces a change or the subscription of its slot is lost
// (see redis-watch.ts), and never cached at all when such a change may have come between a read
// or write and its answer.
import { LRUCache } from 'lru-cache';
import type { SessionRecord } from '../store.js';
import type { Watch } from './redis-watch.js';

interface Entry {
  record: SessionRecord;
  slot: number;
  /**
   * Date.now() past which the entry is not served. Checked here, not by lru-cache: its TTLs read a
   * clock it keeps fresh with a timer every millisecond, which wakes a busy event loop more often
   * than its requests do.
   */
  until: number;
}

/** The options of every read, given so lru-cache makes no empty object per call. */
const GET: LRUCache.GetOptions<string, Entry, unknown> = {};

/** Operations in flight on one id, and how many changes of it were seen meanwhile. */
interface Pending {
  ops: number;
  gen: number;
}

/** What was true when an operation on an id began, to tell at its end whether its answer may be cached. */
export interface Ticket {
  pending: Pending;
  gen: number;
  epoch: number;
  slot: number;
}

export class RecordCache {
  readonly #cache: LRUCache<string, Entry> | undefined;
  readonly #ttl: number;
  readonly #watch: Watch;
  readonly #pending = new Map<string, Pending>();
  #closed = false;

  /** `options` undefined: no cache (operations are still tracked, for nothing). */
  constructor(options: { max: number; ttl: number } | undefined, watch: Watch) {
    this.#cache = options && new LRUCache<string, Entry>({ max: options.max });
    this.#ttl = options?.ttl ?? 0;
    this.#watch = watch;
  }

  /** False when the store keeps no cache. */
  get enabled(): boolean {
    return this.#cache !== undefined;
  }

  /** True when `id` has an entry (served or not: its slot's subscription may be down). */
  has(id: string): boolean {
    return this.#cache?.has(id) ?? false;
  }

  /** Another instance (or a late write of ours) changed `id`: forget it, and spoil reads in flight. */
  invalidate(id: string): void {
    this.#cache?.delete(id);
    const pending = this.#pending.get(id);
    if (pending) pending.gen++;
  }

  /** The subscription of these slots went down or came back: what was cached there may be stale. */
  drop(slots: ReadonlySet<number> | 'all'): void {
    const cache = this.#cache;
    if (!cache || cache.size === 0) return;
    if (slots === 'all') {
      cache.clear();
      return;
    }
    const stale: string[] = [];
    for (const [id, entry] of cache.entries()) if (slots.has(entry.slot)) stale.push(id);
    for (const id of stale) cache.delete(id);
  }

  /** An operation on `id` (whose key is in `slot`) begins. */
  begin(id: string, slot: number): Ticket {
    let pending = this.#pending.get(id);
    if (!pending) this.#pending.set(id, (pending = { ops: 0, gen: 0 }));
    pending.ops++;
    return { pending, gen: pending.gen, epoch: this.#watch.epoch(slot), slot };
  }

  finish(id: string, ticket: Ticket): void {
    if (--ticket.pending.ops === 0 && this.#pending.get(id) === ticket.pending) this.#pending.delete(id);
  }

  /**
   * Caches `record` only when nothing may have changed `id` since the ticket was taken: no
   * announcement of it, no loss or return of its slot's subscription, and that subscription is
   * alive now. Never beyond the record's own expiresAt.
   */
  remember(id: string, record: SessionRecord, ticket: Ticket): void {
    if (!this.#cache || this.#closed) return;
    const watch = this.#watch;
    if (ticket.pending.gen !== ticket.gen || watch.epoch(ticket.slot) !== ticket.epoch || !watch.covered(ticket.slot)) return;
    const now = Date.now();
    const ttl = Math.min(this.#ttl, Number(record.expiresAt) - now);
    if (ttl > 0) this.#cache.set(id, { record, slot: ticket.slot, until: now + ttl });
  }

  /** The cached record of `id`, while its slot's subscription is alive. */
  cached(id: string): SessionRecord | undefined {
    const entry = this.#cache?.get(id, GET);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.#cache!.delete(id);
      return undefined;
    }
    return this.#watch.covered(entry.slot) ? entry.record : undefined;
  }

  close(): void {
    this.#closed = true;
    this.#cache?.clear();
  }
}
