// The store's own write connections: one per master (on a single Redis, one). On a Cluster every
// write of the store goes here, so that
//   - no write is ever run after its caller was answered: a write still queued when its caller
//     timed out is dropped, and these connections never reconnect nor resend (a Cluster client
//     keeps a write meant for a dead master and runs it when the address answers again, seconds
//     later, over newer acknowledged writes: the "stale read at rejoin" of the soak);
//   - a WAIT, which holds its connection until a replica answers or its timeout runs out, never
//     holds up the user's client (the reads of the authenticated hot path, above all).
//
// Each connection commits in groups: while a batch is out, the writes that come in wait, then go
// as one pipeline followed by one WAIT (a WAIT covers every earlier write of its connection). So a
// connection has at most one WAIT in flight, twenty concurrent writes cost two rounds instead of
// twenty, and a replica that stopped answering costs one WAIT timeout, not one per write.
//
// On a Cluster, whether a master has a replica worth waiting for is asked of the master itself
// (CLUSTER NODES and INFO replication), never taken from a cache that may be old:
//   - while it is known to have one, each batch ends with WAIT; if WAIT comes back short, the
//     master is asked at once, and the batch is acknowledged only if it has no replica a failover
//     could promote with the writes missing (see #judge), and is still a master;
//   - otherwise (a connection's first batch, or a master found without one, e.g. just promoted by a
//     failover) each batch ends with the question instead of WAIT: in the same round trip, on the
//     same connection, right after the writes. If a replica has appeared meanwhile, the batch is
//     then waited for (strictly) before it is acknowledged. A replica-less master costs no WAIT.
// A master that says it is no longer a master (a paused master that resumed after its failover)
// runs writes it will throw away: they are never acknowledged.
//
// Redirections: MOVED (a failover or a migration the user's slot map has not caught up with yet)
// sends the write to the named master, and has the user's client re-read its map; ASK (a slot
// being migrated) sends it to the importing master with ASKING. Every failure has the user's
// client re-read the map, since a topology change is the likely cause.
import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';

export type Reply = [Error | null, unknown];
export type Command = [string, ...Array<string | number>];

/** Set once the caller was answered (with a timeout): a write not sent yet is dropped. */
export interface Deadline {
  passed: boolean;
}

export class ReplicaWaitError extends Error {
  constructor(replicas: number, ms: number, detail: string) {
    super(`the write was not confirmed by ${replicas} replica(s) within ${ms} ms (${detail})`);
    this.name = 'ReplicaWaitError';
  }
}

export interface WritersOptions {
  /** Replicas that must have a write (WAIT's numreplicas); 0: no WAIT (only the connections and the routing). */
  replicas: number;
  /** WAIT's timeout, ms. */
  waitMs: number;
  /** The store's timeout: a round not answered within timeout + waitMs gives up its connection. */
  timeout: number;
  /** CLIENT SETNAME of the store's write connections. */
  name: string;
}

/**
 * A replica as its master sees it: 'online' (it has what the master streamed, or will have it),
 * 'syncing' (a full resynchronisation: it has not got the master's data yet), 'unconnected'
 * (listed by the cluster, not failed, but not connected for replication: a partition, a replica
 * just killed or just restarted; it might be promoted with whatever it had).
 */
export type ReplicaState = 'online' | 'syncing' | 'unconnected';

/** What a master says about itself: is it a master, and its replicas that are not failed (by address). */
export interface ReplicaView {
  master: boolean;
  replicas: Map<string, ReplicaState>;
}

/**
 * Reads CLUSTER NODES and INFO replication, both asked of the master itself. Failed replicas
 * (and ones not yet known: handshake, noaddr) are left out: a failover cannot promote them.
 * Undefined when the answers cannot be read.
 */
