// The Redis Cluster harness (harness/cluster.ts) fails over as the cluster tests rely on: a killed
// or paused master is replaced by its replica, keeps the writes it had replicated, and rejoins as
// a replica when it comes back.
import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { clusterFor, type ClusterNode } from '../harness/cluster.js';

const ports = (nodes: readonly ClusterNode[]) => nodes.map((node) => node.port).sort();

/** SET, then WAIT for the replica: the write is on both before the master is harmed. */
async function setReplicated(client: Cluster, key: string, value: string): Promise<void> {
  // A pipeline goes to the key's master on one connection, so WAIT (which has no key) waits for
  // this SET; sent alone, WAIT would go to a random node and wait for nothing.
  const results = await client.pipeline().set(key, value).wait(1, 1000).exec();
  expect(results).to.deep.equal([
    [null, 'OK'],
    [null, 1],
  ]);
}

async function eventually(check: () => boolean, within: number, what: string): Promise<void> {
  const deadline = Date.now() + within;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${within} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('Redis Cluster harness: failovers', function () {
  const held = clusterFor(this);

  it('a killed master is replaced by its replica, keeps replicated writes, and rejoins as a replica', async function () {
    const { cluster, client } = held;
    this.timeout(20_000);
    const key = 'harness:{killed}';
    await setReplicated(client, key, 'written before the kill');
    const master = await cluster.masterOf(key);
    const [replica, ...more] = await cluster.replicasOf(master);
    expect(more).to.deep.equal([]);

    await master.kill();
    expect(master.running).to.equal(false);
    await cluster.waitUntilHealthy();
    expect((await cluster.masterOf(key)).port).to.equal(replica!.port);
    expect(await replica!.role()).to.equal('master');
    expect(await master.role()).to.equal(undefined);
    expect(ports(await cluster.masters())).to.include(replica!.port);
    expect(await client.get(key)).to.equal('written before the kill');

    await master.restart();
    await cluster.waitUntilHealthy();
    expect(await master.role()).to.equal('replica');
    expect(ports(await cluster.replicasOf(replica!))).to.deep.equal([master.port]);
    expect(await cluster.masters()).to.have.length(3);
    expect(await client.get(key)).to.equal('written before the kill');
  });

  it('a paused master is failed over, and becomes a replica once resumed', async function () {
    const { cluster, client } = held;
    this.timeout(20_000);
    // ioredis 6 re-reads the slot map only on MOVED, a closed connection or this timer: a paused
    // master's connection stays open, so without it the client would wait on the paused node.
    const watcher = cluster.client({ slotsRefreshInterval: 200, redisOptions: { commandTimeout: 1000 } });
    const key = 'harness:{paused}';
    await setReplicated(client, key, 'written before the pause');
    const master = await cluster.masterOf(key);
    const [replica] = await cluster.replicasOf(master);
    expect(await watcher.get(key)).to.equal('written before the pause');

    master.pause();
    expect(master.paused).to.equal(true);
    expect(await master.role()).to.equal(undefined);
    await cluster.waitUntilHealthy();
    expect((await cluster.masterOf(key)).port).to.equal(replica!.port);
    expect(ports(await cluster.masters())).to.not.include(master.port);
    const clientMasters = () => watcher.nodes('master').map((node) => node.options.port);
    await eventually(() => !clientMasters().includes(master.port), 2000, 'the client drops the paused master');
    expect(await watcher.get(key)).to.equal('written before the pause');

    master.resume();
    await cluster.waitUntilHealthy();
    expect(await master.role()).to.equal('replica');
    expect(ports(await cluster.replicasOf(replica!))).to.deep.equal([master.port]);
    expect(await client.get(key)).to.equal('written before the pause');
  });
});
