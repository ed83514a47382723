// What a run found, turned into its SoakReport: the numbers, one entry per check, and last the
// secrets check, which searches everything captured (the instances' output, every answer, the
// soak's own output and the report's own text) for every secret that existed during the run.
import type { IntervalHistogram } from 'node:perf_hooks';
import type { SessionRecords } from './backend.js';
import { CLUSTER_NODE_TIMEOUT_MS, RAMP_UP_MS, WARM_UP_MS, WARM_UP_PLAYERS, WECHAT_TIMEOUT_MS, type SoakSettings } from './config.js';
import type { MockTally } from './mock-process.js';
import { findSecrets, type CapturedText } from './recorder.js';
import { formatReport, summarize, type FailoverReport, type LatencySummary, type PaymentsReport, type SoakCheck, type SoakReport } from './report.js';
import type { Shared } from './shared.js';
import { CHECK, type CheckName } from './violations.js';

export interface Outcome {
  settings: SoakSettings;
  shared: Shared;
  /** The load phase: its length, its requests, the mock's tally, the access tokens, the driver's and the instances' responsiveness. */
  durationSeconds: number;
  requests: number;
  tally: MockTally;
  tokenExpiries: number;
  accessTokens: number;
  loopDelay: IntervalHistogram;
  health: Record<string, number[]>;
  /** The end: the sessions the players hold, the records in Redis, those left by requests answered 503. */
  heldIds: ReadonlySet<string>;
  inRedis: SessionRecords;
  orphans: number;
  /** The accounting check's detail. */
  accounting: string;
  /** The payments check's numbers. */
  payments: PaymentsReport;
  /** How the instances exited. */
  exits: (number | null)[];
  cluster?: { ports: number[]; failover: FailoverReport };
}

const toMs = (ns: number) => Math.round(ns / 1e5) / 10;

/** The instances' `warn:` lines, by message. */
function warningMessages({ instances }: Shared): Record<string, number> {
  const messages: Record<string, number> = {};
  for (const instance of instances) {
    for (const line of instance.stderr.join('').match(/^warn: .*$/gm) ?? []) messages[line.slice(6)] = (messages[line.slice(6)] ?? 0) + 1;
  }
  return messages;
}

/** The instances' stdout and stderr, each as one text. */
function instanceOutput({ instances }: Shared): CapturedText[] {
  return instances.flatMap((instance) => [
    { source: `instance ${instance.name} stdout`, text: instance.stdout.join('') },
    { source: `instance ${instance.name} stderr`, text: instance.stderr.join('') },
  ]);
}

function configOf(settings: SoakSettings, cluster: Outcome['cluster']): SoakReport['config'] {
  const { seconds, clients, thinkMs, mix, expireTokensEveryMs, topology, killNodeAt, killNode, restartNodeAfter } = settings;
  return {
    seconds,
    clients,
    thinkMs,
    mix,
    expireTokensEveryMs,
    checkInterval: 0,
    wechatTimeoutMs: WECHAT_TIMEOUT_MS,
    rampUpMs: Math.min(RAMP_UP_MS, (seconds * 1000) / 10),
    warmUp: { players: WARM_UP_PLAYERS, ms: Math.min(WARM_UP_MS, (seconds * 1000) / 5) },
    redis: topology,
    ...(cluster ? { cluster: { ports: cluster.ports, nodeTimeoutMs: CLUSTER_NODE_TIMEOUT_MS, killNodeAt, killNode, restartNodeAfter } } : {}),
  };
}

function countsOf(outcome: Outcome, capturedBytes: number): SoakReport['counts'] {
  const { shared, tally } = outcome;
  const instanceWarningMessages = warningMessages(shared);
  return {
    ...shared.counts,
    code2Session: tally.code2Session,
    checkSession: tally.checkSession,
    checkSession87009: tally.checkSession87009,
    stableToken: tally.stableToken,
    tokenExpiries: outcome.tokenExpiries,
    accessTokens: outcome.accessTokens,
    sessionKeys: shared.secrets.counts().get('session_key') ?? 0,
    sessionsHeld: outcome.heldIds.size,
    sessionsInRedis: outcome.inRedis.ids.size,
    instanceWarnings: Object.values(instanceWarningMessages).reduce((sum, n) => sum + n, 0),
    instanceWarningMessages,
    capturedBytes,
  };
}

