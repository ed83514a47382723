// One of the store's own write connections (one per master; on a single Redis, one; see
// redis-writers.ts for how writes are routed to them). On a Cluster every write of the store goes
// on one of these, so that
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
// (CLUSTER NODES and INFO replication, see redis-replicas.ts), never taken from a cache that may
// be old:
//   - while it is known to have one, each batch ends with WAIT; if WAIT comes back short, the
//     master is asked at once, and the batch is acknowledged only if it has no replica a failover
//     could promote with the writes missing (see ReplicaJudge), and is still a master;
//   - otherwise (a connection's first batch, or a master found without one, e.g. just promoted by a
//     failover) each batch ends with the question instead of WAIT: in the same round trip, on the
//     same connection, right after the writes. If a replica has appeared meanwhile, the batch is
//     then waited for (strictly) before it is acknowledged. A replica-less master costs no WAIT.
// A master that says it is no longer a master (a paused master that resumed after its failover)
// runs writes it will throw away: they are never acknowledged.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { bounded, noop, StoreTimeoutError } from './redis-connection.js';
import { ReplicaJudge, replicaView, type ReplicaView } from './redis-replicas.js';

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

interface Job {
  commands: Command[];
  asking: boolean;
  deadline: Deadline;
  resolve(replies: Reply[]): void;
  reject(error: unknown): void;
}

/** How a batch ends: with WAIT, with the question to the master, or with nothing (replicas 0). */
type Mode = 'wait' | 'ask' | 'none';

const NO_ANSWER: Reply = [new Error('no answer'), null];

/** One master's write connection and its queue. */
export class Writer {
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
  readonly #judge = new ReplicaJudge();

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
          if (job.deadline.passed) job.reject(new StoreTimeoutError(this.#options.timeout));
          else jobs.push(job);
        }
        if (jobs.length > 0) await this.#commit(jobs);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** One round trip on this connection, given up (with the connection) when it takes too long. */
  async #round(build: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<Reply[]> {
    const pipeline = this.#conn.pipeline();
    build(pipeline);
    // A master that stopped answering (paused): nothing sent after this would come back either.
    const results = await bounded(pipeline.exec(), this.#options.timeout + this.#options.waitMs, () => this.end());
    return (results ?? []) as Reply[];
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
   * Resolves when the writes sent on this connection so far may be acknowledged; rejects
   * otherwise. `waited` is the answer to the batch's own WAIT, `view` the master's answer to the
   * batch's question instead; `answered` when the master answered the batch (`waitMs` counts
   * from then: a batch whose round trip was slow, a new connection's first or one sent while the
   * machine was busy, still has its writes waited for, not refused unwaited).
   *
   * WAIT goes in slices, the master asked between them: a WAIT asks the replicas for their
   * offset once, when it starts, so a replica that joined after it would not be heard before its
   * own once-a-second report, and a master whose last replica failed meanwhile is found at once.
   */
  async #confirm(view: ReplicaView | undefined, waited: Reply | undefined, answered: number): Promise<void> {
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
        const { must, fresh } = this.#judge.judge(known);
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
      const left = answered + waitMs - performance.now();
      if (left <= 0) {
        if (freshOnly) return;
        const detail = !last ? 'no WAIT in time' : last[0] ? `WAIT failed: ${last[0].message}` : `${Number(last[1])} confirmed`;
        throw new ReplicaWaitError(replicas, waitMs, detail);
      }
      const [reply] = await this.#round((pipeline) => pipeline.call('WAIT', replicas, Math.ceil(Math.min(left, this.#slice))));
      tried = true;
      if (enough(reply) || freshOnly) return;
      last = reply ?? NO_ANSWER;
      // Short: has the master still a replica a failover could promote (and is it a master)?
      known = this.#cluster ? await this.#ask().catch(() => undefined) : undefined;
    }
  }

  /**
   * Sends the jobs' commands in one round trip, followed by the batch's WAIT or question.
   * Answers each job's own replies, and the replies to what followed them (`tail`).
   */
  async #send(jobs: Job[], mode: Mode): Promise<{ replies: Reply[][]; tail: Reply[] }> {
    const spans: Array<[number, number]> = [];
    const results = await this.#round((pipeline) => {
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
        pipeline.call('WAIT', this.#options.replicas, this.#slice);
      }
    });
    const replies = spans.map(([start, count]) => {
      const own = results.slice(start, start + count);
      while (own.length < count) own.push([new Error('Redis discarded the pipeline'), null]);
      return own;
    });
    const tail = mode === 'none' ? [] : results.slice(results.length - (mode === 'ask' ? 2 : 1));
    return { replies, tail };
  }

  async #commit(jobs: Job[]): Promise<void> {
    // While this master is known to have a replica, WAIT; otherwise ask it, right after the writes.
    // (replicas 0: nothing is waited for.)
    const mode: Mode = this.#options.replicas === 0 ? 'none' : this.#cluster && this.#replicas !== 'some' ? 'ask' : 'wait';
    let sent: { replies: Reply[][]; tail: Reply[] };
    try {
      sent = await this.#send(jobs, mode);
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    const answered = performance.now();
    const { replies, tail } = sent;
    const view = mode === 'ask' && tail.length === 2 && !tail[0]![0] && !tail[1]![0] ? replicaView(tail[0]![1], tail[1]![1]) : undefined;
    // Only the writes that were applied need a replica; a failed one answers its error as it is.
    const wrote = mode === 'none' ? [] : jobs.filter((_, i) => !replies[i]![0]![0]);
    if (wrote.length === 0) {
      if (view) {
        const { must, fresh } = this.#judge.judge(view);
        this.#replicas = view.master && must + fresh === 0 ? 'none' : 'some';
      }
      jobs.forEach((job, i) => job.resolve(replies[i]!));
      return;
    }
    let failure: unknown;
    try {
      if (mode === 'ask') await this.#confirm(view, undefined, answered);
      else await this.#confirm(undefined, tail[0] ?? NO_ANSWER, answered);
    } catch (error) {
      failure = error;
    }
    jobs.forEach((job, i) => {
      if (failure !== undefined && wrote.includes(job)) job.reject(failure);
      else job.resolve(replies[i]!);
    });
  }
}
