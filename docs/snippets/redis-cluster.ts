import { Cluster } from 'ioredis';
import { RedisStore } from 'wx-session/redis';

export function clusterStore(nodes: Array<{ host: string; port: number }>, password: string): RedisStore {
  const cluster = new Cluster(nodes, {
    scaleReads: 'master', // the default; a Cluster client that reads from replicas is refused
    redisOptions: { password, tls: {} },
  });
  return new RedisStore({ client: cluster, prefix: 'mygame:' });
}
