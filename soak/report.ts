// What runSoak returns, and formatReport(), the readable form `npm run soak` prints. The report
// names kinds and places, never a secret's value.
import type { KillNode, OpKind, Topology } from './config.js';

export interface FailoverReport {
  /** When the master was SIGKILLed, in seconds since the load phase began; undefined: no kill happened. */
  killedAt?: number;
  killedPort?: number;
  /** Why that master (killNode, and what it held). */
  why?: string;
  /** The masters at the kill: session records, pub/sub connections (the instances' subscriptions), the access token. */
  masters: { port: number; sessions: number; subscribers: number; accessToken: boolean }[];
  /** The replica that took over. */
  promotedPort?: number;
  /** The cluster was healthy again (every slot served, all nodes agree), seconds since the load phase began. */
  healthyAt?: number;
  /** The end of the window in which 503 WX_STORE_UNAVAILABLE is allowed: healthyAt + marginMs. */
  windowEnd?: number;
  marginMs: number;
  /** The killed node started again, and the cluster was healthy again with it. */
  restartedAt?: number;
  rejoinedAt?: number;
  /** What the restarted node says it is now. */
  rejoinedAs?: 'master' | 'replica';
  /** 503 WX_STORE_UNAVAILABLE answers: inside the window (allowed), and outside it (each also a violation of the statuses check). */
  store503: {
    inWindow: number;
    outside: number;
    /** By request kind, inside the window. */
    byRequest: Record<string, number>;
    /** All of them sent after the kill (inside the window or not), by when: [0] in the first second after the kill, [1] in the next... */
    bySecondAfterKill: number[];
    /** Seconds since the load phase began: when the first and the last allowed one was sent, and when the last one was answered. */
    first?: number;
    last?: number;
    lastAnswered?: number;
  };
  /** Logouts answered 503 at first and retried until 204, and those never acknowledged within LOGOUT_RETRY_MS. */
  logoutsRetried: number;
  logoutsAbandoned: number;
  /** The instances' `warn:` lines (store failures), by when they were logged: before the kill, and by second after it. */
  warnings: { beforeKill: number; bySecondAfterKill: number[] };
  /** Requests sent after the window (from the next whole second on) and answered below 500: the players went on after the failover. */
  answeredAfterWindow: number;
  /** Session records in Redis at the end that no player holds and that could come from a login answered 503 (its record may have been written), or from an abandoned logout (never a logged-out one). */
  orphanSessions: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SoakCheck {
  name: string;
  ok: boolean;
  /** How many violations were seen. */
  violations: number;
  /** What was examined, in numbers. */
  detail: string;
  /** A few violations, described without secrets. */
  examples: string[];
}

/** What the players did and saw (the load phase only). */
export interface PlayerCounts {
  operations: Record<OpKind, number>;
  /** POST /wx/login answered 200. */
  logins: number;
  /** Requests retried with X-WX-Code after WX_SESSION_KEY_EXPIRED and answered 200. */
  refreshes: number;
  /** session_key rotations at the mock, and how many needed more than the next request to repair. */
  rotations: number;
  rotationsRepairedLate: number;
  /** Cluster: rotations repaired by an X-WX-Code retry answered 503 that saved the new session_key anyway (the next request passed the key check). */
  rotationsRepairedUnacknowledged: number;
  /** X-WX-Code retries answered 200 after a 401 WX_SESSION_KEY_EXPIRED that was not a pending rotation's (each such 401 is a statuses violation). */
  unexpectedRefreshes: number;
  /** POST /wx/logout answered 204. */
  logouts: number;
  /** POST /me/score answered 200 with the score sent. */
  writes: number;
  /** GET /me answered 200. */
  reads: number;
  /** Purchases done: POST /me/buy answered 200, or 90012 on a retry (the billNo was paid already). */
  buys: number;
  /** POST /me/buy sent again with the same billNo after a 5xx or no answer. */
  buyRetries: number;
}

/** The purchases at the end: what the players recorded, and what was injected on WeChat's pay. */
export interface PaymentsReport {
  /** Players that bought, each given START_BALANCE at the mock first. */
  players: number;
  /** Distinct billNos sent, those that succeeded, and their amounts. */
  billNos: number;
  paidBillNos: number;
  paidAmount: number;
  /** Retries answered 90012: an earlier attempt had been applied after all. */
  paidByDuplicate: number;
  /** Faults injected on /wxa/game/pay in turn: windows in which every pay answers -1, and pays delayed past the instance's timeout. */
  busyWindows: number;
  timeoutFaults: number;
  /** Buy requests they failed: 502 WX_UPSTREAM_ERROR errcode -1 (three -1s in a row), and 504 WX_UPSTREAM_TIMEOUT. */
  failedBusy: number;
  failedTimeout: number;
  /** The mock's /wxa/game/pay calls, those it answered -1, and those it answered 90012. */
  payCalls: number;
  payBusy: number;
  payDuplicates: number;
  /** Pays a timeout fault left unanswered, sent to the mock again (they land), and how many it applied (the others came after the retry: 90012). */
  payHeld: number;
  payHeldApplied: number;
}

export interface SoakReport {
  ok: boolean;
  config: {
    seconds: number;
    clients: number;
    thinkMs: number;
    mix: Record<OpKind, number>;
    expireTokensEveryMs: number;
    checkInterval: number;
    wechatTimeoutMs: number;
    rampUpMs: number;
    warmUp: { players: number; ms: number };
    redis: Topology;
    /** Cluster: the nodes' ports, their node timeout, and the kill plan. */
    cluster?: { ports: number[]; nodeTimeoutMs: number; killNodeAt: number | false; killNode: KillNode; restartNodeAfter: number | false };
  };
  payments: PaymentsReport;
  /** Cluster only: the master kill, the failover window and the 503s. */
  failover?: FailoverReport;
  /** The load phase only. */
  durationSeconds: number;
  /** HTTP requests to the instances during the load phase (players and the logout checks). */
  requests: number;
  throughput: number;
  latencyMs: { overall: LatencySummary; byOp: Record<string, LatencySummary> };
  /** Requests per instance and answers per status, load phase. */
  perInstance: Record<string, number>;
  statuses: Record<string, number>;
  counts: PlayerCounts & {
    /** Mock side: code2Session redemptions, checksession calls (and their 87009s), stable_token calls. */
    code2Session: number;
    checkSession: number;
    checkSession87009: number;
    stableToken: number;
    /** expireAccessTokens() calls, and distinct access tokens seen. */
    tokenExpiries: number;
    accessTokens: number;
    sessionKeys: number;
    /** Sessions the players hold at the end, and the session records Redis holds. */
    sessionsHeld: number;
    sessionsInRedis: number;
    /** `warn:` lines the instances logged (e.g. a checksession outage, failing open). */
    instanceWarnings: number;
    /** The same, by message. */
    instanceWarningMessages: Record<string, number>;
    /** Bytes searched for secrets. */
    capturedBytes: number;
  };
  /** Event-loop delay of the soak process (the players live there), ms. */
  driverLoopDelayMs: { p50: number; p99: number; max: number };
  /** GET /health on each instance every 250 ms during the load phase: how responsive each process was. */
  healthMs: Record<string, LatencySummary>;
  checks: SoakCheck[];
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { count: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.length ? sorted[sorted.length - 1]! : 0) };
}

