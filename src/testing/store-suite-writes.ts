// The conformance suite's tests that a logout is final (SECURITY.md, "A stolen token"): update
// writes only while the session exists, saves and renewals racing a logout never bring it back,
// and (stores sharing one backend) a change on one instance is what the other's very next read
// sees.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { requireUpdate, sampleId, sampleRecord, sleep, type SuiteContext } from './store-suite-kit.js';

/** update, and a logout under concurrent saves and renewals. */
export function updateTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('update writes only while the session exists, and resolves whether it wrote', async () => {
    const s = await ctx.store();
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
    const s = await ctx.store();
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
    const a = await ctx.store();
    const b = ctx.shared ? await ctx.store() : a;
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
}

/** Two instances on one backend (registered only with `shared: true`). */
export function sharedTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('across instances: a destroy or update on one is what the other\'s very next get() sees, though it had the record cached (200 rounds)', async () => {
    const a = await ctx.store();
    const b = await ctx.store();
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
    const a = await ctx.store();
    const b = await ctx.store();
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
