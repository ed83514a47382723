// How a RedisStore learns that another instance changed a session, and when its local cache may
// be trusted: the interface both kinds of Redis answer, and the single Redis's side of it (the
// Cluster's is redis-shard-watch.ts).
//
// Single Redis: one SUBSCRIBE connection on one channel. Redis delivers a PUBLISH to every
// subscriber before it answers the publisher, so an announced change is on its way to every
// instance before the write is acknowledged. While the connection is down the cache is bypassed.
import type { Redis } from 'ioredis';
import { noop } from './redis-connection.js';

export interface WatchHost {
  /** This store's instance tag (its own announcements are skipped). */
  readonly instance: string;
  /** Another instance changed `id`. */
  changed(id: string): void;
  /** Cached entries in these slots (or all) may be stale: drop them. */
  lost(slots: ReadonlySet<number> | 'all'): void;
}

export interface Watch {
  /** The slot the store's key `key` is in (0 on a single Redis). */
  slotOf(key: string): number;
  /** True while cached entries of `slot` may be served. */
  covered(slot: number): boolean;
  /** Moves whenever `slot`'s coverage is lost or regained. */
  epoch(slot: number): number;
  /** True while every slot's entries may be served (the cache is fully in use). */
  whole(): boolean;
  /** The channel and command announcing a change of a key in `slot`, or undefined for none. */
  announcement(slot: number): { command: 'publish' | 'spublish'; channel: string } | undefined;
  close(): Promise<void>;
}

/** The message announcing a change of `id` by `instance`. */
export function message(instance: string, id: string): string {
  return `${instance} ${id}`;
}

/** Passes on the change a message announces, unless it is our own (or not an announcement). */
export function hear(host: WatchHost, text: string): void {
  const space = text.indexOf(' ');
  if (space < 0 || text.slice(0, space) === host.instance) return;
  host.changed(text.slice(space + 1));
}

/** A single Redis: the channel `prefix + 'changed'`. */
export class SingleWatch implements Watch {
  readonly #channel: string;
  readonly #subscriber: Redis | undefined;
  #subscribed = false;
  #epoch = 0;
  #closed = false;

  constructor(client: Redis, prefix: string, host: WatchHost, listen: boolean) {
    this.#channel = `${prefix}changed`;
    if (!listen) return;
    // No autoResubscribe: every 'ready' subscribes below, and ioredis' own re-subscription would
    // leave a rejected promise behind if close() came in the middle of it.
    const subscriber = client.duplicate({ autoResubscribe: false });
    this.#subscriber = subscriber;
    // Until subscribed (and after any disconnect) the cache is bypassed and emptied: changes
    // announced meanwhile would have been missed.
    const down = () => {
      this.#epoch++;
      this.#subscribed = false;
      host.lost('all');
    };
    subscriber.on('error', noop); // the state events below say what matters
    subscriber.on('close', down);
    subscriber.on('end', down);
    subscriber.on('ready', () => {
      subscriber.subscribe(this.#channel).then(() => {
        this.#epoch++;
        host.lost('all');
        this.#subscribed = !this.#closed;
      }, down);
    });
    subscriber.on('message', (_channel: string, text: string) => hear(host, text));
  }

  slotOf(): number {
    return 0;
  }

  covered(): boolean {
    return this.#subscribed;
  }

  whole(): boolean {
    return this.#subscribed;
  }

  epoch(): number {
    return this.#epoch;
  }

  announcement() {
    return { command: 'publish' as const, channel: this.#channel };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed = false;
    this.#epoch++;
    const subscriber = this.#subscriber;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
