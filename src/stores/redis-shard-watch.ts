// How a RedisStore on a Redis Cluster learns that another instance changed a session, and when
// its local cache may be trusted (the Watch of redis-watch.ts).
//
// A plain PUBLISH answers before the message has crossed the cluster bus, and a subscription
// held by a node that fails or loses its slots goes quiet without a word. So:
//   - one channel per slot, named so it falls in that slot; a change to a key is announced with
//     SPUBLISH on the channel of the key's slot, which runs on the master that just did the write,
//     and which delivers to that master's own subscribers before it answers;
//   - the store keeps its own SSUBSCRIBE connection on every master, subscribed to the channels of
//     the slots that master serves (SSUBSCRIBE answers MOVED on a node that does not own the
//     slot, so a confirmed subscription proves ownership, with ROLE master and cluster_state:ok
//     asked in the same round trip; a master that loses slots, by failover or migration,
//     unsubscribes us from them, which ends that connection here);
//   - a lease: a slot's cached entries are served only while a PING on its connection has been
//     answered within `lease` ms (PING is sent every lease/4), and a lease that ran out is final
//     for that connection. The lease is kept below the cluster's node timeout, so a paused master
//     is given up before a replica can be promoted and accept writes;
//   - whenever a slot loses its subscription, its cached entries are dropped, and its epoch moves
//     (a read that straddles the change is not cached); it is covered again only once a new
//     subscription on its owner is confirmed.
import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';
import { noop, ownConnection } from './redis-connection.js';
import { SLOTS, keySlot, slotChannels } from './redis-slots.js';
import { hear, type Watch, type WatchHost } from './redis-watch.js';

interface Subscription {
  node: string;
  /** Ends the attempt when it is not confirmed in time (a paused node accepts, never answers). */
  guard?: ReturnType<typeof setTimeout>;
  slots: number[];
  conn: Redis;
  /** performance.now() until which the connection is known to be alive; 0 before confirmed. */
  aliveUntil: number;
  ended: boolean;
  heartbeat?: ReturnType<typeof setInterval>;
}

export interface ShardWatchOptions {
  /** Milliseconds a PING answer vouches for the subscription (see above). */
  lease: number;
  /** Bound for the subscription's own set-up commands. */
  timeout: number;
  /** False when the store keeps no cache: then nothing is subscribed, only announced. */
  listen: boolean;
}

/** A Redis Cluster: sharded pub/sub, one channel per slot, our own connection per master. */
export class ShardWatch implements Watch {
  readonly #cluster: Cluster;
  readonly #host: WatchHost;
  readonly #channels: Array<string | undefined>;
  readonly #prefix: string;
  readonly #lease: number;
  readonly #timeout: number;
  /** The confirmed subscription of each slot. */
  readonly #owner: Array<Subscription | undefined> = new Array<Subscription | undefined>(SLOTS).fill(undefined);
  readonly #epochs = new Uint32Array(SLOTS);
  readonly #subscriptions = new Map<string, Subscription>();
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #closed = false;
  readonly #onTopology = () => this.#schedule(0);