export function replicaView(nodes: unknown, info: unknown): ReplicaView | undefined {
  if (typeof nodes !== 'string' || typeof info !== 'string') return undefined;
  const lines = nodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8);
  const me = lines.find((fields) => fields[2]!.split(',').includes('myself'));
  if (!me) return undefined;
  const master = me[2]!.split(',').includes('master') && /^role:master\s*$/m.test(info);
  const linked = new Map<string, string>();
  for (const match of info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+),state=([a-z_]+)/gm)) linked.set(`${match[1]}:${match[2]}`, match[3]!);
  const replicas = new Map<string, ReplicaState>();
  for (const fields of lines) {
    if (fields[3] !== me[0]) continue;
    const flags = fields[2]!.split(',');
    if (flags.includes('fail') || flags.includes('handshake') || flags.includes('noaddr')) continue;
    const address = fields[1]!.split('@')[0]!.split(',')[0]!;
    const state = linked.get(address);
    replicas.set(address, state === undefined ? 'unconnected' : state === 'online' ? 'online' : 'syncing');
  }
  return { master, replicas };
}

/**
 * How long a replica that this connection saw come online (after a full resynchronisation, or
 * after being absent) is not yet counted on: Redis 7.0 may not stream it the writes made during
 * its resynchronisation until its next once-a-second report, so it can confirm nothing for up to
 * a second. It is waited for (one WAIT slice) but, when it does not answer, treated as still
 * resynchronising (see #judge).
 */
const FRESH_MS = 2000;

interface Job {
  commands: Command[];
  asking: boolean;
  deadline: Deadline;
  resolve(replies: Reply[]): void;
  reject(error: unknown): void;
}

const noop = () => {};

class RoundTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** One master's write connection and its queue. */
class Writer {
  readonly address: string;
  readonly #conn: Redis;
  readonly #options: WritersOptions;
  /** False on a single Redis: WAIT is strict there, and nothing is asked. */
  readonly #cluster: boolean;
  readonly #onEnd: (writer: Writer) => void;
  #queue: Job[] = [];
  #busy = false;
  #ended = false;
  /** What this master was last found to have: 'some' replica to wait for, 'none', or not asked yet. */
  #replicas: 'some' | 'none' | 'unknown' = 'unknown';
  /** Its replicas at the last answer (undefined before the first). */
  #seen: Map<string, ReplicaState> | undefined;
  /** Replicas seen coming online, until when they are not counted on (performance.now()). */
  readonly #fresh = new Map<string, number>();

  constructor(address: string, conn: Redis, options: WritersOptions, cluster: boolean, onEnd: (writer: Writer) => void) {
    this.address = address;
    this.#conn = conn;
    this.#options = options;
    this.#cluster = cluster;
    this.#onEnd = onEnd;
    conn.on('error', noop); // the commands' own errors say what matters
    conn.on('close', () => this.end());
    conn.on('end', () => this.end());
  }

  get ended(): boolean {
    return this.#ended;
  }

  get idle(): boolean {
    return !this.#busy && this.#queue.length === 0;
  }

