// What a Cluster master says about its replicas (CLUSTER NODES and INFO replication, asked of the
// master itself), and what that means for the writes it ran: which replicas a failover could
// promote and must have them before they are acknowledged (see redis-writer.ts).
import { performance } from 'node:perf_hooks';

/**
 * A replica as its master sees it: 'online' (it has what the master streamed, or will have it),
 * 'syncing' (a full resynchronisation: it has not got the master's data yet), 'unconnected'
 * (listed by the cluster, not failed, but not connected for replication: a partition, a replica
 * just killed or just restarted; it might be promoted with whatever it had).
 */
export type ReplicaState = 'online' | 'syncing' | 'unconnected';

/** What a master says about itself: is it a master, and its replicas that are not failed (by address). */
export interface ReplicaView {
  master: boolean;
  replicas: Map<string, ReplicaState>;
}

/**
 * Reads CLUSTER NODES and INFO replication, both asked of the master itself. Failed replicas
 * (and ones not yet known: handshake, noaddr) are left out: a failover cannot promote them.
 * Undefined when the answers cannot be read.
 */
export function replicaView(nodes: unknown, info: unknown): ReplicaView | undefined {
  if (typeof nodes !== 'string' || typeof info !== 'string') return undefined;
  const lines = nodes
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8);
  const me = lines.find((fields) => fields[2]!.split(',').includes('myself'));
  if (!me) return undefined;
  const master = me[2]!.split(',').includes('master') && /^role:master\s*$/m.test(info);
  const linked = new Map<string, string>();
  for (const match of info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+),state=([a-z_]+)/gm)) linked.set(`${match[1]}:${match[2]}`, match[3]!);
  const replicas = new Map<string, ReplicaState>();
  for (const fields of lines) {
    if (fields[3] !== me[0]) continue;
    const flags = fields[2]!.split(',');
    if (flags.includes('fail') || flags.includes('handshake') || flags.includes('noaddr')) continue;
    const address = fields[1]!.split('@')[0]!.split(',')[0]!;
    const state = linked.get(address);
    replicas.set(address, state === undefined ? 'unconnected' : state === 'online' ? 'online' : 'syncing');
  }
  return { master, replicas };
}

/**
 * How long a replica that this connection saw come online (after a full resynchronisation, or
 * after being absent) is not yet counted on: Redis 7.0 may not stream it the writes made during
 * its resynchronisation until its next once-a-second report, so it can confirm nothing for up to
 * a second. It is waited for (one WAIT slice) but, when it does not answer, treated as still
 * resynchronising (see Writer#confirm).
 */
const FRESH_MS = 2000;

/** One write connection's memory of its master's replicas, from one answer to the next. */
export class ReplicaJudge {
  /** Its replicas at the last answer (undefined before the first). */
  #seen: Map<string, ReplicaState> | undefined;
  /** Replicas seen coming online, until when they are not counted on (performance.now()). */
  readonly #fresh = new Map<string, number>();

  /**
   * What the master's answer means for writes it ran: `must`, the replicas a failover could
   * promote and that must have them (online, or listed but not connected); `fresh`, replicas
   * that came online within FRESH_MS (see there), which may not have them yet and cannot be made
   * to; replicas in a full resynchronisation count for neither (they have none of it yet).
   */
  judge(view: ReplicaView): { must: number; fresh: number } {
    const now = performance.now();
    let must = 0;
    let fresh = 0;
    for (const [address, state] of view.replicas) {
      if (state === 'online' && this.#seen && this.#seen.get(address) !== 'online') this.#fresh.set(address, now + FRESH_MS);
      if (state === 'syncing') continue;
      if (state === 'online' && (this.#fresh.get(address) ?? 0) > now) fresh++;
      else must++;
    }
    this.#seen = new Map(view.replicas);
    for (const [address, until] of this.#fresh) if (until <= now) this.#fresh.delete(address);
    return { must, fresh };
  }
}