  constructor(cluster: Cluster, prefix: string, host: WatchHost, options: ShardWatchOptions) {
    this.#cluster = cluster;
    this.#host = host;
    this.#prefix = prefix;
    this.#channels = slotChannels(`${prefix}changed`);
    this.#lease = options.lease;
    this.#timeout = options.timeout;
    if (!options.listen) {
      this.#closed = true;
      return;
    }
    cluster.on('ready', this.#onTopology);
    cluster.on('refresh', this.#onTopology);
    this.#schedule(0);
  }

  slotOf(key: string): number {
    return keySlot(key);
  }

  covered(slot: number): boolean {
    const sub = this.#owner[slot];
    if (!sub) return false;
    if (performance.now() < sub.aliveUntil) return true;
    this.#end(sub); // a lease that ran out is final for that connection
    return false;
  }

  epoch(slot: number): number {
    return this.#epochs[slot]!;
  }

  announcement(slot: number) {
    const channel = this.#channels[slot];
    return channel === undefined ? undefined : { command: 'spublish' as const, channel };
  }

  whole(): boolean {
    if (this.#closed) return false;
    for (let slot = 0; slot < SLOTS; slot++) if (this.#channels[slot] !== undefined && !this.covered(slot)) return false;
    return true;
  }

  #schedule(delay: number): void {
    if (this.#closed || this.#syncTimer) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#sync();
    }, delay);
    this.#syncTimer.unref?.();
  }

  /** Retries a failed or incomplete sync, backing off to at most a second. */
  #retry(): void {
    this.#failures++;
    this.#schedule(Math.min(1000, 25 * 2 ** Math.min(this.#failures, 6)));
  }

  /** Brings the subscriptions in line with the client's slot map. */
  #sync(): void {
    if (this.#closed) return;
    const map = this.#cluster.slots;
    const wanted = new Map<string, number[]>();
    let complete = this.#cluster.status === 'ready';
    for (let slot = 0; slot < SLOTS; slot++) {
      if (this.#channels[slot] === undefined) continue;
      const node = map[slot]?.[0];
      if (!node) {
        complete = false;
        continue;
      }
      let slots = wanted.get(node);
      if (!slots) wanted.set(node, (slots = []));
      slots.push(slot);
    }
    // Subscriptions that no longer match their master's slots go.
    for (const sub of [...this.#subscriptions.values()]) {
      const slots = wanted.get(sub.node);
      if (!slots || slots.length !== sub.slots.length || slots.some((slot, i) => slot !== sub.slots[i])) this.#end(sub);
    }
    const masters = new Map<string, Redis>();
    for (const node of this.#cluster.nodes('master')) masters.set(`${node.options.host}:${node.options.port}`, node);
    for (const [node, slots] of wanted) {
      if (this.#subscriptions.has(node)) continue;
      const redis = masters.get(node);
      if (!redis) {
        complete = false;
        continue;
      }
      this.#subscribe(node, redis, slots);
    }
    if (!complete) {
      // Part of the map is unknown or points at a node the client lost: have it look again.
      if (this.#cluster.status === 'ready') this.#cluster.refreshSlotsCache();
      this.#retry();
    }
  }

  #subscribe(node: string, redis: Redis, slots: number[]): void {
    const conn = ownConnection(redis, `${this.#prefix}watch`);
    const sub: Subscription = { node, slots, conn, aliveUntil: 0, ended: false };
    this.#subscriptions.set(node, sub);
    sub.guard = setTimeout(() => this.#end(sub), this.#timeout);
    sub.guard.unref?.();
    conn.on('error', noop);
    conn.on('close', () => this.#end(sub));
    conn.on('end', () => this.#end(sub));
    // A MOVED answer to SSUBSCRIBE, or Redis unsubscribing us from the channels of slots this
    // node no longer serves.
    conn.on('moved', () => this.#end(sub));
    conn.on('smessage', (_channel: string, text: string) => hear(this.#host, text));
    conn.once('ready', () => void this.#confirm(sub));
  }

  async #confirm(sub: Subscription): Promise<void> {
    const { conn } = sub;
    try {
      // Keep the lease under the node timeout when the node tells it (CONFIG may be disabled).
      let lease = this.#lease;
      const timeout = await conn.config('GET', 'cluster-node-timeout').catch(() => undefined);
      const ms = Array.isArray(timeout) ? Number(timeout[1]) : NaN;
      if (ms > 0) lease = Math.min(lease, Math.floor(ms / 2));
      // Only a master delivers SPUBLISH before it answers; a replica hears it later, over the
      // cluster bus. ROLE goes out with the subscriptions: if the node is demoted after
      // answering it, Redis unsubscribes us from every slot it loses, which ends `sub`.
      const role = conn.role() as Promise<unknown[]>;
      // And a master whose cluster is not whole in its own eyes is not trusted with its slots: a
      // restarted master may believe, from its saved config, that it still serves the slots its
      // replica took over, and would accept SSUBSCRIBE for them (shard pub/sub is served while
      // the cluster is down) until told otherwise; its cluster_state is fail meanwhile (as on the
      // minority side of a partition). Unknown (CLUSTER INFO refused): not held against it.
      const state = (conn.call('CLUSTER', 'INFO') as Promise<unknown>).then(String, () => undefined);
      const subscribed = sub.slots.map((slot) => conn.ssubscribe(this.#channels[slot]!));
      // Answered after every SSUBSCRIBE (one connection, in order): from the moment Redis runs
      // it, all those channels are ours; the lease counts from before it was sent.
      const pinged = performance.now();
      const [roleReply, stateReply] = await Promise.all([role, state, ...subscribed, conn.ping()]);
      if (sub.ended) return;
      if (!Array.isArray(roleReply) || roleReply[0] !== 'master' || (stateReply !== undefined && !/^cluster_state:ok\s*$/m.test(stateReply))) {
        this.#end(sub);
        return;
      }
      let vouched = pinged;
      if (performance.now() >= pinged + lease) {
        // A slow start (thousands of channels on a busy node): nothing was served from these
        // slots yet, so a fresh PING may vouch for the subscription now in place.
        vouched = performance.now();
        await conn.ping();
        if (sub.ended) return;
        if (performance.now() >= vouched + lease) {
          this.#end(sub);
          return;
        }
      }
      sub.aliveUntil = vouched + lease;
      for (const slot of sub.slots) {
        this.#owner[slot] = sub;
        this.#epochs[slot]!++;
      }
      // Entries of these slots were dropped when their last subscription ended; drop anything
      // cached since, by a read that overlapped.
      this.#host.lost(new Set(sub.slots));
      this.#failures = 0;
      sub.heartbeat = setInterval(() => this.#beat(sub, lease), Math.max(10, Math.floor(lease / 4)));
      sub.heartbeat.unref?.();
      clearTimeout(sub.guard);
    } catch {
      this.#end(sub);
    }
  }

  #beat(sub: Subscription, lease: number): void {
    if (sub.ended) return;
    const sent = performance.now();
    if (sent >= sub.aliveUntil) {
      this.#end(sub);
      return;
    }
    sub.conn.ping().then(
      () => {
        // A late answer proves nothing about the time in between: it does not revive a lease
        // that ran out.
        if (sub.ended) return;
        if (performance.now() >= sub.aliveUntil) this.#end(sub);
        else sub.aliveUntil = Math.max(sub.aliveUntil, sent + lease);
      },
      () => this.#end(sub),
    );
  }

  /** Ends a subscription: its slots are uncovered and their entries dropped; then a fresh sync. */
  #end(sub: Subscription): void {
    if (sub.ended) return;
    sub.ended = true;
    sub.aliveUntil = 0;
    if (sub.heartbeat) clearInterval(sub.heartbeat);
    clearTimeout(sub.guard);
    const lost = new Set<number>();
    for (const slot of sub.slots) {
      if (this.#owner[slot] === sub) this.#owner[slot] = undefined;
      this.#epochs[slot]!++;
      lost.add(slot);
    }
    if (this.#subscriptions.get(sub.node) === sub) this.#subscriptions.delete(sub.node);
    sub.conn.disconnect();
    this.#host.lost(lost);
    if (this.#closed) return;
    // The topology may have changed: have the client look again, and follow it.
    // (ioredis refreshes its slot map on MOVED and closed connections only; a paused master
    // answers neither.)
    if (this.#cluster.status === 'ready') this.#cluster.refreshSlotsCache();
    this.#retry();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#syncTimer) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    this.#cluster.off('ready', this.#onTopology);
    this.#cluster.off('refresh', this.#onTopology);
    for (const sub of [...this.#subscriptions.values()]) this.#end(sub);
  }
}
