// What a Cluster master's own answers (CLUSTER NODES, INFO replication) mean for the writes it ran
// (src/stores/redis-replicas.ts): which replicas a failover could promote, and so must have a write
// before it is acknowledged. The answers here are shaped as Redis 7 gives them.
import { expect } from 'chai';
import { ReplicaJudge, replicaView } from '../src/stores/redis-replicas.js';

const ME = 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca';
const OTHER = '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1';

/** CLUSTER NODES as the master ME answers it: itself (with `flags`), another master, and `replicas` (address, flags, master). */
function nodes(flags: string, replicas: Array<[string, string, string]>): string {
  return [
    `${ME} 127.0.0.1:30001@40001 ${flags} - 0 0 1 connected 0-5460`,
    `${OTHER} 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922`,
    ...replicas.map(([address, replicaFlags, master], i) => `${i}07c37dfeb235213a872192d90877d0cd55635b9 ${address}@4${address.slice(-4)} ${replicaFlags} ${master} 0 1426238317239 4 connected`),
    '',
  ].join('\n');
}

/** INFO replication: the role, and the replicas connected for replication (address, state). */
function info(role: string, linked: Array<[string, string]>): string {
  const lines = linked.map(([address, state], i) => {
    const [ip, port] = address.split(':');
    return `slave${i}:ip=${ip},port=${port},state=${state},offset=1234,lag=0`;
  });
  return ['# Replication', `role:${role}`, `connected_slaves:${linked.length}`, ...lines, 'master_failover_state:no-failover', ''].join('\r\n');
}

describe('what a Cluster master says about its replicas', () => {
  it('a replica streaming online counts; one in a full resynchronisation is syncing; one listed but not linked is unconnected', () => {
    const view = replicaView(
      nodes('myself,master', [
        ['127.0.0.1:30004', 'slave', ME],
        ['127.0.0.1:30005', 'slave', ME],
        ['127.0.0.1:30006', 'slave', ME],
      ]),
      info('master', [
        ['127.0.0.1:30004', 'online'],
        ['127.0.0.1:30005', 'send_bulk'],
      ]),
    );
    expect(view?.master).to.equal(true);
    expect(Object.fromEntries(view!.replicas)).to.deep.equal({ '127.0.0.1:30004': 'online', '127.0.0.1:30005': 'syncing', '127.0.0.1:30006': 'unconnected' });
  });

  it('failed replicas, ones not known yet (handshake, noaddr) and the replicas of other masters are left out: a failover cannot promote them here', () => {
    const view = replicaView(
      nodes('myself,master', [
        ['127.0.0.1:30004', 'slave,fail', ME],
        ['127.0.0.1:30005', 'handshake', ME],
        ['127.0.0.1:30006', 'slave,noaddr', ME],
        ['127.0.0.1:30007', 'slave', OTHER],
      ]),
      info('master', [['127.0.0.1:30007', 'online']]),
    );
    expect(view).to.deep.equal({ master: true, replicas: new Map() });
  });

  it('a node that has become a replica (by its flags or by INFO) is no longer a master', () => {
    expect(replicaView(nodes('myself,slave', []), info('master', []))?.master).to.equal(false);
    expect(replicaView(nodes('myself,master', []), info('slave', []))?.master).to.equal(false);
  });

  it('answers that cannot be read are no view at all', () => {
    expect(replicaView(undefined, info('master', []))).to.equal(undefined);
    expect(replicaView(nodes('myself,master', []), null)).to.equal(undefined);
    expect(replicaView(nodes('master', []), info('master', [])), 'no line for the node itself').to.equal(undefined);
  });

  it('a replica seen coming online is not counted on at once (fresh); resynchronising ones count for nothing; unconnected ones must have the writes', () => {
    const judge = new ReplicaJudge();
    const view = (states: Record<string, 'online' | 'syncing' | 'unconnected'>) => ({ master: true, replicas: new Map(Object.entries(states)) });
    // The first answer: nothing was seen before it, so an online replica is one to wait for.
    expect(judge.judge(view({ a: 'online', b: 'syncing' }))).to.deep.equal({ must: 1, fresh: 0 });
    // b finished its resynchronisation; c is listed but not linked (it might be promoted with what it had).
    expect(judge.judge(view({ a: 'online', b: 'online', c: 'unconnected' }))).to.deep.equal({ must: 2, fresh: 1 });
    // c came online after being absent: fresh too, while b still is.
    expect(judge.judge(view({ a: 'online', b: 'online', c: 'online' }))).to.deep.equal({ must: 1, fresh: 2 });
  });
});
