// Starts a private Redis Cluster for a test suite: six redis-servers on 127.0.0.1 (3 masters, 3
// replicas, made by `redis-cli --cluster create`), each in its own temp dir, nothing saved to disk
// (unless `persist`: then every acknowledged write survives a kill). Each node can be killed,
// restarted on the same port (it rejoins from its nodes.conf), paused and resumed, and
// waitUntilHealthy() waits for the failover that follows. Every server started here is killed when
// the test process exits, whatever happened. Without the binaries, a suite fails under CI=true and
// skips loudly elsewhere. Modelled on support-redis.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';

export const hasRedisCluster =
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

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

export interface RedisCluster {
  /** All six, in port order of creation (their roles change: ask masters()/replicas()). */
  readonly nodes: readonly ClusterNode[];
  readonly startupNodes: { host: string; port: number }[];
  /** A new ioredis Cluster client (tracked; disconnected by stop()). Options merged over sensible test defaults. */
  client(options?: ClusterOptions): Cluster;
  /** The node that is master of `key`'s slot right now (asks CLUSTER SLOTS of a running node). */
  masterOf(key: string): Promise<ClusterNode>;
  /** The running nodes that say (ROLE) they are masters now; a killed or paused node is in neither list. */
  masters(): Promise<ClusterNode[]>;
  /** The running nodes that say (ROLE) they are replicas now. */
  replicas(): Promise<ClusterNode[]>;
  /** The running nodes that say (ROLE) they replicate `master`. */
  replicasOf(master: ClusterNode): Promise<ClusterNode[]>;
  /**
   * Resolves once every slot is served by a running master and cluster_state is ok on every running
   * node (after a kill/pause: the failover is done). Also waits until every running node agrees on
   * who serves each slot, every running master serves slots (a restarted or resumed old master has
   * stepped down) and every running replica's link to its master is up. Rejects after `within` ms,
   * saying what was still wrong.
   */
  waitUntilHealthy(within?: number): Promise<void>;
  /** Kills all, removes dirs, disconnects clients. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** `cluster-node-timeout`: how long a silent node takes to be failed over (roughly 2x this, all told). @default 1000 */
  nodeTimeout?: number;
  /** `--appendonly yes --appendfsync always`: every acknowledged write survives kill() + restart(). @default false */
  persist?: boolean;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;

// --- key slots --------------------------------------------------------------------------------

// CRC16-XMODEM (poly 0x1021, init 0), the hash Redis Cluster uses (cluster.c keyHashSlot).
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The slot of a key: CRC16 of its UTF-8 bytes mod 16384, or of its hash tag only — the bytes
 * between the first '{' and the first '}' after it, when there are any ("{}" is no tag).
 */
export function keySlot(key: string): number {
  let bytes: Uint8Array = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // '}'
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  return crc16(bytes) % SLOTS;
}

// --- processes --------------------------------------------------------------------------------

const hasSetpriv = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0;

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// With setpriv the child gets SIGKILL should this process die without running its exit hooks
// (setpriv execs the program: same pid, so SIGSTOP/SIGCONT still reach redis-server).
function start(command: string, args: string[]): ChildProcess {
  const child = hasSetpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return exited(child) ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

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

async function freeClusterPort(taken: Set<number>): Promise<number> {
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

async function launch(port: number, dir: string, options: Required<RedisClusterOptions>): Promise<ChildProcess> {
  const durability = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    ...durability,
    '--protected-mode', 'no',
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
  const child = start('redis-server', args);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port}: ${output}`));
    }, 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

function run(command: string, args: string[], within: number): Promise<string> {
  const child = start(command, args);
  return new Promise((resolve, reject) => {
    let output = '';
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), within);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code}):\n${output}`));
    });
  });
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

