// `npm run bench`: throughput, memory and upstream-call benchmarks of wx-session.
//
//   node --import tsx bench/run.ts
//
// The orchestrator (this process) hosts the mock WeChat, starts a private redis-server, one
// server child per variant (bench/server.ts, the apps in bench/apps-*.ts) and the load generator
// child (bench/load.ts, autocannon); bench/children.ts starts them. Each round runs every variant
// once, in an order rotated by one per round; the report gives medians across rounds with min/max,
// and the ratio of each variant to its baseline (a wx-session variant's is its framework's floor)
// and to the variants in its `also` computed per round (same round, neighbouring runs) and then
// its median, with the server CPU per request over the baseline (bench/stats.ts). Then bench/heap.ts and bench/upstream.ts run as children. A table is
// printed and written to bench/results.md (bench/report.ts). A missed target gets a CPU profile of
// that variant (bench/profile.ts, see BENCH_PROFILE).
//
// Env: BENCH_ROUNDS (5), BENCH_DURATION (3 s per run), BENCH_WARMUP (2 s per variant, once),
// BENCH_CONNECTIONS (50), BENCH_VARIANTS (comma list, default all but the diagnostics),
// BENCH_EXTRA (1: add the diagnostic variants), BENCH_PROFILE
// (auto: profile the variants that missed their target | always | off), BENCH_PROFILE_DURATION
// (6 s), BENCH_RESULTS (output file, default bench/results.md). See bench/settings.ts.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { startMockWeChat as StartMockWeChat } from '../src/testing/index.js';
import { runScript, startLoad, startRedis, startServer, type ServerHandle, type Upstreams } from './children.js';
import type { HeapResult } from './heap.js';
import { CodePool, runVariant, type Rig, type Sample } from './measure.js';
import { profileReport, profileVariant, type Profile } from './profile.js';
import { printResults, writeResults, type Results } from './report.js';
import { CONNECTIONS, DURATION, here, LIB_DIR, PAUSE_MS, PIPELINING, PROFILE, PROFILE_DURATION, ROUNDS, root, selectedVariants, WARMUP, type VariantSpec } from './settings.js';
import { comparisons, fmt, summarize, verdicts, type Verdict } from './stats.js';
import type { UpstreamResult } from './upstream.js';

// ---------------------------------------------------------------------------------------------
// On the way out, however that comes: close the mock, stop the children and redis-server (whose
// temp dir goes with it). A child left over is SIGKILLed when this process exits (harness/process.ts).

const cleanups: Array<() => Promise<unknown> | unknown> = [];
let cleaningUp: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // keep going: everything else must still be stopped
      }
    }
  })();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every child...\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Setting up: the library as users run it, the mock, Redis, the load child, the servers

/**
 * The tsc output of src/ and adapters/ (tsconfig.build.json), compiled into bench/.tmp/lib on
 * every run, so it is never stale and the shared dist/ is left alone.
 */
