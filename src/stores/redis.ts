// RedisStore: sessions as JSON under `prefix + id` with a PX TTL, on the user's ioredis client.
// Reads are served from a short in-process cache; every write and destroy is announced on a
// pub/sub channel so other instances drop their copy at once (a logged-out token is refused
// everywhere within milliseconds, not at the cache's TTL). Every operation is bounded in time.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { SessionRecord, SessionStore } from '../store.js';
import type { TokenCache } from '../wechat/access-token.js';

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
   * subscription is down. @default { max: 10000, ttl: 10000 }
   */
  cache?: { max?: number; ttl?: number } | false;
}

class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

// Moves `expiresAt` (always the first field, see encode) and the key's TTL in one step.
const TOUCH = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n, c = string.gsub(v, '^{"expiresAt":%d+', '{"expiresAt":' .. ARGV[2], 1)
if c == 0 then return -1 end
redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
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

export class RedisStore implements SessionStore {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #channel: string;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #cache: LRUCache<string, SessionRecord> | undefined;
  readonly #cacheTtl: number;
  #subscriber: Redis | Cluster | undefined;
  #subscribed = false;
  /** Bumped by every announced change: a read that straddles one is not cached. */
  #epoch = 0;
  #closed = false;
  /** Shared access token for every instance using this Redis (see createWxSession). */
  readonly accessTokens: TokenCache;

  constructor(options: RedisStoreOptions) {
    if (!options || typeof options !== 'object' || !options.client || typeof (options.client as Redis).get !== 'function') {
      throw new TypeError('wx-session: RedisStore needs { client }, an ioredis Redis or Cluster');
    }
    const timeout = options.timeout ?? 1000;
    if (typeof timeout !== 'number' || !(timeout > 0)) throw new TypeError('wx-session: RedisStore timeout must be a positive number');
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'wxs:';
    this.#timeout = timeout;
    this.#channel = `${this.#prefix}changed`;
    const cache = options.cache ?? {};
    this.#cacheTtl = cache === false ? 0 : (cache.ttl ?? 10_000);
    this.#cache = cache === false ? undefined : new LRUCache<string, SessionRecord>({ max: cache.max ?? 10_000 });
    if (this.#cache) this.#subscribe();
    this.accessTokens = this.#tokenCache();
  }

  #key(id: string): string {
    return `${this.#prefix}${id}`;
  }

  /** The client's promise, failing after `timeout` ms; the late answer is absorbed, never unhandled. */
  #bounded<T>(operation: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreTimeoutError(this.#timeout)), this.#timeout);
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

  #subscribe(): void {
    // Redis and Cluster both have duplicate(); their signatures differ only in optional arguments.
    // A single Redis: no autoResubscribe, since every 'ready' subscribes below and ioredis' own
    // re-subscription would leave a rejected promise behind if close() came in the middle of it.
    // A Cluster's duplicate() takes startup nodes first; its own resubscription stays on, and
    // subscribing again on 'ready' is harmless.
    const subscriber: Redis | Cluster = this.#client.isCluster
      ? (this.#client as Cluster).duplicate()
      : (this.#client as Redis).duplicate({ autoResubscribe: false });
    this.#subscriber = subscriber;
    // Until subscribed (and after any disconnect) the cache is bypassed and emptied: changes
    // announced meanwhile would have been missed.
    const down = () => {
      this.#epoch++;
      this.#subscribed = false;
      this.#cache?.clear();
    };
    subscriber.on('error', () => {}); // the state events below say what matters
    subscriber.on('close', down);
    subscriber.on('end', down);
    subscriber.on('ready', () => {
      subscriber.subscribe(this.#channel).then(
        () => {
          this.#epoch++;
          this.#cache?.clear();
          this.#subscribed = !this.#closed;
        },
        down,
      );
    });
    subscriber.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      if (message.slice(0, space) === this.#instance) return;
      this.#epoch++;
      this.#cache?.delete(message.slice(space + 1));
    });
  }

