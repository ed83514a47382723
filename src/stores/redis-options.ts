// RedisStore's options: what each one means, its default, and the check made once, when the store
// is built.
import type { Cluster, Redis } from 'ioredis';
import type { WritersOptions } from './redis-writer.js';

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
   * After each write, wait (WAIT) until this many replicas have it, for at most `timeout` ms
   * from the master's answer to the write; a write no replica confirmed in time fails
   * (WX_STORE_UNAVAILABLE), though it may have been applied, so that an acknowledged write (a
   * logout above all) survives the failover of its master. Writes that wait go on connections the store opens itself (one per master; on a
   * Cluster all writes do, `wait: false` or not), so a WAIT never holds up your client's reads.
   * On a Cluster a master is asked itself whether it has a replica a failover could promote: one
   * with none (e.g. a replica just promoted, until the old master rejoins) is not waited for, and
   * is asked again with every write. On a single Redis, set it only when the server has
   * replicas. @default on a Cluster { replicas: 1, timeout: min(500, timeout / 2) }; off on a single Redis
   */
  wait?: { replicas?: number; timeout?: number } | false;
}

/** The options checked, with their defaults in. */
export interface StoreSettings {
  /** Set when the client is a Cluster. */
  cluster: Cluster | undefined;
  prefix: string;
  timeout: number;
  /** The local cache, or undefined for none. */
  cache: { max: number; ttl: number } | undefined;
  lease: number;
  /** The store's own write connections, or undefined when writes go on your client (see redis-writer.ts). */
  writers: WritersOptions | undefined;
}

/** Checks `options` (TypeError 'wx-session: ...' for the first one wrong) and fills in the defaults. */
export function storeSettings(options: RedisStoreOptions): StoreSettings {
  if (!options || typeof options !== 'object' || !options.client || typeof (options.client as Redis).get !== 'function') {
    throw new TypeError('wx-session: RedisStore needs { client }, an ioredis Redis or Cluster');
  }
  const timeout = options.timeout ?? 1000;
  if (typeof timeout !== 'number' || !(timeout > 0)) throw new TypeError('wx-session: RedisStore timeout must be a positive number');
  const cluster = (options.client as Cluster).isCluster === true ? (options.client as Cluster) : undefined;
  const scaleReads = cluster?.options?.scaleReads;
  if (scaleReads !== undefined && scaleReads !== 'master') {
    // A replica answers before it has the latest write: a logged-out session would be read back.
    throw new TypeError("wx-session: RedisStore needs a Cluster that reads from masters (scaleReads: 'master')");
  }
  const prefix = options.prefix ?? 'wxs:';
  const cache = options.cache ?? {};
  const lease = cache === false ? 1000 : (cache.lease ?? 1000);
  if (typeof lease !== 'number' || !(lease > 0)) throw new TypeError('wx-session: RedisStore cache.lease must be a positive number');
  return {
    cluster,
    prefix,
    timeout,
    cache: cache === false ? undefined : { max: cache.max ?? 10_000, ttl: cache.ttl ?? 10_000 },
    lease,
    writers: writersOptions(options.wait ?? (cluster ? {} : false), !!cluster, timeout, `${prefix}write`),
  };
}

/**
 * On a Cluster every write goes on the store's own connections (see redis-writer.ts): none is
 * ever sent after its caller was answered, and none queues behind a WAIT on your client. On a
 * single Redis only when writes WAIT (otherwise your client is as good).
 */
function writersOptions(wait: NonNullable<RedisStoreOptions['wait']>, isCluster: boolean, timeout: number, name: string): WritersOptions | undefined {
  if (wait === false && !isCluster) return undefined;
  const replicas = wait === false ? 0 : (wait.replicas ?? 1);
  const waitMs = wait === false ? 1 : (wait.timeout ?? Math.min(500, Math.max(1, Math.floor(timeout / 2))));
  if (wait !== false && (!Number.isInteger(replicas) || replicas < 1)) throw new TypeError('wx-session: RedisStore wait.replicas must be a whole number >= 1');
  if (typeof waitMs !== 'number' || !(waitMs > 0)) throw new TypeError('wx-session: RedisStore wait.timeout must be a positive number');
  return { replicas, waitMs: Math.ceil(waitMs), timeout, name };
}