function buildLibrary(): void {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  rmSync(LIB_DIR, { recursive: true, force: true });
  const built = spawnSync(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', LIB_DIR, '--declaration', 'false', '--sourceMap', 'false', '--inlineSources', 'false'],
    { cwd: root, encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${built.stdout}${built.stderr}`);
}

interface Setup {
  specs: VariantSpec[];
  upstreams: Upstreams;
  rig: Rig;
  redisVersion: string;
}

async function setUp(notes: string[]): Promise<Setup> {
  console.log('bench: compiling src/ and adapters/ with tsc into bench/.tmp/lib ...');
  buildLibrary();
  const { startMockWeChat } = (await import(pathToFileURL(join(LIB_DIR, 'src', 'testing', 'index.js')).href)) as { startMockWeChat: typeof StartMockWeChat };
  const mock = await startMockWeChat({ codeTtl: 6 * 3600_000 });
  cleanups.push(() => mock.close());

  let specs = selectedVariants();
  const upstreams: Upstreams = { mock };
  let redisVersion = 'not run';
  let redisPid: number | undefined;
  if (specs.some((s) => s.needsRedis)) {
    const started = await startRedis();
    if ('missing' in started) {
      notes.push(`**${started.missing}.**`);
      console.warn(`\n  !!! ${started.missing}\n`);
      specs = specs.filter((s) => !s.needsRedis);
    } else {
      cleanups.push(() => started.redis.stop());
      upstreams.redisUrl = started.url;
      redisVersion = started.version;
      redisPid = started.redis.pid;
    }
  }

  console.log(`bench: ${specs.length} variants, ${ROUNDS} rounds x ${DURATION} s, warmup ${WARMUP} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}`);
  const load = await startLoad();
  cleanups.push(() => load.child.stop());
  return { specs, upstreams, rig: { mock, load, pool: new CodePool(mock), redisPid }, redisVersion };
}

/** Starts the servers two at a time (2 cores), then checks that the GET /me answers are the same bytes. */
async function startServers({ specs, upstreams }: Setup, notes: string[]): Promise<{ servers: Map<string, ServerHandle>; sampleBody?: string }> {
  const servers = new Map<string, ServerHandle>();
  cleanups.push(() => Promise.all([...servers.values()].map((s) => s.child.stop())));
  for (let i = 0; i < specs.length; i += 2) {
    const batch = await Promise.all(specs.slice(i, i + 2).map((spec) => startServer(spec, upstreams)));
    for (const server of batch) servers.set(server.spec.name, server);
  }
  const bodies = [...servers.values()].filter((s) => s.body !== undefined);
  if (new Set(bodies.map((s) => s.body)).size > 1) {
    const note = `GET /me answers differ: ${bodies.map((s) => `${s.spec.name} ${JSON.stringify(s.body)}`).join(', ')}.`;
    notes.push(note);
    console.warn(`  ! ${note}`);
  }
  return { servers, sampleBody: bodies[0]?.body };
}

// ---------------------------------------------------------------------------------------------
// Measuring

async function warmUp(specs: VariantSpec[], servers: Map<string, ServerHandle>, rig: Rig): Promise<void> {
  if (WARMUP <= 0) return;
  process.stdout.write('warmup:');
  for (const spec of specs) {
    await runVariant(servers.get(spec.name)!, rig, WARMUP, 0);
    process.stdout.write(` ${spec.name}`);
    await sleep(PAUSE_MS);
  }
  process.stdout.write('\n');
}

/** Every variant once per round, the order rotated by one each round. */
async function runRounds(specs: VariantSpec[], servers: Map<string, ServerHandle>, rig: Rig): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const shift = (round - 1) % specs.length;
    const order = [...specs.slice(shift), ...specs.slice(0, shift)];
    const line: string[] = [];
    for (const spec of order) {
      const sample = await runVariant(servers.get(spec.name)!, rig, DURATION, round);
      samples.push(sample);
      line.push(`${spec.name} ${fmt(sample.rps)}`);
      if (sample.non2xx || sample.errors || sample.codesExhausted) {
        console.warn(`  ! ${spec.name} round ${round}: ${sample.non2xx} non-2xx, ${sample.errors} errors${sample.codesExhausted ? ', login codes ran out' : ''}`);
      }
      await sleep(PAUSE_MS);
    }
    console.log(`round ${round}/${ROUNDS}: ${line.join(' | ')}`);
  }
  return samples;
}

/** Profiles each variant that missed its target (or every targeted one), with its baseline; returns the report's "Profiles". */
async function profileVariants({ specs, upstreams, rig }: Setup, targets: Verdict[], notes: string[]): Promise<string[]> {
  const missed = (s: VariantSpec) => targets.some((v) => v.variant === s.name && !v.met);
  const toProfile = PROFILE === 'off' ? [] : specs.filter((s) => (PROFILE === 'always' ? s.target !== undefined : missed(s)));
  const profiles = new Map<string, Profile>();
  const reports: string[] = [];
  for (const spec of toProfile) {
    try {
      for (const name of [spec.baseline, spec.name]) {
        const target = specs.find((s) => s.name === name);
        if (!target || profiles.has(target.name)) continue;
        console.log(`profiling ${target.name} (${PROFILE_DURATION} s under load, V8 CPU profiler)...`);
        profiles.set(target.name, await profileVariant(target, upstreams, rig));
      }
      const report = profileReport(profiles.get(spec.name)!, spec.baseline ? profiles.get(spec.baseline) : undefined);
      reports.push(...report.md);
      const verdict = targets.find((v) => v.variant === spec.name);
      if (verdict && !verdict.met) verdict.note += `; ${report.gist} (see "Profiles")`;
    } catch (error) {
      notes.push(`Profiling ${spec.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return reports;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAvgAtStart = os.loadavg();
  const notes: string[] = [];
  const setup = await setUp(notes);
  const { specs, rig } = setup;
  const { servers, sampleBody } = await startServers(setup, notes);
  await warmUp(specs, servers, rig);
  const samples = await runRounds(specs, servers, rig);

  // The servers are no longer needed (profiles start their own); free the cores for heap/upstream.
  await Promise.all([...servers.values()].map((s) => s.child.stop()));
  console.log('heap: node --expose-gc --import tsx bench/heap.ts');
  const heap = (await runScript(['--expose-gc', '--import', 'tsx', join(here, 'heap.ts')])) as HeapResult;
  console.log('upstream: node --import tsx bench/upstream.ts');
  const upstream = (await runScript(['--import', 'tsx', join(here, 'upstream.ts')])) as UpstreamResult;

  const perVariant = specs.map((spec) => summarize(spec, samples));
  const targets = verdicts(perVariant, heap);
  const profileReports = await profileVariants(setup, targets, notes);
  const results: Results = {
    started,
    loadAvgAtStart,
    redisVersion: setup.redisVersion,
    specs,
    samples,
    perVariant,
    comparisons: comparisons(specs, samples),
    verdicts: targets,
    sampleBody,
    heap,
    upstream,
    notes,
    profileReports,
  };
  writeResults(results);
  printResults(results);
}

main()
  .then(
    () => cleanup(),
    async (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      await cleanup();
      process.exitCode = 1;
    },
  )
  .finally(() => {
    // Nothing of ours is left; do not wait for stray handles (keep-alive sockets of fetch).
    setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  });
