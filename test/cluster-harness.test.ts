// The Redis Cluster harness (harness/cluster.ts) does what the cluster tests rely on: six nodes in
// three shards, a client that reaches every slot, and our keySlot() agreeing with Redis. Its
// failovers: test/cluster-harness-failover.test.ts.
import { expect } from 'chai';
import { clusterFor, keySlot, type ClusterNode } from '../harness/cluster.js';

const ports = (nodes: readonly ClusterNode[]) => nodes.map((node) => node.port).sort();

describe('Redis Cluster harness', function () {
  const held = clusterFor(this);

  it('has 3 masters with one replica each, and every slot is assigned', async () => {
    const { cluster, client } = held;
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    expect(masters).to.have.length(3);
    expect(replicas).to.have.length(3);
    expect([...ports(masters), ...ports(replicas)].sort()).to.deep.equal(ports(cluster.nodes));
    for (const master of masters) expect(await cluster.replicasOf(master)).to.have.length(1);

    const ranges = await client.cluster('SLOTS');
    const covered = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
    expect(covered).to.equal(16384);
    expect([...new Set(ranges.map(([, , master]) => master![1]))].sort()).to.deep.equal(ports(masters));
    expect(cluster.startupNodes.map((node) => node.port).sort()).to.deep.equal(ports(cluster.nodes));
  });

  it('a Cluster client sets and gets keys across many slots, on every master', async () => {
    const { client } = held;
    const keys = Array.from({ length: 300 }, (_, i) => `many:${i}`);
    expect(new Set(keys.map(keySlot)).size).to.be.greaterThan(250);
    await Promise.all(keys.map((key) => client.set(key, `value of ${key}`)));
    expect(await Promise.all(keys.map((key) => client.get(key)))).to.deep.equal(keys.map((key) => `value of ${key}`));

    const perMaster = await Promise.all(client.nodes('master').map((node) => node.keys('many:*')));
    expect(perMaster).to.have.length(3);
    for (const held of perMaster) expect(held.length).to.be.greaterThan(50);
    expect(perMaster.flat().sort()).to.deep.equal([...keys].sort());
  });

  it('keySlot agrees with CLUSTER KEYSLOT, hash tags included', async () => {
    const { client } = held;
    // Known values: the CRC16 check value, and Redis's own documentation example.
    expect(keySlot('123456789')).to.equal(0x31c3);
    expect(keySlot('{user1000}.following')).to.equal(keySlot('{user1000}.followers'));

    const random = (length: number) => Array.from({ length }, () => String.fromCharCode(33 + Math.floor(Math.random() * 94))).join('');
    const shapes = [
      () => random(1 + Math.floor(Math.random() * 30)),
      () => `sess:{${random(8)}}:${random(5)}`, // a tag
      () => `${random(3)}{}${random(4)}`, // an empty tag: the whole key is hashed
      () => `${random(3)}{${random(4)}`, // no closing brace
      () => `${random(3)}}${random(2)}{${random(4)}}`, // a '}' before the '{'
      () => `a{${random(3)}}{${random(3)}}`, // only the first tag counts
      () => `{{${random(4)}}}`, // the tag is "{xxxx"
      () => `ключ:{玩家${random(3)}}:😀`, // UTF-8 bytes, not UTF-16 units
    ];
    const keys = ['', '{}', '{', '}', ...Array.from({ length: 196 }, (_, i) => shapes[i % shapes.length]!())];
    const fromRedis = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key) as Promise<number>));
    const mismatches = keys.filter((key, i) => keySlot(key) !== fromRedis[i]);
    expect(mismatches).to.deep.equal([]);
  });
});
