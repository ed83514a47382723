// A conformance suite for session stores: MemoryStore and RedisStore run it, and so can yours.
// It registers tests with the `describe`/`it` of your runner (mocha, jest, vitest, node:test)
// and asserts with node:assert, so it brings no test framework of its own.
import { deepStrictEqual, fail, ok, strictEqual } from 'node:assert/strict';
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
  /**
   * True when the stores `makeStore` returns share one backend, as two instances of your app do
   * (e.g. two RedisStores on one Redis): then the cross-instance checks run too, e.g. a logout on
   * one is what the other's very next get() sees, even when it had the record cached.
   */
  shared?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Fails (with what to do) when the store cannot update only an existing session. */
function requireUpdate(store: SessionStore): asserts store is SessionStore & { update: NonNullable<SessionStore['update']> } {
  if (typeof store.update !== 'function') {
    fail(
      'this store has no update(id, record, ttlMs): implement it. It must replace the record only while the id still exists, in one step ' +
        '(Redis SET ... XX, SQL UPDATE ... WHERE id = ?), and resolve whether it wrote; without it a save that races a logout brings the session back.',
    );
  }
}

/** A session id shaped like the core's: 32 random bytes, base64url. */
export function sampleId(): string {
  return randomBytes(32).toString('base64url');
}