/** What each check examined, in numbers. */
function detailsOf(outcome: Outcome): Partial<Record<CheckName, string>> {
  const { shared, heldIds, inRedis, cluster } = outcome;
  const { counts, recorder } = shared;
  const store503 = cluster?.failover.store503;
  return {
    [CHECK.openid]: `${counts.reads} reads, ${counts.logins} logins, ${heldIds.size * 2} end-state reads`,
    [CHECK.readYourWrites]: `${counts.reads} reads`,
    [CHECK.lostWrites]: `${counts.writes} acknowledged writes; ${heldIds.size} sessions read on both instances at the end`,
    [CHECK.afterLogout]: `${shared.loggedOut.length} logged-out tokens tried on both instances right after and at the end; Redis holds ${inRedis.ids.size} sessions (and ${inRedis.other} token/lock/user keys), the players ${heldIds.size}${cluster ? `; ${outcome.orphans} left by requests answered 503 (not acknowledged)` : ''}`,
    [CHECK.statuses]:
      `${outcome.requests} requests; ${recorder.networkErrors} network errors; statuses ${JSON.stringify(recorder.statuses)}` +
      (store503 ? `; 503 WX_STORE_UNAVAILABLE: ${store503.inWindow} in the failover window (allowed), ${store503.outside} outside it` : ''),
    [CHECK.rotations]:
      `${counts.rotations} rotations, ${counts.refreshes} refreshes (${counts.rotationsRepairedLate} after more than one request)` +
      (counts.rotationsRepairedUnacknowledged ? `, ${counts.rotationsRepairedUnacknowledged} repaired by an X-WX-Code retry answered 503 that saved the key anyway` : ''),
    [CHECK.accounting]: outcome.accounting,
    [CHECK.payments]: paymentsDetail(outcome.payments),
    [CHECK.shutdown]: `exit codes ${outcome.exits.join(', ')}`,
  };
}

function paymentsDetail(p: PaymentsReport): string {
  return `${p.players} players' balances at the mock against their records: ${p.billNos} billNos, ${p.paidBillNos} paid (${p.paidAmount} coins, ${p.paidByDuplicate} of them found paid by a retry's 90012); ${p.failedBusy} buys answered 502 (-1) for ${p.payBusy} -1s at the mock, ${p.failedTimeout} answered 504 for ${p.timeoutFaults} pays left unanswered`;
}

function checkOf(shared: Shared, name: CheckName, detail: string): SoakCheck {
  const { violations } = shared;
  return { name, ok: violations.count(name) === 0, violations: violations.count(name), detail, examples: violations.examples.get(name) ?? [] };
}

/** The report, every check in it; `ownOutput` (the soak's progress lines) is searched for secrets with the rest. */
export function buildReport(outcome: Outcome, ownOutput: readonly string[]): SoakReport {
  const { shared, durationSeconds, requests } = outcome;
  const { recorder, secrets, violations } = shared;
  recorder.scan(secrets); // the answers not searched yet
  const captured = instanceOutput(shared);
  const capturedBytes = recorder.scannedBytes + captured.reduce((sum, part) => sum + part.text.length, 0);
  const latencyByOp: Record<string, LatencySummary> = {};
  for (const [label, values] of [...recorder.latencies].sort(([a], [b]) => a.localeCompare(b))) latencyByOp[label] = summarize(values);
  const { loopDelay } = outcome;
  const report: SoakReport = {
    ok: false,
    config: configOf(outcome.settings, outcome.cluster),
    ...(outcome.cluster ? { failover: outcome.cluster.failover } : {}),
    durationSeconds: Math.round(durationSeconds * 10) / 10,
    requests,
    throughput: Math.round(requests / durationSeconds),
    latencyMs: { overall: summarize(recorder.all), byOp: latencyByOp },
    perInstance: recorder.perInstance,
    statuses: recorder.statuses,
    counts: countsOf(outcome, capturedBytes),
    payments: outcome.payments,
    driverLoopDelayMs: { p50: toMs(loopDelay.percentile(50)), p99: toMs(loopDelay.percentile(99)), max: toMs(loopDelay.max) },
    healthMs: Object.fromEntries(Object.entries(outcome.health).map(([name, values]) => [name, summarize(values)])),
    checks: [],
  };
  const details = detailsOf(outcome);
  report.checks = Object.values(CHECK)
    .filter((name) => name !== CHECK.secrets)
    .map((name) => checkOf(shared, name, details[name] ?? ''));
  // The report and the soak's output are searched too (before the secrets check is added).
  captured.push({ source: 'the soak\'s own output', text: ownOutput.join('\n') }, { source: 'the report', text: `${JSON.stringify(report)}\n${formatReport(report)}` });
  for (const hit of [...recorder.hits, ...findSecrets(captured, secrets)]) violations.add(CHECK.secrets, `${hit.kind} found in ${hit.source}`);
  const kinds = [...secrets.counts()].map(([kind, n]) => `${n} ${kind}`).join(', ');
  report.checks.splice(4, 0, checkOf(shared, CHECK.secrets, `${capturedBytes} bytes searched for ${secrets.size} secrets (${kinds})`));
  report.ok = report.checks.every((check) => check.ok);
  return report;
}
