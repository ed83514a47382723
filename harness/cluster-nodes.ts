// The nodes of the private Redis Cluster (harness/cluster.ts): each node's redis-server (started by
// harness/redis.ts's launcher with the cluster's settings), the ports it needs, what it says about
// itself and the cluster, and whether the cluster as a whole is healthy.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Child } from './process.js';
import { killRedisServer, launchRedisServer } from './redis.js';

export const HOST = '127.0.0.1';
export const SLOTS = 16384;

export interface ClusterNode {
  readonly port: number;
  /** The pid of the running redis-server (changes on restart). */
  readonly pid: number;
  /** False after kill() until restart(); a paused node is still running. */
  readonly running: boolean;
  readonly paused: boolean;
  /** 'master' | 'replica' as the node itself says now (ROLE), undefined when it cannot answer. */
  role(): Promise<'master' | 'replica' | undefined>;
  /** SIGKILL, like a crash. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port, dir and nodes.conf: it rejoins the cluster, as a replica if
   * its replica was promoted meanwhile. Without `persist` it comes back empty, so a master restarted
   * before its failover happened loses its data (as a real one would).
   */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered, the cluster bus goes silent too. */
  pause(): void;
  /** SIGCONT: the queued commands are answered (a demoted master answers MOVED once it has heard). */
  resume(): void;
}

export interface RedisClusterOptions {
  /** `cluster-node-timeout`: how long a silent node takes to be failed over (roughly 2x this, all told). @default 1000 */
  nodeTimeout?: number;
  /** `--appendonly yes --appendfsync always`: every acknowledged write survives kill() + restart(). @default false */
  persist?: boolean;
}

// --- ports and processes ----------------------------------------------------------------------

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

// A node needs two ports: p for clients and p+10000 for the cluster bus. Both are drawn below
// Linux's ephemeral range (32768+), so no outgoing connection of this machine can be holding one;
// another suite may still take one before redis-server binds it, so launching retries on a new port.
const PORT_MIN = 10_000;
const PORT_MAX = 32_767 - 10_000;

export async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port pair (p, p+10000) for a cluster node');
}

/** A cluster node's redis-server, on the shared launcher with the cluster's settings. */
export function launchNode(port: number, dir: string, options: Required<RedisClusterOptions>): Promise<Child> {
  const extraArgs = [
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, 'nodes.conf'),
    '--cluster-node-timeout', String(options.nodeTimeout),
    // A replica may always be promoted, however long its master has been silent (a paused master).
    '--cluster-replica-validity-factor', '0',
    // Keep the topology the tests set up: a replica never moves to another (orphaned) master.
    '--cluster-allow-replica-migration', 'no',
    // Full syncs (a restarted node rejoining as a replica) start at once, not after 5 s.
    '--repl-diskless-sync', 'yes',
    '--repl-diskless-sync-delay', '0',
  ];
  return launchRedisServer({ port, dir, persist: options.persist, extraArgs });
}

// --- the nodes --------------------------------------------------------------------------------

/** What one node says about itself and the cluster. */
interface NodeView {
  state: string; // cluster_state
  slotsOk: number; // cluster_slots_ok
  /** Who serves which slots, as "start-end:port" ranges, sorted. */
  slotMap: string[];
  role: 'master' | 'replica';
  /** For a replica: its master's port and whether the replication link is up. */
  masterPort?: number;
  linkUp?: boolean;
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

export class Node implements ClusterNode {
  #child: Child;
  #paused = false;
  #admin: Redis | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    child: Child,
    private readonly options: Required<RedisClusterOptions>,
  ) {
    this.#child = child;
  }

  get pid(): number {
    return this.#child.process.pid!;
  }
  get running(): boolean {
    return this.#child.alive();
  }
  get paused(): boolean {
    return this.#paused;
  }
  /** Running and not paused: it can answer. */
  get live(): boolean {
    return this.running && !this.#paused;
  }

