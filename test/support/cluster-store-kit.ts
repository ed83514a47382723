// The fixture of the RedisStore tests on a real Redis Cluster (test/store-cluster-*.test.ts): six
// nodes, three shards, cluster-node-timeout 1000 ms; the stores a test makes (each on a Cluster
// client of its own, as app instances are) and its plain node connections, closed after it; and
// every node a test killed or paused brought back, with the cluster whole again, before the next.
import { Redis, type Cluster } from 'ioredis';
import { expect } from 'chai';
import { RedisStore, type RedisStoreOptions } from '../../src/redis.js';
import type { SessionRecord } from '../../src/store.js';
import { sampleId } from '../../src/testing/index.js';
import { sleep } from '../../harness/apps.js';
import { keySlot, requireRedisCluster, startRedisCluster, type ClusterNode, type RedisCluster } from '../../harness/cluster.js';
import { attempt } from './outcomes.js';
import { connectionsNamed } from './redis-store-kit.js';

/** The prefix of every store the kit makes. */
export const PREFIX = 'wxc:';

export type ClusterStoreOptions = Omit<RedisStoreOptions, 'client'> & { client?: Cluster };

/** Call at the top of a describe(): starts the cluster before its tests, heals and cleans up after each. */
export function useClusterStores(suite: Mocha.Suite): ClusterStoreKit {
  requireRedisCluster(suite);
  suite.timeout(30_000);
  const kit = new ClusterStoreKit();
  suite.beforeAll(async function () {
    this.timeout(40_000);
    await kit.start();
  });
  suite.afterEach(async function () {
    this.timeout(30_000);
    await kit.cleanUp();
  });
  suite.afterAll(() => kit.stop());
  return kit;
}

export class ClusterStoreKit {
  #cluster: RedisCluster | undefined;
  #stores: RedisStore[] = [];
  #admins: Redis[] = [];

  async start(): Promise<void> {
    this.#cluster = await startRedisCluster({ nodeTimeout: 1000 });
  }

  /** Heals every node the test killed or paused (the paused first: a stalled replica holds up a failover), and closes what it made. */
  async cleanUp(): Promise<void> {
    const hurt = this.cluster.nodes.filter((node) => node.paused || !node.running);
    for (const node of hurt) if (node.paused) node.resume();
    for (const node of hurt) if (!node.running) await node.restart();
    if (hurt.length > 0) await this.#whole();
    await Promise.all(this.#stores.splice(0).map((made) => made.close()));
    for (const made of this.#admins.splice(0)) made.disconnect();
  }

  async stop(): Promise<void> {
    await this.#cluster?.stop();
  }

  get cluster(): RedisCluster {
    if (!this.#cluster) throw new Error('the cluster store kit is used before its suite started');
    return this.#cluster;
  }

  /** A RedisStore under PREFIX, on a Cluster client of its own unless given one; closed after the test. */
  store(options: ClusterStoreOptions = {}): RedisStore {
    const made = new RedisStore({ client: options.client ?? this.cluster.client(), prefix: PREFIX, ...options });
    this.#stores.push(made);
    return made;
  }

  /** Two instances, each on its own Cluster client, both subscribed everywhere. */
  async twoInstances(options: Omit<RedisStoreOptions, 'client'> = {}): Promise<[RedisStore, RedisStore]> {
    const a = this.store(options);
    const b = this.store(options);
    expect(await a.ready(), 'A subscribed on every master').to.equal(true);
    expect(await b.ready(), 'B subscribed on every master').to.equal(true);
    return [a, b];
  }

  /** A plain connection to one node (closed after the test). */
  admin(node: ClusterNode): Redis {
    const made = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    made.on('error', () => {});
    this.#admins.push(made);
    return made;
  }

  /** How many connections named `name` the masters have, together. */
  async masterConnectionsNamed(name: string): Promise<number> {
    let n = 0;
    for (const master of await this.cluster.masters()) n += await connectionsNamed(this.admin(master), name);
    return n;
  }

  /** `count` session ids whose keys are served by `master` (or, with `elsewhere`, by the other masters). */
  async idsOn(master: ClusterNode, count: number, elsewhere = false): Promise<string[]> {
    const ranges = (await this.admin(master).cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const mine = ranges.filter(([, , [, port]]) => port === master.port);
    const ids: string[] = [];
    while (ids.length < count) {
      const id = sampleId();
      const slot = keySlot(`${PREFIX}${id}`);
      if (mine.some(([from, to]) => from <= slot && slot <= to) !== elsewhere) ids.push(id);
    }
    return ids;
  }

  /** Brings back a killed or paused node and waits until the cluster is whole again. */
  async heal(node: ClusterNode): Promise<void> {
    if (node.paused) node.resume();
    if (!node.running) await node.restart();
    await this.#whole();
  }

  /** Waits until the cluster is whole again and every master's replica confirms writes. */
  async #whole(): Promise<void> {
    await this.cluster.waitUntilHealthy(20_000);
    await this.#replicasConfirming();
  }

  /**
   * Waits until every master's replica confirms writes (WAIT 1). A replica fresh from a full
   * resynchronisation may confirm nothing for up to a second (Redis 7.0, diskless sync: its
   * master starts streaming on its next once-a-second report); a store whose connection to that
   * master is new has not seen it come online and waits for it strictly (see
   * src/stores/redis-writer.ts), so the next test would start with refused writes.
   */
  async #replicasConfirming(within = 5000): Promise<void> {
    const deadline = Date.now() + within;
    for (const master of await this.cluster.masters()) {
      const conn = this.admin(master);
      const [id] = await this.idsOn(master, 1);
      for (;;) {
        // (a key of that master's: an id nobody uses, gone in a second)
        const results = await conn.pipeline().set(`${PREFIX}${id}`, '1', 'PX', 1000).wait(1, 100).exec();
        if (Number(results?.[1]?.[1]) >= 1) break;
        if (Date.now() > deadline) throw new Error(`the replica of :${master.port} confirms no write ${within} ms after the cluster healed`);
      }
    }
  }
}

/** Reads every id through `s` twice, so that it has them cached. */
export async function warm(s: RedisStore, ids: string[]): Promise<void> {
  for (let round = 0; round < 2; round++) await Promise.all(ids.map((id) => s.get(id)));
}

/** Retries a save of `id` until one is acknowledged (the failover is over for this client). */
export async function saveUntilAcknowledged(s: RedisStore, id: string, record: SessionRecord, within = 15_000): Promise<void> {
  const deadline = Date.now() + within;
  for (;;) {
    const result = await attempt(() => s.update(id, record, 60_000));
    if (result.ok && result.value) return;
    if (result.ok) throw new Error(`session ${id} is gone`);
    if (Date.now() > deadline) throw new Error(`saves still refused after ${within} ms: ${String((result.error as Error).message)}`);
    await sleep(20);
  }
}
