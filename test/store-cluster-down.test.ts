// RedisStore on a real Redis Cluster (SECURITY.md, "Many instances on a Redis Cluster"): a master
// whose cluster is not whole in its own eyes (cluster_state:fail) is not trusted with its slots.
// Shard pub/sub is still served then, so a subscription made there would be confirmed; but a master
// that only believes it still serves its slots (restarted from an old config, or on the minority
// side of a partition) looks the same. Here a master fails and its replica cannot take over, so the
// cluster is down; the store's subscription on a healthy master is made anew meanwhile, and is not
// trusted until the cluster is whole again.
import { expect } from 'chai';
import { sampleRecord } from '../src/testing/index.js';
import { sleep } from '../harness/apps.js';
import { commandCalls, waitFor } from '../harness/redis-tools.js';
import { useClusterStores, warm } from './support/cluster-store-kit.js';

describe('RedisStore on a real Redis Cluster: while the cluster is down', function () {
  const kit = useClusterStores(this);

  it("a subscription made while the master's cluster_state is fail is not trusted: reads there go to Redis until the cluster is whole", async () => {
    const s = kit.store();
    expect(await s.ready()).to.equal(true);
    const [victim, healthy] = await kit.cluster.masters();
    const [replica] = await kit.cluster.replicasOf(victim!);
    const [id] = await kit.idsOn(healthy!, 1);
    await s.set(id!, sampleRecord(), 60_000);
    await sleep(20);
    await warm(s, [id!]);
    const admin = kit.admin(healthy!);
    const gets = async (n: number) => {
      const before = await commandCalls(admin, 'get');
      for (let i = 0; i < n; i++) expect(await s.get(id!)).to.have.property('openid');
      return (await commandCalls(admin, 'get')) - before;
    };
    expect(await gets(2), 'GETs for two reads, cached').to.equal(0);

    await admin.config('SET', 'cluster-allow-reads-when-down', 'yes'); // so that the reads below are answered
    try {
      replica!.pause(); // it cannot take over: the cluster stays down
      await victim!.kill();
      await waitFor(async () => /^cluster_state:fail/m.test(await admin.cluster('INFO')), 'the cluster down in the healthy master\'s eyes', 10_000);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'); // the store subscribes there again, now
      await sleep(2500); // several attempts (each retry waits at most a second)
      expect(await gets(2), 'GETs for two reads while the cluster is down').to.equal(2);
      replica!.resume(); // it takes over: the cluster is whole again
      await kit.cluster.waitUntilHealthy(20_000);
      expect(await s.ready(5000), 'subscribed again everywhere').to.equal(true);
      await gets(1);
      expect(await gets(2), 'GETs for two reads once the cluster is whole').to.equal(0);
    } finally {
      await admin.config('SET', 'cluster-allow-reads-when-down', 'no');
    }
  });
});
