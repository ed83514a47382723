// The Redis the two instances share: a private redis-server (harness/redis.ts), or a private Redis
// Cluster of 3 masters with a replica each (harness/cluster.ts). Either way the soak can list the
// session records it holds, to compare them with the sessions the players hold.
import { Redis } from 'ioredis';
import { startRedisCluster, type ClusterNode, type RedisCluster } from '../harness/cluster.js';
import { startControlledRedis } from '../harness/redis.js';
import { CLUSTER_NODE_TIMEOUT_MS, PREFIX, type Topology } from './config.js';

/** Session records are `soak:<43-char id>`; the other keys under the prefix are the access token, locks and user indexes. */
const SESSION_KEY = /^soak:[A-Za-z0-9_-]{43}$/;

export interface SessionRecords {
  ids: Set<string>;
  /** Keys under the prefix that are not sessions. */
  other: number;
}

export interface Backend {
  /** What the instances need to reach it. */
  env: Record<string, string>;
  describe: string;
  cluster?: RedisCluster;
  /** The session records (and the other keys under the prefix) in Redis now; on a Cluster, on every master. */
  sessions(): Promise<SessionRecords>;
  stop(): Promise<void>;
}

async function sessionIdsInRedis(redis: Redis): Promise<SessionRecords> {
  const ids = new Set<string>();
  let other = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (SESSION_KEY.test(key)) ids.add(key.slice(PREFIX.length));
      else other += 1;
    }
  } while (cursor !== '0');
  return { ids, other };
}

/** Runs `work` on a plain connection to one node (no retries: a dead node fails at once), then closes it. */
async function onNode<T>(port: number, work: (admin: Redis) => Promise<T>): Promise<T> {
  const admin = new Redis({ host: '127.0.0.1', port, protocol: 2, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 5000 });
  admin.on('error', () => {});
  try {
    return await work(admin);
  } finally {
    admin.disconnect();
  }
}

async function startSingle(): Promise<Backend> {
  const redis = await startControlledRedis();
  return {
    env: { REDIS_PORT: String(redis.port) },
    describe: `redis :${redis.port}`,
    sessions: () => onNode(redis.port, sessionIdsInRedis),
    stop: () => redis.stop(),
  };
}

async function startCluster(): Promise<Backend> {
  const cluster = await startRedisCluster({ nodeTimeout: CLUSTER_NODE_TIMEOUT_MS });
  return {
    env: { REDIS_CLUSTER_NODES: cluster.startupNodes.map((node) => `${node.host}:${node.port}`).join(',') },
    describe: `redis cluster ${cluster.nodes.map((node) => `:${node.port}`).join(' ')}`,
    cluster,
    async sessions() {
      const all: SessionRecords = { ids: new Set(), other: 0 };
      for (const master of await cluster.masters()) {
        const held = await onNode(master.port, sessionIdsInRedis);
        for (const id of held.ids) all.ids.add(id);
        all.other += held.other;
      }
      return all;
    },
    stop: () => cluster.stop(),
  };
}

export function startBackend(topology: Topology): Promise<Backend> {
  return topology === 'single' ? startSingle() : startCluster();
}

export interface MasterView {
  node: ClusterNode;
  sessions: number;
  /** Connections with a subscription (CLIENT LIST sub/psub/ssub > 0): the instances' invalidation subscriptions. */
  subscribers: number;
  /** It serves the slot of the shared access token (and its refresh lock). */
  accessToken: boolean;
}

/** Each master now: how many session records it holds, how many subscribed connections, whether the access token is there. */
export async function inspectMasters(cluster: RedisCluster, appId: string): Promise<MasterView[]> {
  const tokenMaster = await cluster.masterOf(`${PREFIX}token:${appId}`);
  const views: MasterView[] = [];
  for (const node of await cluster.masters()) {
    views.push(
      await onNode(node.port, async (admin) => {
        const { ids } = await sessionIdsInRedis(admin);
        const list = String(await admin.call('CLIENT', 'LIST'));
        const subscribers = list.split('\n').filter((line) => /\b(?:sub|psub|ssub)=[1-9]/.test(line)).length;
        return { node, sessions: ids.size, subscribers, accessToken: node.port === tokenMaster.port };
      }),
    );
  }
  return views;
}
