// The conformance suite's tests of what every store must do with one record: keep it as given,
// forget it on destroy, and honour the TTL it is given (and touch, where offered).
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sampleId, sampleRecord, sleep, type SuiteContext } from './store-suite-kit.js';

/** get, set and destroy of records, and peek where offered. */
export function recordTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('get: an unknown id is undefined', async () => {
    strictEqual(await (await ctx.store()).get(sampleId()), undefined);
  });

  it('set then get returns the same record', async () => {
    const s = await ctx.store();
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
    const s = await ctx.store();
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
    const s = await ctx.store();
    const id = sampleId();
    const first = sampleRecord();
    await s.set(id, first, 60_000);
    const second = { ...first, data: { coins: 9 }, sessionKey: randomBytes(16).toString('base64') };
    await s.set(id, second, 60_000);
    deepStrictEqual(await s.get(id), second);
  });

  it('ids are independent', async () => {
    const s = await ctx.store();
    const ids = Array.from({ length: 20 }, sampleId);
    const records = ids.map(() => sampleRecord());
    await Promise.all(ids.map((id, i) => s.set(id, records[i]!, 60_000)));
    const got = await Promise.all(ids.map((id) => s.get(id)));
    deepStrictEqual(got, records);
  });

  it('destroy forgets the record; destroying an unknown id is fine', async () => {
    const s = await ctx.store();
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await s.destroy(id);
    strictEqual(await s.get(id), undefined);
    await s.destroy(sampleId());
  });

  it('peek (when implemented) never answers a record that is not there', async () => {
    const s = await ctx.store();
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
}

/** The TTL given to set, and touch where offered. */
export function expiryTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('honours the TTL given to set', async () => {
    const s = await ctx.store();
    const id = sampleId();
    await s.set(id, sampleRecord(150), 150);
    ok(await s.get(id), 'present before the TTL');
    await sleep(400);
    strictEqual(await s.get(id), undefined);
  });

  it('touch (when implemented) extends both the TTL and expiresAt', async () => {
    const s = await ctx.store();
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
    const s = await ctx.store();
    if (!s.touch) return;
    const id = sampleId();
    await s.touch(id, 5_000);
    strictEqual(await s.get(id), undefined);
  });

  it('touch (when implemented) of a destroyed session creates nothing', async () => {
    const s = await ctx.store();
    if (!s.touch) return;
    const id = sampleId();
    await s.set(id, sampleRecord(), 60_000);
    await s.destroy(id);
    await s.touch(id, 5_000);
    strictEqual(await s.get(id), undefined);
  });
}
