// `npm run soak`: the soak test of soak/soak.ts for minutes; prints a readable report, then the
// report as JSON, and exits 1 when any check failed (2 when the soak could not run, 130 on Ctrl-C).
//
//   SOAK_SECONDS=180 SOAK_CLIENTS=200 npm run soak
//
// Env: SOAK_SECONDS (180), SOAK_CLIENTS (200), SOAK_THINK_MS (10: each player pauses 0..this
// between operations), SOAK_EXPIRE_TOKENS_MS (a fifth of the run: how often the mock expires
// every access token).
import { formatReport, runSoak } from './soak.js';

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    console.error(`soak: ${name} must be a number >= ${min}, got ${raw}`);
    process.exit(2);
  }
  return value;
}

const seconds = envNumber('SOAK_SECONDS', 180, 1);
const clients = Math.round(envNumber('SOAK_CLIENTS', 200, 1));
const thinkMs = envNumber('SOAK_THINK_MS', 10, 0);
const expireTokensEveryMs = process.env.SOAK_EXPIRE_TOKENS_MS ? envNumber('SOAK_EXPIRE_TOKENS_MS', 0, 100) : undefined;

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

try {
  const report = await runSoak({
    seconds,
    clients,
    thinkMs,
    ...(expireTokensEveryMs !== undefined ? { expireTokensEveryMs } : {}),
    log: (line) => console.error(line),
    signal: stop.signal,
  });
  console.log(formatReport(report));
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  if (stop.signal.aborted) {
    process.exitCode = 130;
  } else {
    console.error('soak: could not run:', error);
    process.exitCode = 2;
  }
}
