// How the property tests (test/properties-*.test.ts) run: cases per property, which adapters,
// fast-check's seed, and the apps they fuzz.
//
// `npm test` runs 100 cases per property and adapter. The big run: `npm run test:fuzz` (10,000
// cases), or `FUZZ_RUNS=10000 npx mocha 'test/properties-*.test.ts'`; FUZZ_ADAPTERS=express5,koa3
// limits it to some adapters. fast-check picks a seed and prints it with the counterexample;
// replay a failure with `FUZZ_SEED=<seed> FUZZ_PATH=<path> npx mocha test/properties-<file>.test.ts`.
import fc from 'fast-check';
import type { MemoryStore, WxSessionOptions } from '../../src/index.js';
import type { MockWeChat } from '../../src/testing/index.js';
import { adapters, startApp, type AdapterName, type TestApp } from '../../harness/apps.js';

export const RUNS = Number(process.env.FUZZ_RUNS) || 100;
export const BIG = RUNS >= 1000;
/** Mocha's limit per property: generous, the 10k run takes minutes. */
export const TEST_TIMEOUT = Math.max(60_000, RUNS * 60);

/** Every adapter, or those named in FUZZ_ADAPTERS (e.g. `express5,koa3`) to shorten a big run. */
export const ADAPTERS: readonly AdapterName[] = (() => {
  const wanted = process.env.FUZZ_ADAPTERS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted?.length) return adapters;
  const unknown = wanted.filter((w) => !(adapters as readonly string[]).includes(w));
  if (unknown.length > 0) throw new Error(`FUZZ_ADAPTERS: unknown adapter(s) ${unknown.join(', ')}; known: ${adapters.join(', ')}`);
  return adapters.filter((a) => wanted.includes(a));
})();

/** fast-check parameters: a fixed seed only when FUZZ_SEED is set (FUZZ_PATH replays one case). */
export function params<T>(numRuns = RUNS): fc.Parameters<T> {
  const p: fc.Parameters<T> = { numRuns };
  if (process.env.FUZZ_SEED !== undefined) p.seed = Number(process.env.FUZZ_SEED);
  if (process.env.FUZZ_PATH !== undefined) p.path = process.env.FUZZ_PATH;
  return p;
}

export interface FuzzAppOptions {
  store?: MemoryStore;
  /** Share this mock WeChat (not closed with the app) instead of starting one. */
  mock?: MockWeChat;
  /** Put the framework's JSON body parser in front of wx-session. */
  bodyParser?: boolean;
  /** Session lifetime in seconds (the package's default when absent). */
  ttl?: number;
}

/** A test app for fuzzing: WeChat's timeout raised so a busy machine cannot turn a slow mock into a 504. */
export async function startFuzzApp(name: AdapterName, options: FuzzAppOptions = {}): Promise<TestApp> {
  const core: Partial<WxSessionOptions> = { timeout: 10_000 };
  if (options.store) core.store = options.store;
  if (options.ttl !== undefined) core.ttl = options.ttl;
  const start = () => startApp(name, { core, mock: options.mock, bodyParser: options.bodyParser });
  if (!options.bodyParser) return start();
  // Express logs every error its parser raises unless its env is 'test' (read when the app is made).
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = 'test';
  try {
    return await start();
  } finally {
    if (env === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = env;
  }
}
