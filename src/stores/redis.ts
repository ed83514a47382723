// RedisStore: sessions as JSON under `prefix + id` with a PX TTL, on the user's ioredis client
// (a single Redis or a Redis Cluster). Reads are served from a short in-process cache; every
// write and destroy is announced (in the same round trip as the write) so other instances drop
// their copy before the write is acknowledged; see redis-watch.ts for how, on a single Redis and
// on a Cluster. Every operation is bounded in time.
//
// Reads go on the user's client. Writes go there too on a single Redis without `wait`; on a
// Cluster (and with `wait`) they go on the store's own connections, one per master, where each
// is confirmed by a replica (WAIT) before it is acknowledged, and where a write is never sent
// after its caller was answered; see redis-writer.ts.
//
// Promises (DESIGN.md §8):
//   - a logout is final: `update` and `touch` write only while the session exists (SET XX, one
//     Lua step), and nothing is put into the cache when a change of that id, or a loss of the
//     subscription, may have come between the read or write and its answer;
//   - the per-user cap: a sorted set per openid (`prefix + 'user:' + openid`, score createdAt)
//     lists the user's sessions; `limitSessions` destroys the oldest live ones beyond the cap,
//     as `destroy` does. The user key and the session keys may sit in different cluster slots,
//     so nothing here is a cross-slot script.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { SessionRecord, SessionStore } from '../store.js';
import type { TokenCache } from '../wechat/access-token.js';
import { ShardWatch, SingleWatch, message, type Watch, type WatchHost } from './redis-watch.js';
import { Writers, type Deadline } from './redis-writer.js';

export interface RedisStoreOptions {
  /** Your ioredis client (a Redis or a Cluster). The store never closes it. */
  client: Redis | Cluster;
  /** Prefix of every key and channel. @default 'wxs:' */
  prefix?: string;
  /** Milliseconds before a Redis operation counts as failed (WX_STORE_UNAVAILABLE). @default 1000 */
  timeout?: number;
  /**
   * In-process cache of records read or written here, or false for none. Entries are dropped
   * when another instance announces a change, and the cache is bypassed while the
   * subscription is down. On a Cluster, `lease` (ms) is how long an answered heartbeat of a
   * master's subscription vouches for the entries of its slots; it is kept under half the
   * cluster's node timeout when the nodes tell it (CONFIG GET). @default { max: 10000, ttl: 10000, lease: 1000 }
   */
  cache?: { max?: number; ttl?: number; lease?: number } | false;
  /**
   * After each write, wait (WAIT) until this many replicas have it, for at most `timeout` ms; a
   * write no replica confirmed in time fails (WX_STORE_UNAVAILABLE), though it may have been
   * applied, so that an acknowledged write (a logout above all) survives the failover of its
   * master. Writes that wait go on connections the store opens itself (one per master; on a
   * Cluster all writes do, `wait: false` or not), so a WAIT never holds up your client's reads.
   * On a Cluster a master is asked itself whether it has a replica a failover could promote: one
   * with none (e.g. a replica just promoted, until the old master rejoins) is not waited for, and
   * is asked again with every write. On a single Redis, set it only when the server has
   * replicas. @default on a Cluster { replicas: 1, timeout: min(500, timeout / 2) }; off on a single Redis
   */
  wait?: { replicas?: number; timeout?: number } | false;
}

class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

// Moves `expiresAt` (always the first field, see encode) and the key's TTL in one step; answers
// the new record, 0 when there is none, -1 when it was not written by encode().
const TOUCH = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n, c = string.gsub(v, '^{"expiresAt":%d+', '{"expiresAt":' .. ARGV[2], 1)
if c == 0 then return -1 end
redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
return n`;

// Deletes the record, answering what it held (GETDEL, also on Redis < 6.2).
const TAKE = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

// Lists a session under its user, and keeps the user's key at least as long as the session.
const INDEX = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local t = redis.call('PTTL', KEYS[1])
if t < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`;