/** A record as the core writes it, expiring `ttlMs` from now. */
export function sampleRecord(ttlMs = 60_000, extra: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    appId: 'wxTestAppId00000',
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
 * Besides get/set/destroy and TTLs, it holds a store to the promises of DESIGN.md §8: `update`
 * (required) writes only while the session exists, a logout stays final under concurrent saves and
 * renewals, `limitSessions` (when offered) keeps the newest `max` live sessions of an openid even
 * under concurrent logins, and, with `shared: true` (every store made shares one backend), a change
 * on one instance is what the other's very next read sees, even when it had the record cached.
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

    it('touch (when implemented) of a destroyed session creates nothing', async () => {
      const s = await store();
      if (!s.touch) return;
      const id = sampleId();
      await s.set(id, sampleRecord(), 60_000);
      await s.destroy(id);
      await s.touch(id, 5_000);
      strictEqual(await s.get(id), undefined);
    });

    it('update writes only while the session exists, and resolves whether it wrote', async () => {
      const s = await store();
      requireUpdate(s);
      const id = sampleId();
      const record = sampleRecord();
      strictEqual(await s.update(id, record, 60_000), false, 'update of an unknown id resolves false');
      strictEqual(await s.get(id), undefined, 'update of an unknown id creates nothing');
      await s.set(id, record, 60_000);
      const second = { ...record, data: { coins: 2 }, keyStale: true };
      strictEqual(await s.update(id, second, 60_000), true, 'update of an existing session resolves true');
      deepStrictEqual(await s.get(id), second);
      await s.destroy(id);
      strictEqual(await s.update(id, { ...second, data: { coins: 3 } }, 60_000), false, 'update after destroy resolves false');
      strictEqual(await s.get(id), undefined, 'update after destroy brings nothing back');
    });

    it('update honours the TTL it is given', async () => {
      const s = await store();
      requireUpdate(s);
      const id = sampleId();
      const record = sampleRecord();
      await s.set(id, record, 60_000);
      ok(await s.update(id, { ...record, expiresAt: Date.now() + 150 }, 150));
      ok(await s.get(id), 'present before the TTL');
      await sleep(400);
      strictEqual(await s.get(id), undefined);
    });

    it('a logout is final under concurrent saves and renewals (many rounds)', async () => {
      // A save or renewal in flight when the logout lands must neither write the session back
      // nor leave a copy in a cache.
      const a = await store();
      const b = options.shared ? await store() : a;
      requireUpdate(a);
      requireUpdate(b);
      const resurrected: number[] = [];
      for (let round = 0; round < 40; round++) {
        const id = sampleId();
        const record = sampleRecord();
        await a.set(id, record, 60_000);
        await b.get(id);
        await b.get(id); // cached now, where the store caches
        const at = (ms: number, op: () => Promise<unknown>) => sleep(ms).then(op);
        const jitter = () => (round % 4 === 0 ? 0 : Math.floor(Math.random() * 3));
        const ops: Array<Promise<unknown>> = [];
        for (let i = 0; i < 4; i++) {
          ops.push(at(jitter(), () => b.update!(id, { ...record, data: { round, i } }, 60_000)));
          if (b.touch) ops.push(at(jitter(), () => b.touch!(id, 60_000)));
        }
        ops.splice(round % ops.length, 0, at(jitter(), () => a.destroy(id)));
        ops.push(at(jitter(), () => b.update!(id, { ...record, data: { late: true } }, 60_000)));
        await Promise.all(ops);
        if ((await a.get(id)) !== undefined || (await b.get(id)) !== undefined) resurrected.push(round);
      }
      deepStrictEqual(resurrected, [], 'rounds in which the destroyed session was back after every save settled');
    });

    it('limitSessions (when implemented) keeps the newest max of one openid, destroys the oldest, and resolves how many', async () => {
      const s = await store();
      if (!s.limitSessions) return;
      const openid = `oCap${randomBytes(6).toString('base64url')}`;
      const now = Date.now();
      const ids = Array.from({ length: 5 }, sampleId);
      for (const [i, id] of ids.entries()) await s.set(id, sampleRecord(60_000, { openid, createdAt: now - 5000 + i * 1000 }), 60_000);
      const other = sampleId();
      await s.set(other, sampleRecord(60_000, { createdAt: now - 60_000 }), 60_000);
      strictEqual(await s.limitSessions(openid, 3), 2, 'destroyed the two oldest');
      const left = await Promise.all(ids.map((id) => s.get(id)));
      deepStrictEqual(
        left.map((record) => record !== undefined),
        [false, false, true, true, true],
        'the newest three are kept',
      );
      ok(await s.get(other), "another user's session is never touched");
      strictEqual(await s.limitSessions(openid, 3), 0, 'within the cap: nothing to destroy');
      strictEqual(await s.limitSessions(`oNobody${randomBytes(6).toString('base64url')}`, 3), 0, 'an unknown openid');
    });

    it('limitSessions (when implemented) counts only live sessions, and sessions changed by update and touch still count', async () => {
      const s = await store();
      if (!s.limitSessions) return;
      const openid = `oLive${randomBytes(6).toString('base64url')}`;
      const now = Date.now();
      const [expiring, destroyed, updated, touched, newest] = Array.from({ length: 5 }, sampleId) as [string, string, string, string, string];
      await s.set(expiring, sampleRecord(150, { openid, createdAt: now - 5000 }), 150);
      await s.set(destroyed, sampleRecord(60_000, { openid, createdAt: now - 4000 }), 60_000);
      const updatedRecord = sampleRecord(60_000, { openid, createdAt: now - 3000 });
      await s.set(updated, updatedRecord, 60_000);
      await s.set(touched, sampleRecord(60_000, { openid, createdAt: now - 2000 }), 60_000);
      await s.set(newest, sampleRecord(60_000, { openid, createdAt: now - 1000 }), 60_000);
      await s.destroy(destroyed);
      if (s.update) ok(await s.update(updated, { ...updatedRecord, data: { changed: true } }, 60_000));
      if (s.touch) await s.touch(touched, 60_000);
      await sleep(400); // `expiring` is gone
      strictEqual(await s.limitSessions(openid, 3), 0, 'three live sessions: none over the cap');
      strictEqual(await s.limitSessions(openid, 1), 2, 'the two older live ones go');
      strictEqual(await s.get(updated), undefined);
      strictEqual(await s.get(touched), undefined);
      ok(await s.get(newest), 'the newest stays');
    });

    it('limitSessions (when implemented): concurrent logins of one openid end with at most max live, the newest kept', async () => {
      const s = await store();
      const peer = options.shared ? await store() : s;
      if (!s.limitSessions || !peer.limitSessions) return;
      const openid = `oRace${randomBytes(6).toString('base64url')}`;
      const now = Date.now();
      const ids = Array.from({ length: 30 }, sampleId);
      await Promise.all(
        ids.map(async (id, i) => {
          const on = i % 2 === 0 ? s : peer;
          await on.set(id, sampleRecord(60_000, { openid, createdAt: now + i }), 60_000);
          await on.limitSessions!(openid, 4);
        }),
      );
      const live = (await Promise.all(ids.map((id) => s.get(id)))).map((record) => record !== undefined);
      ok(live.filter(Boolean).length <= 4, `${live.filter(Boolean).length} live sessions of one openid, cap 4`);
      ok(live[live.length - 1], 'the newest session is kept');
    });

    it("limitSessions (when implemented): a flood of one account's logins leaves every other user's session alone", async () => {
      const s = await store();
      if (!s.limitSessions) return;
      const others = Array.from({ length: 5 }, sampleId);
      const otherRecords = others.map(() => sampleRecord());
      for (const [i, id] of others.entries()) await s.set(id, otherRecords[i]!, 60_000);
      const openid = `oFlood${randomBytes(6).toString('base64url')}`;
      const flood = Array.from({ length: 300 }, sampleId);
      for (let i = 0; i < flood.length; i += 30) {
        await Promise.all(
          flood.slice(i, i + 30).map(async (id, j) => {
            await s.set(id, sampleRecord(60_000, { openid, createdAt: Date.now() + i + j }), 60_000);
            await s.limitSessions!(openid, 3);
          }),
        );
      }
      deepStrictEqual(await Promise.all(others.map((id) => s.get(id))), otherRecords, 'the other users keep their sessions');
      const live = (await Promise.all(flood.map((id) => s.get(id)))).filter(Boolean).length;
      ok(live <= 3, `${live} sessions of the flooding account are live, cap 3`);
    });

    if (options.shared) {
      it('across instances: a destroy or update on one is what the other\'s very next get() sees, though it had the record cached (200 rounds)', async () => {
        const a = await store();
        const b = await store();
        requireUpdate(a);
        const stale: string[] = [];
        for (let round = 0; round < 200; round++) {
          const id = sampleId();
          const record = sampleRecord(60_000, { data: { v: 1 } });
          await a.set(id, record, 60_000);
          await b.get(id);
          await b.get(id); // cached now, where the store caches
          if (round % 2 === 0) {
            await a.destroy(id);
            const seen = await b.get(id);
            if (seen !== undefined) stale.push(`round ${round}: destroyed, still read`);
          } else {
            const next = { ...record, data: { v: 2 } };
            ok(await a.update!(id, next, 60_000));
            const seen = await b.get(id);
            if ((seen?.data as { v?: number } | undefined)?.v !== 2) stale.push(`round ${round}: updated, read v=${String((seen?.data as { v?: number } | undefined)?.v)}`);
          }
        }
        deepStrictEqual(stale, [], 'stale reads on the other instance');
      });

      it('across instances (when limitSessions is implemented): a session destroyed by the cap on one is gone on the other', async () => {
        const a = await store();
        const b = await store();
        if (!a.limitSessions) return;
        const openid = `oPeer${randomBytes(6).toString('base64url')}`;
        const [old, young] = [sampleId(), sampleId()];
        await a.set(old, sampleRecord(60_000, { openid, createdAt: Date.now() - 1000 }), 60_000);
        await a.set(young, sampleRecord(60_000, { openid }), 60_000);
        await b.get(old);
        await b.get(old);
        strictEqual(await a.limitSessions(openid, 1), 1);
        strictEqual(await b.get(old), undefined, 'the other instance still reads the capped session');
        ok(await b.get(young));
      });
    }
  });
}
