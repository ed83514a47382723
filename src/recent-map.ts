// A bounded map that keeps what was used lately, for the core's verified tokens: the hot path
// reads it on every request, so a hit is one Map lookup and writes nothing.
//
// Two generations of at most max/2 entries each: new entries go to the young one; a hit in the
// old one moves the entry to the young one; when the young one is full it becomes the old one and
// the old one is dropped whole. An entry unused for a whole generation goes, one in use stays:
// an LRU's guarantee at a Map entry's cost (no recency list, no per-hit bookkeeping).
export class RecentMap<K, V> {
  readonly #half: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 2) throw new TypeError('RecentMap max must be an integer >= 2');
    this.#half = max >> 1;
  }

  /** Entries held, at most `max`. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: K): V | undefined {
    const value = this.#young.get(key);
    if (value !== undefined) return value;
    const old = this.#old.get(key);
    if (old === undefined) return undefined;
    this.#old.delete(key);
    this.#add(key, old);
    return old;
  }

  set(key: K, value: V): void {
    this.#old.delete(key);
    this.#add(key, value);
  }

  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  #add(key: K, value: V): void {
    if (this.#young.size >= this.#half && !this.#young.has(key)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