// Deletes a key only while it still holds the given value (token renewal, lock release).
const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// The token and its remaining life in one round trip.
const TOKEN_WITH_TTL = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`;

function encode(record: SessionRecord): string {
  // expiresAt first, so the TOUCH script can move it without decoding the JSON.
  const { expiresAt, ...rest } = record;
  return JSON.stringify({ expiresAt, ...rest });
}

function decode(json: unknown): SessionRecord | undefined {
  if (typeof json !== 'string') return undefined;
  try {
    const record = JSON.parse(json) as SessionRecord;
    return record && typeof record === 'object' ? record : undefined;
  } catch {
    return undefined; // not ours, or damaged: as good as absent
  }
}

interface Entry {
  record: SessionRecord;
  slot: number;
}

/** Operations in flight on one id, and how many changes of it were seen meanwhile. */
interface Pending {
  ops: number;
  gen: number;
}

interface Ticket {
  pending: Pending;
  gen: number;
  epoch: number;
  slot: number;
}

type Pipeline = ReturnType<Redis['pipeline']>;

export class RedisStore implements SessionStore {
  /** The user's client; a Cluster has the same commands (typed as Redis for brevity). */
  readonly #client: Redis;
  readonly #cluster: Cluster | undefined;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #cache: LRUCache<string, Entry> | undefined;
  readonly #cacheTtl: number;
  readonly #watch: Watch;
  /** The store's own write connections: on a Cluster always, on a single Redis with `wait` (see redis-writer.ts). */
  readonly #writers: Writers | undefined;
  readonly #pending = new Map<string, Pending>();
  #closed = false;
  /** Shared access token for every instance using this Redis (see createWxSession). */
  readonly accessTokens: TokenCache;

  constructor(options: RedisStoreOptions) {
    if (!options || typeof options !== 'object' || !options.client || typeof (options.client as Redis).get !== 'function') {
      throw new TypeError('wx-session: RedisStore needs { client }, an ioredis Redis or Cluster');
    }
    const timeout = options.timeout ?? 1000;
    if (typeof timeout !== 'number' || !(timeout > 0)) throw new TypeError('wx-session: RedisStore timeout must be a positive number');
    const isCluster = (options.client as Cluster).isCluster === true;
    if (isCluster) {
      const scaleReads = (options.client as Cluster).options?.scaleReads;
      if (scaleReads !== undefined && scaleReads !== 'master') {
        // A replica answers before it has the latest write: a logged-out session would be read back.
        throw new TypeError("wx-session: RedisStore needs a Cluster that reads from masters (scaleReads: 'master')");
      }
    }
    this.#client = options.client as Redis;
    this.#cluster = isCluster ? (options.client as Cluster) : undefined;
    this.#prefix = options.prefix ?? 'wxs:';
    this.#timeout = timeout;
    const cache = options.cache ?? {};
    this.#cacheTtl = cache === false ? 0 : (cache.ttl ?? 10_000);
    this.#cache = cache === false ? undefined : new LRUCache<string, Entry>({ max: cache.max ?? 10_000 });
    const lease = cache === false ? 1000 : (cache.lease ?? 1000);
    if (typeof lease !== 'number' || !(lease > 0)) throw new TypeError('wx-session: RedisStore cache.lease must be a positive number');
    const wait = options.wait ?? (isCluster ? {} : false);
    // On a Cluster every write goes on the store's own connections (see redis-writer.ts): none is
    // ever sent after its caller was answered, and none queues behind a WAIT on your client.
    // On a single Redis only when writes WAIT (otherwise your client is as good).
    if (wait !== false || isCluster) {
      const replicas = wait === false ? 0 : (wait.replicas ?? 1);
      const waitMs = wait === false ? 1 : (wait.timeout ?? Math.min(500, Math.max(1, Math.floor(timeout / 2))));
      if (wait !== false && (!Number.isInteger(replicas) || replicas < 1)) throw new TypeError('wx-session: RedisStore wait.replicas must be a whole number >= 1');
      if (typeof waitMs !== 'number' || !(waitMs > 0)) throw new TypeError('wx-session: RedisStore wait.timeout must be a positive number');
      this.#writers = new Writers(options.client, { replicas, waitMs: Math.ceil(waitMs), timeout, name: `${this.#prefix}write` });
    }
    const host: WatchHost = {
      instance: this.#instance,
      changed: (id) => this.#invalidate(id),
      lost: (slots) => this.#drop(slots),
    };
    this.#watch = isCluster
      ? new ShardWatch(options.client as Cluster, this.#prefix, host, { lease, timeout, listen: !!this.#cache })
      : new SingleWatch(options.client as Redis, this.#prefix, host, !!this.#cache);
    this.accessTokens = this.#tokenCache();
  }

  #key(id: string): string {
    return `${this.#prefix}${id}`;
  }

  #userKey(openid: string): string {
    return `${this.#prefix}user:${openid}`;
  }

  /** The client's promise, failing after `timeout` ms; the late answer is absorbed, never unhandled. */
  #bounded<T>(operation: Promise<T>, deadline?: Deadline): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (deadline) deadline.passed = true;
        reject(new StoreTimeoutError(this.#timeout));
      }, this.#timeout);
      operation.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * One write that announces nothing (the per-user list, the shared token and its locks): on the
   * store's own connections when it has them (never sent once `deadline` has passed, and
   * confirmed by a replica like every write there), else on your client.
   */
  async #write(key: string, deadline: Deadline, command: string, ...args: Array<string | number>): Promise<unknown> {
    if (!this.#writers) return this.#client.call(command, ...args);
    const { replies } = await this.#writers.write(this.#watch.slotOf(key), [[command, ...args]], deadline);
    const [error, reply] = replies[0]!;
    if (error) throw error;
    return reply;
  }

  /** One write, bounded by `timeout` (and dropped if not sent by then). */
  #writeBounded(key: string, command: string, ...args: Array<string | number>): Promise<unknown> {
    const deadline: Deadline = { passed: false };
    return this.#bounded(this.#write(key, deadline, command, ...args), deadline);
  }

  // --- the local cache and its coherence -------------------------------------------------

  /** Another instance (or a late write of ours) changed `id`: forget it, and spoil reads in flight. */
  #invalidate(id: string): void {
    this.#cache?.delete(id);
    const pending = this.#pending.get(id);
    if (pending) pending.gen++;
  }

  /** The subscription of these slots went down or came back: what was cached there may be stale. */
  #drop(slots: ReadonlySet<number> | 'all'): void {
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

  #begin(id: string): Ticket {
    let pending = this.#pending.get(id);
    if (!pending) this.#pending.set(id, (pending = { ops: 0, gen: 0 }));
    pending.ops++;
    const slot = this.#watch.slotOf(this.#key(id));
    return { pending, gen: pending.gen, epoch: this.#watch.epoch(slot), slot };
  }

  #finish(id: string, ticket: Ticket): void {
    if (--ticket.pending.ops === 0 && this.#pending.get(id) === ticket.pending) this.#pending.delete(id);
  }

  /**
   * Caches `record` only when nothing may have changed `id` since the ticket was taken: no
   * announcement of it, no loss or return of its slot's subscription, and that subscription is
   * alive now.
   */
  #remember(id: string, record: SessionRecord, ticket: Ticket): void {
    if (!this.#cache || this.#closed) return;
    if (ticket.pending.gen !== ticket.gen || this.#watch.epoch(ticket.slot) !== ticket.epoch || !this.#watch.covered(ticket.slot)) return;
    const ttl = Math.min(this.#cacheTtl, Number(record.expiresAt) - Date.now());
    if (ttl > 0) this.#cache.set(id, { record, slot: ticket.slot }, { ttl });
  }

  #cached(id: string): SessionRecord | undefined {
    const entry = this.#cache?.get(id);
    if (!entry) return undefined;
    return this.#watch.covered(entry.slot) ? entry.record : undefined;
  }

  /**
   * Runs one write on `id`'s key and, in the same round trip, announces it; on a Cluster (or with
   * `wait`) on the store's own connection to the key's master, and with `wait` not answered
   * before a replica has it (see redis-writer.ts). Answers the write's own reply. A write that lands after the caller was
   * answered with a timeout still invalidates here (the others hear the announcement).
   */
  async #mutate(id: string, ticket: Ticket, deadline: Deadline, command: string, args: Array<string | number>): Promise<unknown> {
    const announcement = this.#watch.announcement(ticket.slot);
    const text = message(this.#instance, id);
    const announce = async () => {
      if (announcement) await this.#client[announcement.command](announcement.channel, text);
    };
    // The caller was answered already (timeout): the others hear the announcement, and so must we.
    const landed = () => {
      if (deadline.passed) this.#invalidate(id);
    };
    if (this.#writers) {
      const commands: Array<[string, ...Array<string | number>]> = [[command, ...args]];
      if (announcement) commands.push([announcement.command.toUpperCase(), announcement.channel, text]);
      let written: Awaited<ReturnType<Writers['write']>>;
      try {
        written = await this.#writers.write(ticket.slot, commands, deadline);
      } finally {
        landed();
      }
      const [error, reply] = written.replies[0]!;
      if (error) throw error;
      // Written after an ASK (the slot is being migrated, the key has moved already): announce it
      // again on the slot's owner, whose subscribers are the ones listening, before answering.
      // Or the write landed but the others were not told: tell them again, or fail so the caller
      // (and its client, which retries) does not take the change as done everywhere.
      if (announcement && (written.redirected || written.replies[1]?.[0])) await announce();
      return reply;
    }
    const pipeline = this.#client.pipeline();
    pipeline.call(command, ...args);
    if (announcement) pipeline[announcement.command](announcement.channel, text);
    let results: Awaited<ReturnType<Pipeline['exec']>>;
    try {
      results = await pipeline.exec();
    } finally {
      landed();
    }
    if (!results || results.length === 0) throw new Error('Redis discarded the pipeline');
    const [error, reply] = results[0]!;
    if (error && this.#cluster && /^(ASK|MOVED) /.test(error.message)) {
      // The slot is being migrated and the key has moved already: the client follows the
      // redirection for a lone command. The announcement is published again after it, on the
      // slot's owner (whose subscribers are the ones listening), before the caller is answered.
      let moved: unknown;
      try {
        moved = await this.#client.call(command, ...args);
      } finally {
        landed();
      }
      await announce();
      return moved;
    }
    if (error) throw error;
    if (announcement && results[1]?.[0]) await announce();
    return reply;
  }

  // --- the store ----------------------------------------------------------------------------

  // No peek(): a cached copy is answered only after the event loop has read every socket that
  // was ready (see get), which a synchronous look-up cannot do.

  async get(id: string): Promise<SessionRecord | undefined> {
    if (this.#cache?.has(id)) {
      // An announcement may sit unread on the subscription's socket while the request that
      // follows the write it announces is being handled (same event-loop turn). Let the loop
      // read what is ready first: the check phase comes after the poll phase.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const hit = this.#cached(id);
      if (hit) return hit;
    }
    const ticket = this.#begin(id);
    try {
      const record = decode(await this.#bounded(this.#client.get(this.#key(id))));
      if (record) this.#remember(id, record, ticket);
      return record;
    } finally {
      this.#finish(id, ticket);
    }
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return this.destroy(id);
    const json = encode(record);
    this.#invalidate(id);
    const ticket = this.#begin(id);
    const deadline: Deadline = { passed: false };
    try {
      await this.#bounded(
        (async () => {
          // The record first, then its place in the user's list: a session listed is one that was
          // written, so limitSessions may take a listed id it cannot find for a dead one.
          await this.#mutate(id, ticket, deadline, 'SET', [this.#key(id), json, 'PX', px]);
          await this.#index(record, id, px, deadline);
        })(),
        deadline,
      );
      this.#remember(id, record, ticket);
    } finally {
      this.#finish(id, ticket);
    }
  }

  async update(id: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) {
      await this.destroy(id);
      return false;
    }
    const json = encode(record);
    this.#invalidate(id);
    const ticket = this.#begin(id);
    const deadline: Deadline = { passed: false };
    try {
      const wrote = await this.#bounded(
        (async () => {
          const reply = await this.#mutate(id, ticket, deadline, 'SET', [this.#key(id), json, 'PX', px, 'XX']);
          if (reply !== 'OK') return false;
          // The session is listed already; this only keeps the list alive as long as it.
          await this.#bestEffort(this.#index(record, id, px, deadline));
          return true;
        })(),
        deadline,
      );
      if (wrote) this.#remember(id, record, ticket);
      return wrote;
    } finally {
      this.#finish(id, ticket);
    }
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return;
    const expiresAt = Date.now() + px;
    this.#invalidate(id);
    const ticket = this.#begin(id);
    const deadline: Deadline = { passed: false };
    let moved: unknown;
    try {
      moved = await this.#bounded(
        (async () => {
          const reply = await this.#mutate(id, ticket, deadline, 'EVAL', [TOUCH, 1, this.#key(id), px, expiresAt]);
          if (typeof reply === 'string') {
            const record = decode(reply);
            if (record) await this.#bestEffort(this.#index(record, id, px, deadline));
            return record;
          }
          return reply;
        })(),
        deadline,
      );
      if (moved && typeof moved === 'object') this.#remember(id, moved as SessionRecord, ticket);
    } finally {
      this.#finish(id, ticket);
    }
    if (moved === -1) {
      // A record not written by encode(): rewrite it whole, still only if it exists.
      const record = await this.get(id);
      if (record) await this.update(id, { ...record, expiresAt }, px);
    }
  }

  async destroy(id: string): Promise<void> {
    await this.#destroy(id);
  }

  /** Destroys `id`; true when there was a record. */
  async #destroy(id: string): Promise<boolean> {
    this.#invalidate(id);
    const ticket = this.#begin(id);
    const deadline: Deadline = { passed: false };
    try {
      return await this.#bounded(
        (async () => {
          const reply = await this.#mutate(id, ticket, deadline, 'EVAL', [TAKE, 1, this.#key(id)]);
          // Reads of this id that overlapped the delete must not cache what they saw.
          this.#invalidate(id);
          const record = decode(reply);
          if (record && typeof record.openid === 'string') {
            // Best effort (the user's key may sit on another, failing, shard): a dead entry left in
            // the list is pruned by limitSessions.
            const userKey = this.#userKey(record.openid);
            await this.#bestEffort(this.#write(userKey, deadline, 'ZREM', userKey, id));
          }
          return reply !== null && reply !== undefined;
        })(),
        deadline,
      );
    } finally {
      this.#finish(id, ticket);
    }
  }

  /**
   * Waits for a step that another step repairs later, at most a moment (its shard may be the one
   * failing while the session's own is fine); its failure is ignored.
   */
  async #bestEffort(step: Promise<unknown>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      step.catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.min(100, this.#timeout / 4));
      }),
    ]);
    clearTimeout(timer);
  }

  /** Lists `id` under its user (user keys live in their own slots: a separate step). */
  async #index(record: SessionRecord, id: string, px: number, deadline: Deadline): Promise<void> {
    if (typeof record.openid !== 'string') return;
    const userKey = this.#userKey(record.openid);
    await this.#write(userKey, deadline, 'EVAL', INDEX, 1, userKey, Number(record.createdAt) || 0, id, px);
  }

  async limitSessions(openid: string, max: number): Promise<number> {
    if (!Number.isInteger(max) || max < 0) throw new TypeError('wx-session: limitSessions max must be a whole number >= 0');
    const userKey = this.#userKey(openid);
    // Oldest first (by createdAt, then id: every caller agrees on the order).
    const ids = await this.#bounded(this.#client.zrange(userKey, '0', '-1'));
    if (ids.length <= max) return 0;
    const exists = await this.#bounded(Promise.all(ids.map((id) => this.#client.exists(this.#key(id)))));
    const live = ids.filter((_, i) => exists[i] === 1);
    const dead = ids.filter((_, i) => exists[i] !== 1);
    // A listed id whose record is gone stays gone (only set() creates, and it lists after writing).
    if (dead.length > 0) await this.#writeBounded(userKey, 'ZREM', userKey, ...dead);
    const excess = live.slice(0, Math.max(0, live.length - max));
    const destroyed = await Promise.all(excess.map((id) => this.#destroy(id)));
    return destroyed.filter(Boolean).length;
  }

  /**
   * Resolves true once the store hears every other instance's changes (its subscriptions are up,
   * so its cache is in use), or false if that takes longer than `within` ms. Always true without
   * a cache. For readiness checks and tests; the store works (uncached) before that.
   */
  async ready(within = 5000): Promise<boolean> {
    if (!this.#cache) return true;
    const deadline = Date.now() + within;
    while (!this.#watch.whole()) {
      if (this.#closed || Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  /** Closes the connections the store opened (subscriptions, writes that wait). Your client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache?.clear();
    this.#writers?.close();
    await this.#watch.close();
  }

  #tokenCache(): TokenCache {
    const key = (appId: string, what: string) => `${this.#prefix}${what}:${appId}`;
    return {
      get: async (appId) => {
        const reply = (await this.#bounded(this.#client.eval(TOKEN_WITH_TTL, 1, key(appId, 'token')))) as [string, number] | null;
        return reply ? { token: reply[0], ttlMs: Number(reply[1]) } : undefined;
      },
      set: async (appId, token, ttlMs) => {
        const at = key(appId, 'token');
        await this.#writeBounded(at, 'SET', at, token, 'PX', Math.max(1, Math.ceil(ttlMs)));
      },
      drop: async (appId, token) => {
        const at = key(appId, 'token');
        await this.#writeBounded(at, 'EVAL', DELETE_IF, 1, at, token);
      },
      lock: async (appId, name, ttlMs) => {
        const owner = randomBytes(8).toString('hex');
        const at = key(appId, `lock-${name}`);
        const ok = await this.#writeBounded(at, 'SET', at, owner, 'PX', Math.ceil(ttlMs), 'NX');
        if (ok !== 'OK') return undefined;
        return async () => {
          await this.#writeBounded(at, 'EVAL', DELETE_IF, 1, at, owner);
        };
      },
    };
  }
}
