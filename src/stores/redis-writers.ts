// The store's write connections, one per master (see redis-writer.ts for what each one promises),
// and the routing of each write to the master of its slot.
//
// Redirections: MOVED (a failover or a migration the user's slot map has not caught up with yet)
// sends the write to the named master, and has the user's client re-read its map; ASK (a slot
// being migrated) sends it to the importing master with ASKING. Every failure has the user's
// client re-read the map, since a topology change is the likely cause.
import type { Cluster, Redis } from 'ioredis';
import { ownConnection } from './redis-connection.js';
import { Writer, type Command, type Deadline, type Reply, type WritersOptions } from './redis-writer.js';

/** The store's write connections, one per master, and the routing of each write to its master. */
export class Writers {
  readonly #client: Redis | Cluster;
  readonly #cluster: Cluster | undefined;
  readonly #options: WritersOptions;
  readonly #writers = new Map<string, Writer>();
  #closed = false;
  readonly #onRefresh = () => this.#prune();

  constructor(client: Redis | Cluster, options: WritersOptions) {
    this.#client = client;
    this.#cluster = (client as Cluster).isCluster === true ? (client as Cluster) : undefined;
    this.#options = options;
    this.#cluster?.on('refresh', this.#onRefresh);
  }

  /**
   * Runs `commands` (a write first, then e.g. its announcement) on the master of `slot`, then makes
   * sure a replica has it. Answers the replies of the commands as run; `redirected` when the write
   * ran after an ASK, on the importing master, without the commands after it (announce again).
   */
  async write(slot: number, commands: Command[], deadline: Deadline): Promise<{ replies: Reply[]; redirected: boolean }> {
    let address = this.#masterOf(slot);
    let asking = false;
    let sent = commands;
    for (let hop = 0; ; hop++) {
      if (address === undefined) {
        this.#refresh();
        throw new Error(`no master is known for slot ${slot}`);
      }
      let replies: Reply[];
      try {
        replies = await this.#writer(address).submit(sent, asking, deadline);
      } catch (error) {
        this.#refresh();
        throw error;
      }
      const error = replies[0]?.[0];
      if (!error) return { replies, redirected: asking };
      this.#refresh();
      const redirect = this.#cluster && hop < 2 ? /^(MOVED|ASK) \d+ (\S+)/.exec(error.message) : null;
      if (!redirect) return { replies, redirected: asking };
      address = redirect[2]!;
      asking = redirect[1] === 'ASK';
      // After an ASK only the write goes to the importing master; the slot (and its channel) is
      // still the source's, where the caller announces it again.
      sent = asking ? [commands[0]!] : commands;
    }
  }

  #masterOf(slot: number): string | undefined {
    if (!this.#cluster) return 'single';
    return this.#cluster.slots[slot]?.[0];
  }

  #refresh(): void {
    const cluster = this.#cluster;
    if (cluster && cluster.status === 'ready') cluster.refreshSlotsCache();
  }

  #writer(address: string): Writer {
    const existing = this.#writers.get(address);
    if (existing && !existing.ended) return existing;
    if (this.#closed) throw new Error('the store is closed');
    const writer = new Writer(address, this.#connect(address), this.#options, !!this.#cluster, (ended) => {
      if (this.#writers.get(ended.address) === ended) this.#writers.delete(ended.address);
    });
    this.#writers.set(address, writer);
    return writer;
  }

  /** A new connection to `address` (a master's host:port; 'single' on a single Redis). */
  #connect(address: string): Redis {
    const name = this.#options.name;
    if (!this.#cluster) return ownConnection(this.#client as Redis, name);
    const nodes = this.#cluster.nodes();
    const node = nodes.find((candidate) => `${candidate.options.host}:${candidate.options.port}` === address);
    if (node) return ownConnection(node, name);
    // A master the client has no connection to yet (named by a MOVED or ASK): like any node, there.
    const template = nodes[0];
    if (!template) throw new Error('the Cluster client knows no node yet');
    const colon = address.lastIndexOf(':');
    return ownConnection(template, name, { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  }

  /** Closes the idle connections of nodes that are no longer masters (after a failover). */
  #prune(): void {
    const cluster = this.#cluster;
    if (!cluster || this.#writers.size === 0) return;
    const masters = new Set(cluster.nodes('master').map((node) => `${node.options.host}:${node.options.port}`));
    for (const writer of [...this.#writers.values()]) if (!masters.has(writer.address) && writer.idle) writer.end();
  }

  close(): void {
    this.#closed = true;
    this.#cluster?.off('refresh', this.#onRefresh);
    for (const writer of [...this.#writers.values()]) writer.end();
  }
}
