// `npm run soak`: the soak test of soak/soak.ts for minutes; prints a readable report per phase,
// then the report(s) as JSON, and exits 1 when any check failed (2 when the soak could not run,
// 130 on Ctrl-C).
//
//   SOAK_SECONDS=180 SOAK_CLIENTS=200 npm run soak
//
// Env: SOAK_SECONDS (180), SOAK_CLIENTS (200), SOAK_THINK_MS (10: each player pauses 0..this
// between operations), SOAK_EXPIRE_TOKENS_MS (a fifth of each phase: how often the mock expires
// every access token), SOAK_REDIS (both: a phase on one redis-server, then a phase on a Redis
// Cluster with a master killed mid-run, SOAK_SECONDS split between them; single or cluster: that
// phase only, for all of SOAK_SECONDS), SOAK_KILL_AT (seconds into the cluster phase: a third of
// it; 'never' for no kill), SOAK_KILL_NODE (most-sessions | access-token), SOAK_RESTART_AFTER
// (seconds after the failover window closed before the killed node is restarted: 2; 'never').
import type { SoakOptions } from './config.js';
import { formatReport, type SoakReport } from './report.js';
import { runSoak } from './soak.js';

function fail(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) fail(`${name} must be a number >= ${min}, got ${raw}`);
  return value;
}

/** A number of seconds, 'never' (false), or undefined when unset (runSoak's default). */
function envSecondsOrNever(name: string): number | false | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'never') return false;
  return envNumber(name, 0, 0);
}

const seconds = envNumber('SOAK_SECONDS', 180, 1);
const clients = Math.round(envNumber('SOAK_CLIENTS', 200, 1));
const thinkMs = envNumber('SOAK_THINK_MS', 10, 0);
const expireTokensEveryMs = process.env.SOAK_EXPIRE_TOKENS_MS ? envNumber('SOAK_EXPIRE_TOKENS_MS', 0, 100) : undefined;
const topology = process.env.SOAK_REDIS || 'both';
if (topology !== 'single' && topology !== 'cluster' && topology !== 'both') fail(`SOAK_REDIS must be single, cluster or both, got ${topology}`);
const killNodeAt = envSecondsOrNever('SOAK_KILL_AT');
const killNode = process.env.SOAK_KILL_NODE || undefined;
if (killNode !== undefined && killNode !== 'most-sessions' && killNode !== 'access-token') fail(`SOAK_KILL_NODE must be most-sessions or access-token, got ${killNode}`);
const restartNodeAfter = envSecondsOrNever('SOAK_RESTART_AFTER');

// Both: the single phase first, then the cluster phase with the rest of the time.
const phases: { redis: 'single' | 'cluster'; seconds: number }[] =
  topology === 'both'
    ? [
        { redis: 'single', seconds: Math.max(1, Math.round(seconds / 2)) },
        { redis: 'cluster', seconds: Math.max(1, seconds - Math.round(seconds / 2)) },
      ]
    : [{ redis: topology, seconds }];

// Ctrl-C (or SIGTERM) stops the players and runSoak's cleanup stops the instances and Redis.
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}, stopping`);
    stop.abort();
    // A second signal, or cleanup that hangs, ends it anyway (the exit hooks kill the children).
    setTimeout(() => process.exit(130), 10_000).unref();
    process.once(signal, () => process.exit(130));
  });
}

const reports: Partial<Record<'single' | 'cluster', SoakReport>> = {};
try {
  for (const phase of phases) {
    console.error(`soak: phase ${phase.redis}, ${phase.seconds} s`);
    const options: SoakOptions = {
      seconds: phase.seconds,
      clients,
      thinkMs,
      redis: phase.redis,
      ...(expireTokensEveryMs !== undefined ? { expireTokensEveryMs } : {}),
      ...(phase.redis === 'cluster' && killNodeAt !== undefined ? { killNodeAt } : {}),
      ...(phase.redis === 'cluster' && killNode !== undefined ? { killNode } : {}),
      ...(phase.redis === 'cluster' && restartNodeAfter !== undefined ? { restartNodeAfter } : {}),
      log: (line) => console.error(line),
      signal: stop.signal,
    };
    const report = await runSoak(options);
    reports[phase.redis] = report;
    console.log(`== phase: ${phase.redis === 'single' ? 'one redis-server' : 'Redis Cluster, a master killed mid-run'}`);
    console.log(formatReport(report));
    console.log();
  }
  const all = Object.values(reports);
  const ok = all.every((report) => report.ok);
  if (phases.length > 1) console.log(`wx-session soak, both phases: ${ok ? 'PASS' : 'FAIL'} (${phases.map((phase) => `${phase.redis} ${reports[phase.redis]!.ok ? 'PASS' : 'FAIL'}`).join(', ')})`);
  // One phase: its report as it always was; both: { ok, single, cluster }.
  console.log(JSON.stringify(phases.length > 1 ? { ok, ...reports } : all[0], null, 2));
  process.exitCode = ok ? 0 : 1;
} catch (error) {
  if (stop.signal.aborted) {
    process.exitCode = 130;
  } else {
    console.error('soak: could not run:', error);
    // What the phases before it found still counts.
    for (const report of Object.values(reports)) console.log(JSON.stringify(report, null, 2));
    process.exitCode = 2;
  }
}
