// RedisStore: sessions as JSON under `prefix + id` with a PX TTL, on the user's ioredis client
// (a single Redis or a Redis Cluster). Reads are served from a short in-process cache
// (redis-cache.ts); every write and destroy is announced (in the same round trip as the write) so
// other instances drop their copy before the write is acknowledged; see redis-watch.ts and
// redis-shard-watch.ts for how, on a single Redis and on a Cluster. Every operation is bounded
// in time.
//
// Reads go on the user's client. Writes go there too on a single Redis without `wait`; on a
// Cluster (and with `wait`) they go on the store's own connections, one per master, where each
// is confirmed by a replica (WAIT) before it is acknowledged, and where a write is never sent
// after its caller was answered; see redis-writers.ts.
//
// Promises (SECURITY.md, "A stolen token" and "Denial of service"):
//   - a logout is final: `update` and `touch` write only while the session exists (SET XX, one
//     Lua step), and nothing is put into the cache when a change of that id, or a loss of the
//     subscription, may have come between the read or write and its answer;
//   - the per-user cap: a sorted set per openid (`prefix + 'user:' + openid`, score createdAt)
//     lists the user's sessions; `limitSessions` destroys the oldest live ones beyond the cap,
//     as `destroy` does (of the app named, when the sessions of several apps are listed). The user key and the session keys may sit in different cluster slots,
//     so nothing here is a cross-slot script.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SessionRecord, SessionStore } from '../store.js';
import type { TokenCache } from '../store.js';
import { RecordCache, type Ticket } from './redis-cache.js';
import { bounded } from './redis-connection.js';
import { storeSettings, type RedisStoreOptions } from './redis-options.js';
import { decode, encode, INDEX, TAKE, TOUCH } from './redis-scripts.js';
import { ShardWatch } from './redis-shard-watch.js';
import { redisTokenCache } from './redis-tokens.js';
import { SingleWatch, message, type Watch, type WatchHost } from './redis-watch.js';
import type { Command, Deadline, Reply } from './redis-writer.js';
import { Writers } from './redis-writers.js';

export type { RedisStoreOptions } from './redis-options.js';

export class RedisStore implements SessionStore {
  /** The user's client; a Cluster has the same commands (typed as Redis for brevity). */
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #records: RecordCache;
  readonly #watch: Watch;
  /** The store's own write connections: on a Cluster always, on a single Redis with `wait` (see redis-writers.ts). */
  readonly #writers: Writers | undefined;
  #closed = false;
  /** Shared access token for every instance using this Redis (see createWxSession). */
  readonly accessTokens: TokenCache;

  constructor(options: RedisStoreOptions) {
    const settings = storeSettings(options);
    this.#client = options.client as Redis;
    this.#prefix = settings.prefix;
    this.#timeout = settings.timeout;
    this.#writers = settings.writers && new Writers(options.client, settings.writers);
    // The watch reports from its connections' events only, so #records is in place by then.
    const host: WatchHost = {
      instance: this.#instance,
      changed: (id) => this.#records.invalidate(id),
      lost: (slots) => this.#records.drop(slots),
    };
    const listen = settings.cache !== undefined;
    this.#watch = settings.cluster
      ? new ShardWatch(settings.cluster, this.#prefix, host, { lease: settings.lease, timeout: settings.timeout, listen })
      : new SingleWatch(this.#client, this.#prefix, host, listen);
    this.#records = new RecordCache(settings.cache, this.#watch);
    this.accessTokens = redisTokenCache(this.#prefix, {
      read: (script, key) => this.#bounded(this.#client.eval(script, 1, key)),
      write: (key, command, ...args) => this.#writeBounded(key, command, ...args),
    });
  }

  #key(id: string): string {
    return `${this.#prefix}${id}`;
  }

