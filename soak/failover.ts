// The Cluster phase: a master SIGKILLed mid-run, the failover waited for, and the killed node
// restarted once the failover window has closed (it rejoins as a replica). The one thing the kill
// may legitimately cause is a 503 WX_STORE_UNAVAILABLE for requests whose keys are on the dead
// master until its replica took over: those are allowed only for requests that overlap the
// failover window (from the kill until the cluster is healthy again, plus FAILOVER_MARGIN_MS).
// judgeStore503s() decides that for every 503 at the end; anywhere else a 503 is a violation.
// A 503 write or logout is not acknowledged: the write counts as uncertain, the logout is retried
// until answered 204 (soak/logout.ts). A write answered 200 must survive the failover, and a
// logout answered 204 must stay final on both instances, as anywhere else.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisCluster } from '../harness/cluster.js';
import { inspectMasters, type MasterView } from './backend.js';
import { CLUSTER_HEAL_WITHIN_MS, FAILOVER_MARGIN_MS, type SoakSettings } from './config.js';
import type { Instance } from './processes.js';
import type { Recorder } from './recorder.js';
import type { FailoverReport } from './report.js';
import type { Shared, Store503 } from './shared.js';
import { CHECK, type Violations } from './violations.js';

/** Seconds since `started`, to a tenth, for the report and the examples. */
const secondsSince = (started: number) => (ms: number | undefined) => (ms === undefined ? undefined : Math.round((ms - started) / 100) / 10);

/** Adds one to `counts[index]`, growing the list as needed. */
function bump(counts: number[], index: number): void {
  while (counts.length <= index) counts.push(0);
  counts[index]! += 1;
}

export class Failover {
  readonly report: FailoverReport = {
    masters: [],
    marginMs: FAILOVER_MARGIN_MS,
    store503: { inWindow: 0, outside: 0, byRequest: {}, bySecondAfterKill: [] },
    logoutsRetried: 0,
    logoutsAbandoned: 0,
    orphanSessions: 0,
    answeredAfterWindow: 0,
    warnings: { beforeKill: 0, bySecondAfterKill: [] },
  };
  /** When (Date.now()) the master was killed, the cluster healthy again, the node restarted, and healthy with it. */
  readonly times: { killed?: number; healthy?: number; restarted?: number; rejoined?: number } = {};
  #healing: Promise<void> | undefined;
  readonly #at: (ms: number | undefined) => number | undefined;

  constructor(
    readonly cluster: RedisCluster,
    readonly settings: SoakSettings,
    readonly appId: string,
    readonly started: number,
    readonly log: (line: string) => void,
  ) {
    this.#at = secondsSince(started);
  }

  /** The end of the window in which 503s are allowed; undefined until the cluster was healthy again. */
  get windowEnd(): number | undefined {
    return this.times.healthy === undefined ? undefined : this.times.healthy + FAILOVER_MARGIN_MS;
  }