  /** Tells the other instances to drop `id`; resolves once Redis has taken the message. */
  #announce(id: string): Promise<unknown> {
    this.#epoch++;
    if (!this.#cache) return Promise.resolve();
    return this.#client.publish(this.#channel, `${this.#instance} ${id}`).catch(() => {});
  }

  #remember(id: string, record: SessionRecord): void {
    if (!this.#cache || !this.#subscribed) return;
    const ttl = Math.min(this.#cacheTtl, record.expiresAt - Date.now());
    if (ttl > 0) this.#cache.set(id, record, { ttl });
  }

  /** A copy cached here (kept coherent by pub/sub), or undefined: then get() asks Redis. */
  peek(id: string): SessionRecord | undefined {
    return this.#subscribed ? this.#cache?.get(id) : undefined;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    if (this.#subscribed) {
      const hit = this.#cache?.get(id);
      if (hit) return hit;
    }
    const epoch = this.#epoch;
    const json = await this.#bounded(this.#client.get(this.#key(id)));
    if (json === null || json === undefined) return undefined;
    let record: SessionRecord;
    try {
      record = JSON.parse(json) as SessionRecord;
    } catch {
      return undefined; // not ours, or damaged: as good as absent
    }
    if (epoch === this.#epoch) this.#remember(id, record);
    return record;
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    if (!(px > 0)) return this.destroy(id);
    this.#cache?.delete(id);
    // Announced when Redis did it, even after a timeout, so a late write still reaches the
    // others; and answered only once announced, so the game's next request, wherever it
    // lands, does not read a copy cached before this write.
    await this.#bounded(this.#client.set(this.#key(id), encode(record), 'PX', px).then(() => this.#announce(id)));
    this.#remember(id, record);
  }

  async destroy(id: string): Promise<void> {
    this.#cache?.delete(id);
    await this.#bounded(this.#client.del(this.#key(id)).then(() => this.#announce(id)));
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    const px = Math.ceil(ttlMs);
    const expiresAt = Date.now() + px;
    this.#cache?.delete(id);
    const moved = await this.#bounded(
      this.#client.eval(TOUCH, 1, this.#key(id), px, expiresAt).then(async (result) => {
        if (result === 1) await this.#announce(id);
        return result;
      }),
    );
    if (moved === -1) {
      // A record not written by encode(): rewrite it whole.
      const record = await this.get(id);
      if (record) await this.set(id, { ...record, expiresAt }, px);
    }
  }

  /** Closes the subscription connection the store opened. Your client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed = false;
    this.#cache?.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) {
      await subscriber.quit().catch(() => subscriber.disconnect());
    }
  }

  #tokenCache(): TokenCache {
    const key = (appId: string, what: string) => `${this.#prefix}${what}:${appId}`;
    return {
      get: async (appId) => {
        const reply = (await this.#bounded(this.#client.eval(TOKEN_WITH_TTL, 1, key(appId, 'token')))) as [string, number] | null;
        return reply ? { token: reply[0], ttlMs: Number(reply[1]) } : undefined;
      },
      set: async (appId, token, ttlMs) => {
        await this.#bounded(this.#client.set(key(appId, 'token'), token, 'PX', Math.max(1, Math.ceil(ttlMs))));
      },
      drop: async (appId, token) => {
        await this.#bounded(this.#client.eval(DELETE_IF, 1, key(appId, 'token'), token));
      },
      lock: async (appId, name, ttlMs) => {
        const owner = randomBytes(8).toString('hex');
        const ok = await this.#bounded(this.#client.set(key(appId, `lock-${name}`), owner, 'PX', Math.ceil(ttlMs), 'NX'));
        if (ok !== 'OK') return undefined;
        return async () => {
          await this.#bounded(this.#client.eval(DELETE_IF, 1, key(appId, `lock-${name}`), owner));
        };
      },
    };
  }
}