  #userKey(openid: string): string {
    return `${this.#prefix}user:${openid}`;
  }

  /** The client's promise, failing after `timeout` ms (and marking `deadline` passed then). */
  #bounded<T>(operation: Promise<T>, deadline?: Deadline): Promise<T> {
    return bounded(operation, this.#timeout, deadline && (() => (deadline.passed = true)));
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

  /**
   * Runs one write on `id`'s key and, in the same round trip, announces it; on a Cluster (or with
   * `wait`) on the store's own connection to the key's master, and with `wait` not answered
   * before a replica has it (see redis-writer.ts). Answers the write's own reply. A write that
   * lands after the caller was answered with a timeout still invalidates here (the others hear
   * the announcement).
   */
  async #mutate(id: string, ticket: Ticket, deadline: Deadline, command: string, args: Array<string | number>): Promise<unknown> {
    const announcement = this.#watch.announcement(ticket.slot);
    const text = message(this.#instance, id);
    const commands: Command[] = [[command, ...args]];
    if (announcement) commands.push([announcement.command.toUpperCase(), announcement.channel, text]);
    let written: { replies: Reply[]; redirected: boolean };
    try {
      written = this.#writers ? await this.#writers.write(ticket.slot, commands, deadline) : await this.#pipelined(commands);
    } finally {
      // The caller was answered already (timeout): the others hear the announcement, and so must we.
      if (deadline.passed) this.#records.invalidate(id);
    }
    const [error, reply] = written.replies[0]!;
    if (error) throw error;
    // Written after an ASK (the slot is being migrated, the key has moved already): announce it
    // again on the slot's owner, whose subscribers are the ones listening, before answering.
    // Or the write landed but the others were not told: tell them again, or fail so the caller
    // (and its client, which retries) does not take the change as done everywhere.
    if (announcement && (written.redirected || written.replies[1]?.[0])) await this.#client[announcement.command](announcement.channel, text);
    return reply;
  }

  /** `commands` in one round trip on your client (a single Redis, writes that do not wait). */
  async #pipelined(commands: Command[]): Promise<{ replies: Reply[]; redirected: boolean }> {
    const pipeline = this.#client.pipeline();
    for (const [name, ...args] of commands) pipeline.call(name, ...args);
    const results = await pipeline.exec();
    if (!results || results.length === 0) throw new Error('Redis discarded the pipeline');
    return { replies: results as Reply[], redirected: false };
  }

  #begin(id: string): Ticket {
    return this.#records.begin(id, this.#watch.slotOf(this.#key(id)));
  }

  /**
   * Runs `change` of `id` within the timeout, as one operation on it: the cached copy is dropped
   * first, and what `keep` picks from the answer is cached if nothing changed `id` meanwhile.
   */
  async #change<T>(id: string, change: (ticket: Ticket, deadline: Deadline) => Promise<T>, keep?: (value: T) => SessionRecord | undefined): Promise<T> {
    this.#records.invalidate(id);
    const ticket = this.#begin(id);
    const deadline: Deadline = { passed: false };
    try {
      const value = await this.#bounded(change(ticket, deadline), deadline);
      const record = keep?.(value);
      if (record) this.#records.remember(id, record, ticket);
      return value;
    } finally {
      this.#records.finish(id, ticket);
    }
  }

  // No peek(): a cached copy is answered only after the event loop has read every socket that
  // was ready (see get), which a synchronous look-up cannot do.

  async get(id: string): Promise<SessionRecord | undefined> {
    if (this.#records.has(id)) {
      // An announcement may sit unread on the subscription's socket while the request that
      // follows the write it announces is being handled (same event-loop turn). Let the loop
      // read what is ready first: the check phase comes after the poll phase.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const hit = this.#records.cached(id);
      if (hit) return hit;
    }
    const ticket = this.#begin(id);
    try {
      const record = decode(await this.#bounded(this.#client.get(this.#key(id))));
      if (record) this.#records.remember(id, record, ticket);
      return record;
    } finally {
      this.#records.finish(id, ticket);
    }
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return this.destroy(id);
    const json = encode(record);
    await this.#change(
      id,
      async (ticket, deadline) => {
        // The record first, then its place in the user's list: a session listed is one that was
        // written, so limitSessions may take a listed id it cannot find for a dead one.
        await this.#mutate(id, ticket, deadline, 'SET', [this.#key(id), json, 'PX', px]);
        await this.#index(record, id, px, deadline);
      },
      () => record,
    );
  }

  async update(id: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) {
      await this.destroy(id);
      return false;
    }
    const json = encode(record);
    return this.#change(
      id,
      async (ticket, deadline) => {
        const reply = await this.#mutate(id, ticket, deadline, 'SET', [this.#key(id), json, 'PX', px, 'XX']);
        if (reply !== 'OK') return false;
        // The session is listed already; this only keeps the list alive as long as it.
        await this.#bestEffort(this.#index(record, id, px, deadline));
        return true;
      },
      (wrote) => (wrote ? record : undefined),
    );
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return;
    const expiresAt = Date.now() + px;
    const moved = await this.#change(
      id,
      async (ticket, deadline) => {
        const reply = await this.#mutate(id, ticket, deadline, 'EVAL', [TOUCH, 1, this.#key(id), px, expiresAt]);
        if (typeof reply !== 'string') return reply;
        const record = decode(reply);
        if (record) await this.#bestEffort(this.#index(record, id, px, deadline));
        return record;
      },
      (value) => (value && typeof value === 'object' ? (value as SessionRecord) : undefined),
    );
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
  #destroy(id: string): Promise<boolean> {
    return this.#change(id, async (ticket, deadline) => {
      const reply = await this.#mutate(id, ticket, deadline, 'EVAL', [TAKE, 1, this.#key(id)]);
      // Reads of this id that overlapped the delete must not cache what they saw.
      this.#records.invalidate(id);
      const record = decode(reply);
      if (record && typeof record.openid === 'string') {
        // Best effort (the user's key may sit on another, failing, shard): a dead entry left in
        // the list is pruned by limitSessions.
        const userKey = this.#userKey(record.openid);
        await this.#bestEffort(this.#write(userKey, deadline, 'ZREM', userKey, id));
      }
      return reply !== null && reply !== undefined;
    });
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

  async limitSessions(openid: string, max: number, appId?: string): Promise<number> {
    if (!Number.isInteger(max) || max < 0) throw new TypeError('wx-session: limitSessions max must be a whole number >= 0');
    const userKey = this.#userKey(openid);
    // Oldest first (by createdAt, then id: every caller agrees on the order).
    const ids = await this.#bounded(this.#client.zrange(userKey, '0', '-1'));
    if (ids.length <= max) return 0;
    const exists = await this.#bounded(Promise.all(ids.map((id) => this.#client.exists(this.#key(id)))));
    let live = ids.filter((_, i) => exists[i] === 1);
    const dead = ids.filter((_, i) => exists[i] !== 1);
    // A listed id whose record is gone stays gone (only set() creates, and it lists after writing).
    if (dead.length > 0) await this.#writeBounded(userKey, 'ZREM', userKey, ...dead);
    // Only over the cap across apps: are enough of them this app's? (A record gone meanwhile is not.)
    if (appId !== undefined && live.length > max) {
      const records = await Promise.all(live.map((id) => this.get(id)));
      live = live.filter((_, i) => records[i]?.appId === appId);
    }
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
    if (!this.#records.enabled) return true;
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
    this.#records.close();
    this.#writers?.close();
    await this.#watch.close();
  }
}
