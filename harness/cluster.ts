// Starts a private Redis Cluster for a test suite: six redis-servers on 127.0.0.1 (3 masters, 3
// replicas, made by `redis-cli --cluster create`), each in its own temp dir, nothing saved to disk
// (unless `persist`: then every acknowledged write survives a kill). Each node can be killed,
// restarted on the same port (it rejoins from its nodes.conf), paused and resumed, and
// waitUntilHealthy() waits for the failover that follows. Every server started here is killed when
// the test process exits, whatever happened. Without the binaries, a suite fails under CI=true and
// skips loudly elsewhere. The nodes themselves are in harness/cluster-nodes.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions } from 'ioredis';
import { freeClusterPort, HOST, launchNode, Node, SLOTS, unhealthy, type ClusterNode, type RedisClusterOptions } from './cluster-nodes.js';
import { startChild } from './process.js';
import { requireProgram } from './process.js';

export type { ClusterNode, RedisClusterOptions } from './cluster-nodes.js';

export const hasRedisCluster =
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

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

// --- health -----------------------------------------------------------------------------------

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

/** Runs `command` to its end (SIGKILL after `within` ms); rejects, with its output, unless it exits 0. */
async function run(command: string, args: string[], within: number): Promise<void> {
  const child = startChild({ name: `${command} ${args.join(' ')}`, command, args });
  const { code, signal } = await child.exited(within);
  if (code !== 0) throw new Error(`${child.name} failed (${signal ?? code}):\n${child.stdout}${child.stderr}`);
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

/** Starts node `index` in its own dir under `root`, drawing another port should the first be taken meanwhile. */
async function startNode(root: string, index: number, taken: Set<number>, settings: Required<RedisClusterOptions>): Promise<Node> {
  const dir = join(root, `node-${index}`);
  mkdirSync(dir);
  for (let attempt = 1; ; attempt++) {
    const port = await freeClusterPort(taken);
    try {
      return new Node(port, dir, await launchNode(port, dir, settings), settings);
    } catch (error) {
      if (attempt === 5) throw error; // another process took the port first: draw another
    }
  }
}

/** Six nodes into `nodes` (as each starts, so a failure leaves the rest for stop()), then the cluster made of them. */
async function createCluster(root: string, nodes: Node[], settings: Required<RedisClusterOptions>): Promise<void> {
  const taken = new Set<number>();
  // allSettled: should one fail, the others are all in `nodes` for stop() to kill.
  const started = await Promise.allSettled(
    [0, 1, 2, 3, 4, 5].map(async (index) => {
      nodes[index] = await startNode(root, index, taken, settings);
    }),
  );
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
}

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
    await createCluster(root, nodes, settings);
  } catch (error) {
    await stop();
    throw error;
  }
  return clusterHandle(nodes, clients, stop);
}

/** The RedisCluster a test holds: clients, questions about who serves what, and stop(). */
function clusterHandle(nodes: Node[], clients: Cluster[], stop: () => Promise<void>): RedisCluster {
  const byPort = (port: number): Node => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on port ${port}`);
    return node;
  };
  const withRole = async (role: 'master' | 'replica') => {
    const roles = await Promise.all(nodes.map((node) => node.role()));
    return nodes.filter((_, i) => roles[i] === role);
  };
  const startupNodes = () => nodes.map((node) => ({ host: HOST, port: node.port }));

  return {
    nodes,
    startupNodes: startupNodes(),
    client(overrides: ClusterOptions = {}) {
      const merged: ClusterOptions = {
        ...CLIENT_DEFAULTS,
        ...overrides,
        redisOptions: { ...CLIENT_DEFAULTS.redisOptions, ...overrides.redisOptions },
      };
      const client = new Cluster(startupNodes(), merged);
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
  requireProgram(suite, hasRedisCluster, 'redis-server or redis-cli', 'the Redis Cluster tests', 'redis-server redis-tools');
}

/**
 * For a describe() on a Redis Cluster: skips (or, under CI, fails) it without the binaries, starts
 * a cluster and a client before its tests and stops them after. Read `.cluster` and `.client` in
 * the tests.
 */
export function clusterFor(suite: Mocha.Suite, options: RedisClusterOptions = {}): { readonly cluster: RedisCluster; readonly client: Cluster } {
  requireRedisCluster(suite);
  const held = {} as { cluster: RedisCluster; client: Cluster };
  suite.beforeAll(async function () {
    this.timeout(30_000);
    held.cluster = await startRedisCluster(options);
    held.client = held.cluster.client();
  });
  suite.afterAll(async () => {
    await held.cluster?.stop();
  });
  return held;
}