export function formatReport(report: SoakReport): string {
  const lines = [`wx-session soak: ${report.ok ? 'PASS' : 'FAIL'}`, ...setupLines(report)];
  if (report.failover) lines.push(...failoverLines(report.failover));
  lines.push(...loadLines(report), ...checkLines(report.checks));
  return lines.join('\n');
}

function setupLines({ config, durationSeconds }: SoakReport): string[] {
  const lines = [
    `  ${config.clients} players, ${durationSeconds} s, mix ${JSON.stringify(config.mix)}, think 0..${config.thinkMs} ms, access tokens expired every ${config.expireTokensEveryMs} ms`,
    `  instances: checkSessionKey every request, WeChat timeout ${config.wechatTimeoutMs} ms; players ramped up over ${config.rampUpMs} ms after a ${config.warmUp.ms} ms warm-up by ${config.warmUp.players} others`,
  ];
  const cluster = config.cluster;
  if (!cluster) lines.push('  redis: one redis-server');
  else {
    const killAt = cluster.killNodeAt === false ? 'never' : `${+cluster.killNodeAt.toFixed(1)} s`;
    const restart = cluster.restartNodeAfter === false ? 'never' : `${cluster.restartNodeAfter} s after the failover`;
    lines.push(`  redis: a Cluster of 3 masters + 3 replicas (node timeout ${cluster.nodeTimeoutMs} ms); kill ${cluster.killNode} master at ${killAt}, restart ${restart}`);
  }
  return lines;
}

/** `0-1 s: n, 1-2 s: m, ...` */
const bySecond = (counts: number[]) => counts.map((n, i) => `${i}-${i + 1} s: ${n}`).join(', ') || 'none';