  /** Kills a master at killNodeAt (unless that is past the run); a failure to heal lands in `rigErrors`. */
  schedule(timers: NodeJS.Timeout[], rigErrors: string[], signal: AbortSignal): void {
    const { killNodeAt, seconds } = this.settings;
    if (killNodeAt === false || killNodeAt >= seconds) return;
    const start = () => {
      this.#healing = this.#killAndHeal(signal).catch((error: unknown) => {
        rigErrors.push(`the cluster did not fail over or rejoin: ${String((error as Error)?.message ?? error)}`);
      });
    };
    timers.push(setTimeout(start, killNodeAt * 1000));
  }

  /** Resolves once the failover and the rejoin under way (if any) are done. */
  async settled(): Promise<void> {
    if (!this.#healing) return;
    this.log('soak: waiting for the failover and the rejoin to finish');
    await this.#healing;
  }

  async #killAndHeal(signal: AbortSignal): Promise<void> {
    const target = await this.#kill();
    const { restartNodeAfter } = this.settings;
    if (restartNodeAfter === false) return;
    // After the 503 window has closed, so that what the rejoin causes is told apart from the failover.
    await sleep(FAILOVER_MARGIN_MS + restartNodeAfter * 1000);
    if (signal.aborted) return;
    this.times.restarted = Date.now();
    await target.node.restart();
    await this.cluster.waitUntilHealthy(CLUSTER_HEAL_WITHIN_MS);
    this.times.rejoined = Date.now();
    this.report.rejoinedAs = await target.node.role();
    this.log(`soak: ${this.#at(this.times.rejoined)} s: :${target.node.port} restarted at ${this.#at(this.times.restarted)} s, rejoined as ${this.report.rejoinedAs ?? '?'}`);
  }

  /** Picks the master (killNode), kills it and waits for its replica to take over. */
  async #kill(): Promise<MasterView> {
    const { report, times, cluster } = this;
    const killNode = this.settings.killNode;
    const masters = await inspectMasters(cluster, this.appId);
    report.masters = masters.map((m) => ({ port: m.node.port, sessions: m.sessions, subscribers: m.subscribers, accessToken: m.accessToken }));
    const target =
      killNode === 'access-token'
        ? masters.find((m) => m.accessToken)!
        : [...masters].sort((a, b) => b.sessions - a.sessions || Number(b.accessToken) - Number(a.accessToken))[0]!;
    const total = masters.reduce((sum, m) => sum + m.sessions, 0);
    const [replica] = await cluster.replicasOf(target.node);
    report.killedPort = target.node.port;
    report.why =
      `${killNode}: it held ${target.sessions} of the ${total} session records, ${target.subscribers} subscribed connection(s)` +
      `${target.accessToken ? ' and the access token' : ''}; replica :${replica?.port ?? '?'}`;
    times.killed = Date.now();
    await target.node.kill();
    this.log(`soak: ${this.#at(times.killed)} s: killed master :${target.node.port} (${report.why})`);
    await cluster.waitUntilHealthy(CLUSTER_HEAL_WITHIN_MS);
    times.healthy = Date.now();
    if (replica && (await replica.role()) === 'master') report.promotedPort = replica.port;
    this.log(`soak: ${this.#at(times.healthy)} s: the cluster is healthy again (${((times.healthy - times.killed) / 1000).toFixed(1)} s after the kill), :${report.promotedPort ?? '?'} promoted`);
    return target;
  }

  /** Counts a 503 WX_STORE_UNAVAILABLE in the report; true when the request overlapped the failover window (allowed). */
  count503(e: Store503): boolean {
    const { killed } = this.times;
    const windowEnd = this.windowEnd;
    const s = this.report.store503;
    if (killed !== undefined && e.answeredAt >= killed) bump(s.bySecondAfterKill, Math.max(0, Math.floor((e.sentAt - killed) / 1000)));
    if (killed === undefined || windowEnd === undefined || e.answeredAt < killed || e.sentAt > windowEnd) {
      s.outside += 1;
      return false;
    }
    s.inWindow += 1;
    s.byRequest[e.label] = (s.byRequest[e.label] ?? 0) + 1;
    s.first = Math.min(s.first ?? Infinity, this.#at(e.sentAt)!);
    s.last = Math.max(s.last ?? -Infinity, this.#at(e.sentAt)!);
    s.lastAnswered = Math.max(s.lastAnswered ?? -Infinity, this.#at(e.answeredAt)!);
    return true;
  }

  /** Why a 503 outside the window was not allowed, for the violation's example. */
  whyNot(e: Store503): string {
    const { killed, restarted, rejoined } = this.times;
    const windowEnd = this.windowEnd;
    if (killed === undefined) return '(no node was killed)';
    if (e.answeredAt < killed) return 'before the kill';
    if (restarted !== undefined && e.sentAt >= restarted && (rejoined === undefined || e.sentAt <= rejoined + FAILOVER_MARGIN_MS)) {
      return `during the rejoin of the restarted node (restarted ${this.#at(restarted)} s, rejoined ${this.#at(rejoined) ?? '?'} s)`;
    }
    if (windowEnd === undefined) return 'after the kill, the cluster never healthy again';
    return `${e.sentAt - windowEnd} ms after the failover window (${this.#at(killed)}-${this.#at(windowEnd)} s) closed`;
  }

  /** The report's remaining numbers, once the load phase and the end checks are over. */
  finish(shared: Shared, instances: readonly Instance[], recorder: Recorder, orphanSessions: number): FailoverReport {
    const { report, times, started } = this;
    report.killedAt = this.#at(times.killed);
    report.healthyAt = this.#at(times.healthy);
    report.windowEnd = this.#at(this.windowEnd);
    report.restartedAt = this.#at(times.restarted);
    report.rejoinedAt = this.#at(times.rejoined);
    report.logoutsRetried = shared.logoutsRetried.count;
    report.logoutsAbandoned = shared.abandoned.size;
    report.orphanSessions = orphanSessions;
    for (const { at: when } of instances.flatMap((instance) => instance.warnings)) {
      if (when < started) continue; // the warm-up
      if (times.killed === undefined || when < times.killed) report.warnings.beforeKill += 1;
      else bump(report.warnings.bySecondAfterKill, Math.floor((when - times.killed) / 1000));
    }
    const windowEnd = this.windowEnd;
    if (windowEnd !== undefined) report.answeredAfterWindow = recorder.okBySecond.slice(Math.ceil((windowEnd - started) / 1000)).reduce((sum, n) => sum + n, 0);
    return report;
  }
}

/**
 * Judges every 503 WX_STORE_UNAVAILABLE: allowed only on the Cluster, for requests that overlap
 * the failover window; a statuses violation anywhere else. Returns how many were logins or
 * X-WX-Code requests (the mock may have redeemed their code) and how many were logins (their
 * record may have been written), inside the window or not.
 */
export function judgeStore503s(store503s: readonly Store503[], violations: Violations, started: number, failover: Failover | undefined): { codes503: number; logins503: number } {
  const at = secondsSince(started);
  let codes503 = 0;
  let logins503 = 0;
  for (const e of store503s) {
    // Outside the window too (such a 503 is a statuses violation already, not to be counted twice).
    if (e.redeemsCode) codes503 += 1;
    if (e.label === 'login') logins503 += 1;
    if (failover?.count503(e)) continue;
    const when = failover ? failover.whyNot(e) : 'on a single Redis (never allowed)';
    violations.add(CHECK.statuses, `${e.where}: 503 WX_STORE_UNAVAILABLE ${when}; sent ${at(e.sentAt)} s, answered ${at(e.answeredAt)} s`, e.sentAt);
  }
  return { codes503, logins503 };
}
