// The conformance suite's tests of limitSessions (where offered): the per-user cap keeps the
// newest live sessions of one openid, under concurrent logins too, and never touches another
// user's sessions.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sampleId, sampleRecord, sleep, type SuiteContext } from './store-suite-kit.js';

/** What the cap keeps and destroys, one call at a time. */
export function limitTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('limitSessions (when implemented) keeps the newest max of one openid, destroys the oldest, and resolves how many', async () => {
    const s = await ctx.store();
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
    const s = await ctx.store();
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
}

/** The cap under concurrent logins. */
export function concurrentLimitTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('limitSessions (when implemented): concurrent logins of one openid end with at most max live, the newest kept', async () => {
    const s = await ctx.store();
    const peer = ctx.shared ? await ctx.store() : s;
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
    const s = await ctx.store();
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
}
