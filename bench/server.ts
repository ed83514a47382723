// One benchmark server: `VARIANT=<name> node --import tsx bench/server.ts`. Started by
// bench/children.ts, one child process per variant. It builds the variant's app (bench/apps-*.ts),
// listens on a free port of 127.0.0.1, prepares what its requests need (a wx-session or floor
// token, a session cookie), checks GET /me once, and prints one line:
//   {"ready":true,"port":N,"token"?:"...","cookie"?:"...","body":"<the /me answer>"}
// It exits when its stdin closes (the orchestrator went away, however it died) or on SIGTERM.
// With BENCH_PROFILE_FILE set, SIGUSR2 starts and stops a CPU profile (profileOnSignal).
//
// Environment: VARIANT; MOCK_URL, APP_ID, APP_SECRET (the mock WeChat, for every wx-* and login
// variant); LOGIN_CODE (a code issued by the orchestrator, for the wx-* GET variants);
// BENCH_LIB_DIR (the compiled library, see bench/apps-shared.ts); REDIS_URL (the wx-*-redis
// variants); OPENID (what the bare, floor and cookie variants answer); BENCH_PROFILE_FILE (where a
// SIGUSR2-started CPU profile is written).
import type { AddressInfo } from 'node:net';
import { expressBuilders } from './apps-express.js';
import { frameworkBuilders } from './apps-frameworks.js';
import { honoBuilders } from './apps-hono.js';
import { koaBuilders } from './apps-koa.js';
import { loginBuilders } from './apps-login.js';
import { benchDeps, type Builders, type Built } from './apps-shared.js';

const env = process.env;
const variant = env.VARIANT ?? '';

/** Every variant bench/settings.ts names, by name. */
async function build(): Promise<Built> {
  const deps = await benchDeps(env, variant);
  const builders: Builders = { ...frameworkBuilders(deps), ...expressBuilders(deps), ...koaBuilders(deps), ...honoBuilders(deps), ...loginBuilders(deps) };
  if (!Object.hasOwn(builders, variant)) throw new Error(`bench/server: unknown VARIANT ${variant} (one of ${Object.keys(builders).join(', ')})`);
  return builders[variant]!();
}

/** Closes the server (and the store) on SIGTERM, SIGINT or when stdin closes, then exits. */
function exitWhenTold({ server, close }: Built): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close();
    const done = () => process.exit(0);
    (close ? close() : Promise.resolve()).then(done, done);
    setTimeout(done, 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

/**
 * Profiling on demand (bench/profile.ts): SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2
 * stops it and writes `file`, so the profile covers the measured load only (no start-up). A line
 * `{"profiling":true}`, then `{"profiled":boolean}`, says each is done.
 */
async function profileOnSignal(file: string): Promise<void> {
  const inspector = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new inspector.Session();
  session.connect();
  let profiling = false;
  process.on('SIGUSR2', () => {
    if (!profiling) {
      profiling = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: 200 }, () =>
          session.post('Profiler.start', () => process.stdout.write('{"profiling":true}\n')),
        ),
      );
    } else {
      profiling = false;
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
        process.stdout.write(`${JSON.stringify({ profiled: !error })}\n`);
      });
    }
  });
}

/** GET /me as the load will send it: it must answer 200; its body is compared across variants. */
async function checkMe(base: string, extra: { token?: string; cookie?: string }): Promise<string> {
  const headers: Record<string, string> = {};
  if (extra.token) headers['x-wx-session'] = extra.token;
  if (extra.cookie) headers.cookie = extra.cookie;
  const res = await fetch(`${base}/me`, { headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /me answered ${res.status} ${body}`);
  return body;
}

async function main(): Promise<void> {
  const built = await build();
  const { server } = built;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  const extra = await built.prepare(base);
  const body = variant.endsWith('-login') ? undefined : await checkMe(base, extra);

  exitWhenTold(built);
  if (env.BENCH_PROFILE_FILE) await profileOnSignal(env.BENCH_PROFILE_FILE);
  process.stdout.write(`${JSON.stringify({ ready: true, variant, port, ...extra, body })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/server ${variant}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