  // One lasting connection per node for the harness's own questions (polling with a connection per
  // question would pile up sockets in TIME_WAIT). No retries, no reconnection: a dead node's
  // connection ends and the next question opens a new one; a command times out rather than hang.
  private admin(): Redis {
    if (!this.#admin || this.#admin.status === 'end' || this.#admin.status === 'close') {
      this.#admin?.disconnect();
      this.#admin = new Redis({
        host: HOST,
        port: this.port,
        lazyConnect: true,
        protocol: 2,
        enableReadyCheck: false,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        connectTimeout: 1000,
        commandTimeout: 1000,
      });
      this.#admin.on('error', () => {});
    }
    return this.#admin;
  }

  /** One command to this node; rejects quickly when the node is down or paused. */
  ask(command: string, ...args: (string | number)[]): Promise<unknown> {
    if (!this.live) return Promise.reject(new Error(`node ${this.port} is ${this.running ? 'paused' : 'down'}`));
    return this.admin().call(command, args);
  }

  async role(): Promise<'master' | 'replica' | undefined> {
    try {
      const [role] = (await this.ask('ROLE')) as [string];
      return role === 'master' ? 'master' : role === 'slave' ? 'replica' : undefined;
    } catch {
      return undefined;
    }
  }

  /** The master this node replicates, by its own ROLE. */
  async masterPort(): Promise<number | undefined> {
    try {
      const role = (await this.ask('ROLE')) as [string, string, number];
      return role[0] === 'slave' ? Number(role[2]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Everything waitUntilHealthy needs from this node, or undefined if it cannot answer. */
  async view(): Promise<NodeView | undefined> {
    try {
      const [info, slots, role, replication] = await Promise.all([
        this.ask('CLUSTER', 'INFO') as Promise<string>,
        this.ask('CLUSTER', 'SLOTS') as Promise<[number, number, [string, number, ...unknown[]], ...unknown[]][]>,
        this.ask('ROLE') as Promise<[string, string, number]>,
        this.ask('INFO', 'replication') as Promise<string>,
      ]);
      const slotMap = slots.map(([from, to, [, port]]) => `${from}-${to}:${port}`).sort();
      const view: NodeView = {
        state: field(info, 'cluster_state') ?? '?',
        slotsOk: Number(field(info, 'cluster_slots_ok')),
        slotMap,
        role: role[0] === 'master' ? 'master' : 'replica',
      };
      if (view.role === 'replica') {
        view.masterPort = Number(role[2]);
        view.linkUp = field(replication, 'master_link_status') === 'up';
      }
      return view;
    } catch {
      return undefined;
    }
  }

  async kill(): Promise<void> {
    this.#admin?.disconnect();
    this.#child.process.kill('SIGKILL');
    this.#paused = false;
    await this.#child.exited();
  }

  async restart(): Promise<void> {
    if (this.running) throw new Error(`redis-server on port ${this.port} is still running`);
    this.#child = await launchNode(this.port, this.dir, this.options);
  }

  pause(): void {
    if (!this.#child.process.kill('SIGSTOP')) throw new Error(`could not SIGSTOP redis-server on port ${this.port}`);
    this.#paused = true;
  }

  resume(): void {
    if (!this.#child.process.kill('SIGCONT')) throw new Error(`could not SIGCONT redis-server on port ${this.port}`);
    this.#paused = false;
  }

  async stop(): Promise<void> {
    this.#admin?.disconnect();
    await killRedisServer(this.#child);
    this.#paused = false;
  }
}

/** Why the cluster is not healthy yet, or undefined when it is. */
export async function unhealthy(nodes: readonly Node[]): Promise<string | undefined> {
  const live = nodes.filter((node) => node.live);
  if (live.length === 0) return 'no node is running';
  const views = await Promise.all(live.map((node) => node.view()));
  const byPort = new Map(live.map((node, i) => [node.port, views[i]]));
  for (const [port, view] of byPort) {
    if (!view) return `node ${port} does not answer`;
    if (view.state !== 'ok') return `node ${port} says cluster_state:${view.state}`;
    if (view.slotsOk !== SLOTS) return `node ${port} says cluster_slots_ok:${view.slotsOk}`;
  }
  const maps = new Set([...byPort.values()].map((view) => view!.slotMap.join(' ')));
  if (maps.size !== 1) return `the nodes disagree on who serves which slots: ${[...maps].join(' | ')}`;
  const slotMap = byPort.values().next().value!.slotMap;
  let covered = 0;
  const serving = new Set<number>();
  for (const range of slotMap) {
    const [, from, to, port] = /^(\d+)-(\d+):(\d+)$/.exec(range)!.map(Number);
    covered += to! - from! + 1;
    serving.add(port!);
  }
  if (covered !== SLOTS) return `only ${covered} slots are assigned`;
  for (const port of serving) {
    const view = byPort.get(port);
    if (!view) return `slots are still served by node ${port}, which is down or paused`;
    if (view.role !== 'master') return `node ${port} serves slots but says it is a ${view.role}`;
  }
  for (const [port, view] of byPort) {
    if (view!.role === 'master' && !serving.has(port)) return `node ${port} says it is a master but serves no slots`;
    if (view!.role === 'replica') {
      if (!serving.has(view!.masterPort!)) return `node ${port} replicates ${view!.masterPort}, which serves no slots`;
      if (!view!.linkUp) return `node ${port} has no link up to its master ${view!.masterPort}`;
    }
  }
  return undefined;
}

