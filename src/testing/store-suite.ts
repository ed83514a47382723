// A conformance suite for session stores: MemoryStore and RedisStore run it, and so can yours.
// It registers tests with the `describe`/`it` of your runner (mocha, jest, vitest, node:test)
// and asserts with node:assert, so it brings no test framework of its own.
import type { SessionStore } from '../store.js';
import type { Describe, Hook, It, SuiteContext } from './store-suite-kit.js';
import { appTests } from './store-suite-apps.js';
import { concurrentLimitTests, limitTests } from './store-suite-limits.js';
import { expiryTests, recordTests } from './store-suite-records.js';
import { sharedTests, updateTests } from './store-suite-writes.js';

export { sampleId, sampleRecord } from './store-suite-kit.js';

export interface TestStoreOptions {
  /** Defaults to the global `describe` (mocha, jest, vitest); pass node:test's for node:test. */
  describe?: Describe;
  it?: It;
  /** Runs after each test with the store it made (close connections here). */
  cleanup?: (store: SessionStore) => unknown;
  /** Name shown in the report. @default 'SessionStore conformance' */
  title?: string;
  /** Hook runner for cleanup; defaults to the global `afterEach`. */
  afterEach?: Hook;
  /**
   * True when the stores `makeStore` returns share one backend, as two instances of your app do
   * (e.g. two RedisStores on one Redis): then the cross-instance checks run too, e.g. a logout on
   * one is what the other's very next get() sees, even when it had the record cached.
   */
  shared?: boolean;
}

/**
 * Registers the SessionStore conformance tests. `makeStore` is called once per test and may
 * return a promise; stores should start empty or use unique ids (the suite uses random ids).
 *
 * Besides get/set/destroy and TTLs, it holds a store to the promises of SECURITY.md's threat
 * model: `update` (required) writes only while the session exists, a logout stays final under
 * concurrent saves and renewals, `limitSessions` (when offered) keeps the newest `max` live
 * sessions of an openid even under concurrent logins, several apps on one store keep their
 * sessions and tokens apart, and, with `shared: true` (every store made shares one backend), a
 * change on one instance is what the other's very next read sees, even when it had the record
 * cached.
 *
 * ```ts
 * import { testStore } from 'wx-session/testing';
 * describe('my store', () => testStore(() => new MyStore(db), { shared: true, cleanup: (s) => (s as MyStore).close() }));
 * ```
 */
export function testStore(makeStore: () => SessionStore | Promise<SessionStore>, options: TestStoreOptions = {}): void {
  const g = globalThis as unknown as { describe?: Describe; it?: It; afterEach?: Hook };
  const describe = options.describe ?? g.describe;
  const it = options.it ?? g.it;
  const afterEach = options.afterEach ?? g.afterEach;
  if (typeof describe !== 'function' || typeof it !== 'function') {
    throw new TypeError('wx-session/testing: testStore needs describe/it (pass them in the options outside mocha/jest/vitest)');
  }
  const made: SessionStore[] = [];
  const store = async () => {
    const s = await makeStore();
    made.push(s);
    return s;
  };
  const ctx: SuiteContext = { it, store, shared: options.shared === true };

  describe(options.title ?? 'SessionStore conformance', () => {
    if (options.cleanup && typeof afterEach === 'function') {
      afterEach(async () => {
        for (const s of made.splice(0)) await options.cleanup!(s);
      });
    }
    recordTests(ctx);
    expiryTests(ctx);
    updateTests(ctx);
    limitTests(ctx);
    concurrentLimitTests(ctx);
    appTests(ctx);
    if (ctx.shared) sharedTests(ctx);
  });
}
