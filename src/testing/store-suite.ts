// A conformance suite for session stores: MemoryStore and RedisStore run it, and so can yours.
// It registers tests with the `describe`/`it` of your runner (mocha, jest, vitest, node:test)
// and asserts with node:assert, so it brings no test framework of its own.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionRecord, SessionStore } from '../store.js';

// As narrow as every runner accepts: mocha, jest, vitest and node:test all take these.
type Body = () => Promise<void>;
type Describe = (title: string, body: () => void) => unknown;
type It = (title: string, body: Body) => unknown;
type Hook = (body: Body) => unknown;

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
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A session id shaped like the core's: 32 random bytes, base64url. */
export function sampleId(): string {
  return randomBytes(32).toString('base64url');
}

/** A record as the core writes it, expiring `ttlMs` from now. */
export function sampleRecord(ttlMs = 60_000, extra: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    openid: `oTest${randomBytes(9).toString('base64url')}`,
    sessionKey: randomBytes(16).toString('base64'),
    data: {},
    createdAt: now,
    expiresAt: now + ttlMs,
    keyCheckedAt: now,
    ...extra,
  };
}

/**
 * Registers the SessionStore conformance tests. `makeStore` is called once per test and may
 * return a promise; stores should start empty or use unique ids (the suite uses random ids).
 *
 * ```ts
 * import { testStore } from 'wx-session/testing';
 * describe('my store', () => testStore(() => new MyStore(), { cleanup: (s) => (s as MyStore).close() }));
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

  describe(options.title ?? 'SessionStore conformance', () => {
    if (options.cleanup && typeof afterEach === 'function') {
      afterEach(async () => {
        for (const s of made.splice(0)) await options.cleanup!(s);
      });
    }

    it('get: an unknown id is undefined', async () => {
      strictEqual(await (await store()).get(sampleId()), undefined);
    });

    it('set then get returns the same record', async () => {
      const s = await store();
      const id = sampleId();
      const record = sampleRecord(60_000, {
        unionid: 'uTest',
        data: { coins: 3, nested: { list: [1, 'two', null, { deep: true }], empty: [], obj: {} }, text: '中文 ✓ "quoted" \\ \n' },
        userInfo: { nickName: 'Band', watermark: { appid: 'wx1', timestamp: 1477314187 } },
      });
      await s.set(id, record, 60_000);
      deepStrictEqual(await s.get(id), record);
    });

    it('keeps optional fields absent and flags as they are', async () => {
      const s = await store();
      const plain = sampleRecord();
      const stale = sampleRecord(60_000, { keyStale: true });
      const [a, b] = [sampleId(), sampleId()];
      await s.set(a, plain, 60_000);
      await s.set(b, stale, 60_000);
      const gotPlain = await s.get(a);
      ok(gotPlain && !('unionid' in gotPlain) && !('userInfo' in gotPlain) && !('keyStale' in gotPlain), 'absent fields stay absent');
      strictEqual((await s.get(b))?.keyStale, true);
    });

    it('set replaces the record', async () => {
      const s = await store();
      const id = sampleId();
      const first = sampleRecord();
      await s.set(id, first, 60_000);
      const second = { ...first, data: { coins: 9 }, sessionKey: randomBytes(16).toString('base64') };
      await s.set(id, second, 60_000);
      deepStrictEqual(await s.get(id), second);
    });

    it('ids are independent', async () => {
      const s = await store();
      const ids = Array.from({ length: 20 }, sampleId);
      const records = ids.map(() => sampleRecord());
      await Promise.all(ids.map((id, i) => s.set(id, records[i]!, 60_000)));
      const got = await Promise.all(ids.map((id) => s.get(id)));
      deepStrictEqual(got, records);
    });

    it('destroy forgets the record; destroying an unknown id is fine', async () => {
      const s = await store();
      const id = sampleId();
      await s.set(id, sampleRecord(), 60_000);
      await s.destroy(id);
      strictEqual(await s.get(id), undefined);
      await s.destroy(sampleId());
    });

    it('peek (when implemented) never answers a record that is not there', async () => {
      const s = await store();
      if (!s.peek) return;
      const id = sampleId();
      const record = sampleRecord();
      ok(s.peek(id) == null, 'unknown id: null or undefined');
      await s.set(id, record, 60_000);
      const seen = s.peek(id);
      ok(seen === undefined || (seen !== null && seen.openid === record.openid), 'after set: the record, or undefined (cannot tell)');
      await s.destroy(id);
      ok(s.peek(id) == null, 'after destroy: null or undefined');
    });

    it('honours the TTL given to set', async () => {
      const s = await store();
      const id = sampleId();
      await s.set(id, sampleRecord(150), 150);
      ok(await s.get(id), 'present before the TTL');
      await sleep(400);
      strictEqual(await s.get(id), undefined);
    });

    it('touch (when implemented) extends both the TTL and expiresAt', async () => {
      const s = await store();
      if (!s.touch) return;
      const id = sampleId();
      const record = sampleRecord(200);
      await s.set(id, record, 200);
      const before = Date.now();
      await s.touch(id, 5_000);
      await sleep(400);
      const got = await s.get(id);
      ok(got, 'still present after the original TTL');
      ok(got.expiresAt >= before + 5_000 && got.expiresAt <= Date.now() + 5_000, `expiresAt moved to now + ttl (got ${got.expiresAt - before} ms ahead)`);
      deepStrictEqual({ ...got, expiresAt: 0 }, { ...record, expiresAt: 0 });
    });

    it('touch (when implemented) of an unknown id creates nothing', async () => {
      const s = await store();
      if (!s.touch) return;
      const id = sampleId();
      await s.touch(id, 5_000);
      strictEqual(await s.get(id), undefined);
    });
  });
}