  submit(commands: Command[], asking: boolean, deadline: Deadline): Promise<Reply[]> {
    return new Promise<Reply[]>((resolve, reject) => {
      if (this.#ended) {
        reject(new Error(`the write connection to ${this.address} is closed`));
        return;
      }
      this.#queue.push({ commands, asking, deadline, resolve, reject });
      if (!this.#busy) void this.#drain();
    });
  }

  /** Ends the connection; what is queued or in flight fails (the callers answer 503). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const job of this.#queue.splice(0)) job.reject(new Error(`the write connection to ${this.address} closed`));
    this.#conn.disconnect();
    this.#onEnd(this);
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#ended) {
        const jobs: Job[] = [];
        for (const job of this.#queue.splice(0)) {
          // Its caller was answered (a timeout) before it could be sent: better never than late.
          if (job.deadline.passed) job.reject(new RoundTimeoutError(this.#options.timeout));
          else jobs.push(job);
        }
        if (jobs.length > 0) await this.#commit(jobs);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** One round trip on this connection, given up (with the connection) when it takes too long. */
  #round(build: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<Reply[]> {
    const pipeline = this.#conn.pipeline();
    build(pipeline);
    const ms = this.#options.timeout + this.#options.waitMs;
    return new Promise<Reply[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A master that stopped answering (paused): nothing sent after this would come back either.
        reject(new RoundTimeoutError(ms));
        this.end();
      }, ms);
      pipeline.exec().then(
        (results) => {
          clearTimeout(timer);
          resolve((results ?? []) as Reply[]);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Asks the master whether it has a replica a failover could promote (see replicaView). */
  async #ask(): Promise<ReplicaView | undefined> {
    const [nodes, info] = await this.#round((pipeline) => {
      pipeline.call('CLUSTER', 'NODES');
      pipeline.call('INFO', 'replication');
    });
    return nodes && info && !nodes[0] && !info[0] ? replicaView(nodes[1], info[1]) : undefined;
  }

  /** One WAIT's timeout: WAIT asks the replicas for their offset once (REPLCONF GETACK), when called. */
  get #slice(): number {
    const { waitMs } = this.#options;
    return Math.max(1, Math.min(waitMs, Math.max(25, Math.ceil(waitMs / 5))));
  }

  /**
   * What the master's answer means for writes it ran: `must`, the replicas a failover could
   * promote and that must have them (online, or listed but not connected); `fresh`, replicas
   * that came online within FRESH_MS (see there), which may not have them yet and cannot be made
   * to; replicas in a full resynchronisation count for neither (they have none of it yet).
   */
  #judge(view: ReplicaView): { must: number; fresh: number } {
    const now = performance.now();
    let must = 0;
    let fresh = 0;
    for (const [address, state] of view.replicas) {
      if (state === 'online' && this.#seen && this.#seen.get(address) !== 'online') this.#fresh.set(address, now + FRESH_MS);
      if (state === 'syncing') continue;
      if (state === 'online' && (this.#fresh.get(address) ?? 0) > now) fresh++;
      else must++;
    }
    this.#seen = new Map(view.replicas);
    for (const [address, until] of this.#fresh) if (until <= now) this.#fresh.delete(address);
    return { must, fresh };
  }

  /**
   * Resolves when the writes sent on this connection so far may be acknowledged; rejects
   * otherwise. `waited` is the answer to the batch's own WAIT, `view` the master's answer to the
   * batch's question instead; `started` when the batch was sent (`waitMs` counts from then).
   *
   * WAIT goes in slices, the master asked between them: a WAIT asks the replicas for their
   * offset once, when it starts, so a replica that joined after it would not be heard before its
   * own once-a-second report, and a master whose last replica failed meanwhile is found at once.
   */
  async #confirm(view: ReplicaView | undefined, waited: Reply | undefined, started: number): Promise<void> {
    const { replicas, waitMs } = this.#options;
    const enough = (reply: Reply | undefined) => !!reply && !reply[0] && Number(reply[1]) >= replicas;
    if (enough(waited)) return;
    let tried = waited !== undefined;
    let last = waited;
    // The batch's own WAIT came back short: ask the master before waiting more.
    let known = waited && this.#cluster ? await this.#ask().catch(() => undefined) : view;
    for (;;) {
      let freshOnly = false;
      if (known) {
        if (!known.master) throw new ReplicaWaitError(replicas, waitMs, 'the node is no longer a master');
        const { must, fresh } = this.#judge(known);
        // No replica a failover could promote with these writes missing (none, or only failed or
        // resynchronising ones, or fresh ones given their chance): nothing to wait for.
        if (must === 0 && (fresh === 0 || tried)) {
          this.#replicas = fresh === 0 ? 'none' : 'some';
          return;
        }
        freshOnly = must === 0;
      }
      // A replica to wait for, or the master could not be asked: wait, strictly.
      this.#replicas = 'some';
      const left = started + waitMs - performance.now();
      if (left <= 0) {
        if (freshOnly) return;
        const detail = !last ? 'no WAIT in time' : last[0] ? `WAIT failed: ${last[0].message}` : `${Number(last[1])} confirmed`;
        throw new ReplicaWaitError(replicas, waitMs, detail);
      }
      const [reply] = await this.#round((pipeline) => pipeline.call('WAIT', replicas, Math.ceil(Math.min(left, this.#slice))));
      tried = true;
      if (enough(reply) || freshOnly) return;
      last = reply ?? [new Error('no answer'), null];
      // Short: has the master still a replica a failover could promote (and is it a master)?
      known = this.#cluster ? await this.#ask().catch(() => undefined) : undefined;
    }
  }

  async #commit(jobs: Job[]): Promise<void> {
    const { replicas } = this.#options;
    // While this master is known to have a replica, WAIT; otherwise ask it, right after the writes.
    // (replicas 0: nothing is waited for.)
    const mode = replicas === 0 ? 'none' : this.#cluster && this.#replicas !== 'some' ? 'ask' : 'wait';
    const spans: Array<[number, number]> = [];
    let results: Reply[];
    const started = performance.now();
    try {
      results = await this.#round((pipeline) => {
        let at = 0;
        for (const job of jobs) {
          if (job.asking) {
            pipeline.call('ASKING');
            at++;
          }
          spans.push([at, job.commands.length]);
          for (const [name, ...args] of job.commands) pipeline.call(name, ...args);
          at += job.commands.length;
        }
        if (mode === 'ask') {
          pipeline.call('CLUSTER', 'NODES');
          pipeline.call('INFO', 'replication');
        } else if (mode === 'wait') {
          pipeline.call('WAIT', replicas, this.#slice);
        }
      });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    const replies = jobs.map((_, i) => {
      const [start, count] = spans[i]!;
      const own = results.slice(start, start + count);
      while (own.length < count) own.push([new Error('Redis discarded the pipeline'), null]);
      return own;
    });
    if (mode === 'none') {
      jobs.forEach((job, i) => job.resolve(replies[i]!));
      return;
    }
    const tail = results.slice(results.length - (mode === 'ask' ? 2 : 1));
    const view = mode === 'ask' && tail.length === 2 && !tail[0]![0] && !tail[1]![0] ? replicaView(tail[0]![1], tail[1]![1]) : undefined;
    // Only the writes that were applied need a replica; a failed one answers its error as it is.
    const wrote = jobs.filter((_, i) => !replies[i]![0]![0]);
    if (wrote.length === 0) {
      if (view) {
        const { must, fresh } = this.#judge(view);
        this.#replicas = view.master && must + fresh === 0 ? 'none' : 'some';
      }
      jobs.forEach((job, i) => job.resolve(replies[i]!));
      return;
    }
    let failure: unknown;
    try {
      if (mode === 'ask') await this.#confirm(view, undefined, started);
      else await this.#confirm(undefined, tail[0] ?? [new Error('no answer'), null], started);
    } catch (error) {
      failure = error;
    }
    jobs.forEach((job, i) => {
      if (failure !== undefined && wrote.includes(job)) job.reject(failure);
      else job.resolve(replies[i]!);
    });
  }
}

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
    const options = {
      // Ours alone, and never reconnected: a new connection is made when a write needs one.
      lazyConnect: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      enableOfflineQueue: true,
      enableAutoPipelining: false,
      readOnly: false,
      maxRetriesPerRequest: 0,
      connectionName: this.#options.name,
    } as Parameters<Redis['duplicate']>[0];
    let conn: Redis;
    if (this.#cluster) {
      const nodes = this.#cluster.nodes();
      const node = nodes.find((candidate) => `${candidate.options.host}:${candidate.options.port}` === address);
      const template = node ?? nodes[0];
      if (!template) throw new Error('the Cluster client knows no node yet');
      const colon = address.lastIndexOf(':');
      conn = template.duplicate(node ? options : { ...options, host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    } else {
      conn = (this.#client as Redis).duplicate(options);
    }
    const writer = new Writer(address, conn, this.#options, !!this.#cluster, (ended) => {
      if (this.#writers.get(ended.address) === ended) this.#writers.delete(ended.address);
    });
    this.#writers.set(address, writer);
    return writer;
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