class Node implements ClusterNode {
  #child: ChildProcess;
  #paused = false;
  #admin: Redis | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
    child: ChildProcess,
    private readonly options: Required<RedisClusterOptions>,
  ) {
    this.#child = child;
  }

  get pid(): number {
    return this.#child.pid!;
  }
  get running(): boolean {
    return !exited(this.#child);
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
    this.#child.kill('SIGKILL');
    this.#paused = false;
    await waitForExit(this.#child);
  }

  async restart(): Promise<void> {
    if (this.running) throw new Error(`redis-server on port ${this.port} is still running`);
    this.#child = await launch(this.port, this.dir, this.options);
  }

  pause(): void {
    if (!this.#child.kill('SIGSTOP')) throw new Error(`could not SIGSTOP redis-server on port ${this.port}`);
    this.#paused = true;
  }

  resume(): void {
    if (!this.#child.kill('SIGCONT')) throw new Error(`could not SIGCONT redis-server on port ${this.port}`);
    this.#paused = false;
  }

  async stop(): Promise<void> {
    this.#admin?.disconnect();
    if (this.running) {
      this.#child.kill('SIGCONT');
      this.#child.kill('SIGKILL');
      await waitForExit(this.#child);
    }
    this.#paused = false;
  }
}

/** Why the cluster is not healthy yet, or undefined when it is. */
async function unhealthy(nodes: readonly Node[]): Promise<string | undefined> {
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilHealthy(nodes: readonly Node[], within: number, also?: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + within;
  for (;;) {
    const problem = (await unhealthy(nodes)) ?? (await also?.());
    if (problem === undefined) return;
    if (Date.now() > deadline) throw new Error(`the Redis Cluster is not healthy after ${within} ms: ${problem}`);
    await sleep(50);
  }
}

// --- the cluster ------------------------------------------------------------------------------

// Test defaults for clients: give up on a dead node and reconnect quickly. Everything else is
// ioredis's own default, so a test sees what production would: no slot-map refresh on a timer
// (only on MOVED, CLUSTERDOWN or a closed connection), so a client keeps waiting on a paused
// master unless given `slotsRefreshInterval` and/or `redisOptions.commandTimeout`; and a command
// sent during a failover fails after ~1.6 s (maxRedirections 16 x retryDelayOnFailover 100 ms).
const CLIENT_DEFAULTS: ClusterOptions = {
  clusterRetryStrategy: (times) => Math.min(50 * times, 500),
  redisOptions: { connectTimeout: 1000, maxRetriesPerRequest: 1 },
};

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const settings: Required<RedisClusterOptions> = { nodeTimeout: options.nodeTimeout ?? 1000, persist: options.persist === true };
  const root = mkdtempSync(join(tmpdir(), 'wxs-redis-cluster-'));
  const nodes: Node[] = [];
  const clients: Cluster[] = [];

  const stop = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(nodes.filter(Boolean).map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    const taken = new Set<number>();
    const startNode = async (index: number): Promise<void> => {
      const dir = join(root, `node-${index}`);
      mkdirSync(dir);
      for (let attempt = 1; ; attempt++) {
        const port = await freeClusterPort(taken);
        try {
          nodes[index] = new Node(port, dir, await launch(port, dir, settings), settings);
          return;
        } catch (error) {
          if (attempt === 5) throw error; // another process took the port first: draw another
        }
      }
    };
    // allSettled: should one fail, the others are all in `nodes` for stop() to kill.
    const started = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(startNode));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;

    // redis-cli assigns the slots, makes three of the nodes replicas and waits for them to meet.
    const addresses = nodes.map((node) => `${HOST}:${node.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], 30_000);
    await waitUntilHealthy(nodes, 20_000, async () => {
      const roles = await Promise.all(nodes.map((node) => node.role()));
      const masters = roles.filter((role) => role === 'master').length;
      return masters === 3 && roles.every(Boolean) ? undefined : `roles are ${roles.join(', ')}`;
    });
  } catch (error) {
    await stop();
    throw error;
  }

  const byPort = (port: number): Node => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on port ${port}`);
    return node;
  };

  const withRole = async (role: 'master' | 'replica') => {
    const roles = await Promise.all(nodes.map((node) => node.role()));
    return nodes.filter((_, i) => roles[i] === role);
  };

  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: HOST, port: node.port })),
    client(overrides: ClusterOptions = {}) {
      const merged: ClusterOptions = {
        ...CLIENT_DEFAULTS,
        ...overrides,
        redisOptions: { ...CLIENT_DEFAULTS.redisOptions, ...overrides.redisOptions },
      };
      const client = new Cluster(
        nodes.map((node) => ({ host: HOST, port: node.port })),
        merged,
      );
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async masterOf(key: string) {
      const slot = keySlot(key);
      for (const node of nodes.filter((candidate) => candidate.live)) {
        let ranges: [number, number, [string, number]][];
        try {
          ranges = (await node.ask('CLUSTER', 'SLOTS')) as typeof ranges;
        } catch {
          continue; // died meanwhile: ask the next one
        }
        const range = ranges.find(([from, to]) => from <= slot && slot <= to);
        if (range) return byPort(Number(range[2][1]));
      }
      throw new Error(`no running node knows who serves slot ${slot} ("${key}")`);
    },
    masters: () => withRole('master'),
    replicas: () => withRole('replica'),
    async replicasOf(master: ClusterNode) {
      const masterPorts = await Promise.all(nodes.map((node) => node.masterPort()));
      return nodes.filter((_, i) => masterPorts[i] === master.port);
    },
    waitUntilHealthy: (within = 15_000) => waitUntilHealthy(nodes, within),
    stop,
  };
}

/**
 * Call at the top of a describe() that needs a Redis Cluster. Under CI=true a missing redis-server
 * or redis-cli fails the suite; elsewhere the suite is skipped with a loud message.
 */
export function requireRedisCluster(suite: Mocha.Suite): void {
  if (hasRedisCluster) return;
  if (process.env.CI === 'true') {
    suite.beforeAll(() => {
      throw new Error(
        'redis-server or redis-cli is not installed, and CI=true requires the Redis Cluster tests to run (apt-get install redis-server redis-tools)',
      );
    });
    return;
  }
  console.warn(`\n  !!! redis-server or redis-cli not found: SKIPPING "${suite.title}" (apt-get install redis-server redis-tools to run it)\n`);
  suite.beforeAll(function () {
    this.skip();
  });
}
