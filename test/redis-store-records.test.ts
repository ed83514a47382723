// What RedisStore does with records beyond the conformance suite, on a real redis-server: a TTL
// that is already over removes the session (or does nothing, for touch); a value that is not a
// record (damaged, or another program's) reads as no session; a record another writer stored
// with its fields in another order is still renewed by touch; a record without an openid is kept
// but listed under no user.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: records at the edges', function () {
  const kit = useRedisStores(this);

  it('a TTL that is already over: set and update remove the session (update resolves false), touch leaves it as it is', async () => {
    const { admin } = kit;
    const s = kit.store({ prefix: 'over:' });
    const [a, b, c] = [sampleId(), sampleId(), sampleId()];
    for (const id of [a, b, c]) await s.set(id, sampleRecord(), 60_000);
    await s.set(a, sampleRecord(), 0);
    expect(await admin.exists(`over:${a}`), 'set with ttl 0').to.equal(0);
    expect(await s.update(b, sampleRecord(), -5)).to.equal(false);
    expect(await admin.exists(`over:${b}`), 'update with a negative ttl').to.equal(0);
    const before = await admin.get(`over:${c}`);
    await s.touch(c, 0);
    expect(await admin.get(`over:${c}`), 'touch with ttl 0').to.equal(before);
    expect(await admin.pttl(`over:${c}`)).to.be.above(50_000);
  });

  it('a value that is not a record (damaged JSON, a number, null) reads as no session', async () => {
    const { admin } = kit;
    const s = kit.store({ prefix: 'junk:' });
    for (const value of ['{"expiresAt":12', '42', 'null', 'not json at all']) {
      const id = sampleId();
      await admin.set(`junk:${id}`, value, 'PX', 60_000);
      expect(await s.get(id), value).to.equal(undefined);
    }
  });

  it('touch renews a record another writer stored with expiresAt not first', async () => {
    const { admin } = kit;
    const s = kit.store({ prefix: 'foreign:' });
    const id = sampleId();
    const { expiresAt, ...rest } = sampleRecord(1_000);
    await admin.set(`foreign:${id}`, JSON.stringify({ ...rest, expiresAt }), 'PX', 1_000);
    const from = Date.now();
    await s.touch(id, 120_000);
    const stored = JSON.parse((await admin.get(`foreign:${id}`))!) as { expiresAt: number; openid: string };
    expect(stored.openid).to.equal(rest.openid);
    expect(stored.expiresAt).to.be.at.least(from + 120_000);
    expect(await admin.pttl(`foreign:${id}`)).to.be.above(110_000);
    expect((await s.get(id))?.expiresAt).to.equal(stored.expiresAt);
  });

  it('a record without an openid is kept, and listed under no user', async () => {
    const { admin } = kit;
    const s = kit.store({ prefix: 'anon:' });
    const id = sampleId();
    const anonymous = { ...sampleRecord(), openid: undefined as unknown as string };
    await s.set(id, anonymous, 60_000);
    expect(await s.get(id)).to.deep.equal(JSON.parse(JSON.stringify(anonymous)));
    expect(await admin.keys('anon:user:*'), 'user lists').to.deep.equal([]);
    await s.destroy(id);
    expect(await admin.exists(`anon:${id}`)).to.equal(0);
  });
});