function failoverLines(f: FailoverReport): string[] {
  if (f.killedAt === undefined) return ['  failover: no master was killed'];
  const s = f.store503;
  const healed = f.healthyAt !== undefined ? ` (+${(f.healthyAt - f.killedAt).toFixed(1)} s)` : '';
  const rejoin = f.restartedAt === undefined ? 'not restarted' : `restarted ${f.restartedAt} s, healthy ${f.rejoinedAt ?? '?'} s, now a ${f.rejoinedAs ?? '?'}`;
  const inWindow = s.inWindow ? ` (sent ${s.first}-${s.last} s, last answered ${s.lastAnswered} s; ${Object.entries(s.byRequest).map(([label, n]) => `${label} ${n}`).join(', ')})` : '';
  return [
    `  masters at the kill: ${f.masters.map((m) => `:${m.port} ${m.sessions} sessions, ${m.subscribers} subscribed conns${m.accessToken ? ', access token' : ''}`).join('; ')}`,
    `  failover: killed :${f.killedPort} at ${f.killedAt} s (${f.why}); healthy again at ${f.healthyAt ?? '?'} s${healed}, :${f.promotedPort ?? '?'} promoted`,
    `  503 window: ${f.killedAt}-${f.windowEnd ?? '?'} s (healthy + ${f.marginMs} ms); rejoin: ${rejoin}`,
    `  503 WX_STORE_UNAVAILABLE: ${s.inWindow} in the window${inWindow}, ${s.outside} outside it`,
    `    by second after the kill (sent; the window closed ${(f.windowEnd! - f.killedAt).toFixed(1)} s after it): ${bySecond(s.bySecondAfterKill)}`,
    `  instance warnings (load phase): ${f.warnings.beforeKill} before the kill; by second after it: ${bySecond(f.warnings.bySecondAfterKill)}`,
    `  after the window: ${f.answeredAfterWindow} requests answered below 500`,
    `  not acknowledged: ${f.logoutsRetried} logouts answered 503 and retried (${f.logoutsAbandoned} never 204); ${f.orphanSessions} session records left by them or by logins answered 503`,
  ];
}

function loadLines(report: SoakReport): string[] {
  const c = report.counts;
  const overall = report.latencyMs.overall;
  const loop = report.driverLoopDelayMs;
  const lines = [
    `  ${report.requests} requests, ${report.throughput} req/s; latency p50 ${overall.p50} ms, p99 ${overall.p99} ms, max ${overall.max} ms`,
    `  per instance ${JSON.stringify(report.perInstance)}; statuses ${JSON.stringify(report.statuses)}`,
    '  latency by request (ms):',
  ];
  for (const [label, summary] of Object.entries(report.latencyMs.byOp)) {
    lines.push(`    ${label.padEnd(26)} n=${String(summary.count).padEnd(8)} p50 ${String(summary.p50).padEnd(7)} p99 ${String(summary.p99).padEnd(7)} max ${summary.max}`);
  }
  const unacknowledged = c.rotationsRepairedUnacknowledged ? `, ${c.rotationsRepairedUnacknowledged} by a retry answered 503` : '';
  lines.push(
    `  counts: ${c.logins} logins, ${c.refreshes} refreshes, ${c.rotations} rotations (${c.rotationsRepairedLate} repaired late${unacknowledged}), ${c.logouts} logouts, ${c.writes} writes, ${c.reads} reads`,
    `  buys: ${c.buys} (${c.buyRetries} retries with the same billNo); ${paymentsLine(report.payments)}`,
    `  mock: ${c.code2Session} code2Session, ${c.checkSession} checksession (${c.checkSession87009} x 87009), ${c.stableToken} stable_token; ${c.tokenExpiries} token expiries, ${c.accessTokens} access tokens, ${c.sessionKeys} session_keys`,
    `  end: ${c.sessionsHeld} sessions held by players, ${c.sessionsInRedis} in Redis; driver event-loop delay p50 ${loop.p50} ms, p99 ${loop.p99} ms, max ${loop.max} ms`,
    `  instance responsiveness (GET /health every 250 ms): ${Object.entries(report.healthMs).map(([name, h]) => `${name} p50 ${h.p50} ms, p99 ${h.p99} ms, max ${h.max} ms`).join('; ')}`,
    `  instance warnings: ${c.instanceWarnings}`,
  );
  for (const [message, count] of Object.entries(c.instanceWarningMessages)) lines.push(`    ${count} x ${message}`);
  return lines;
}

function paymentsLine(p: PaymentsReport): string {
  return `faults on pay: ${p.busyWindows} -1 windows (${p.failedBusy} buys answered 502), ${p.timeoutFaults} unanswered (${p.failedTimeout} buys answered 504; ${p.payHeld} landed, ${p.payHeldApplied} applied); ${p.paidByDuplicate} retries found the billNo paid (90012); mock: ${p.payCalls} pay calls, ${p.payBusy} x -1, ${p.payDuplicates} x 90012`;
}

function checkLines(checks: readonly SoakCheck[]): string[] {
  const lines = ['  checks:'];
  for (const check of checks) {
    lines.push(`    [${check.ok ? 'ok' : 'FAIL'}] ${check.name}${check.ok ? '' : ` - ${check.violations} violation(s)`}`);
    lines.push(`           ${check.detail}`);
    for (const example of check.examples) lines.push(`           e.g. ${example}`);
  }
  return lines;
}
