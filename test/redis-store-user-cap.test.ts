// One account cannot crowd out the others (SECURITY.md, "Denial of service"; issue #10 part 4), on
// a real redis-server: the user's list of sessions lives as long as the user's longest session, and
// a flood of one openid's logins (capped) never makes another user's login fail, even with Redis
// almost full and evicting nothing.
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { useRedisStores } from './support/redis-store-kit.js';

describe('RedisStore on a real Redis: the per-user list and cap', function () {
  const kit = useRedisStores(this);

  it("the user's list lives at least as long as the user's longest session (set, update, touch)", async () => {
    const { admin } = kit;
    const s = kit.store({ prefix: 'ulist:' });
    const openid = 'oListed';
    const id = sampleId();
    const record = sampleRecord(60_000, { openid });
    await s.set(id, record, 60_000);
    expect(await admin.zrange(`ulist:user:${openid}`, '0', '-1')).to.deep.equal([id]);
    expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(59_000, 60_000);
    expect(await s.update(id, { ...record, expiresAt: Date.now() + 120_000 }, 120_000)).to.equal(true);
    expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(119_000, 120_000);
    await s.touch(id, 300_000);
    expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(299_000, 300_000);
    // A shorter session does not shorten it.
    await s.set(sampleId(), sampleRecord(10_000, { openid }), 10_000);
    expect(await admin.pttl(`ulist:user:${openid}`)).to.be.above(290_000);
    await s.destroy(id);
    expect(await admin.zrange(`ulist:user:${openid}`, '0', '-1'), 'destroy takes the id off the list').to.have.length(1);
  });

  it("with noeviction and little memory, a flood of one openid's logins (capped) never makes another user's login fail", async () => {
    // Issue #10 part 4: 6,230 sessions of one openid filled Redis; every other login answered 503.
    const { admin } = kit;
    const s = kit.store({ prefix: 'oom:' });
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(used + 1_000_000));
    try {
      const openid = 'oFlooding';
      const pad = 'x'.repeat(4000);
      const failures: string[] = [];
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 25 }, async (_, i) => {
            try {
              await s.set(sampleId(), sampleRecord(60_000, { openid, data: { pad }, createdAt: Date.now() + batch * 25 + i }), 60_000);
              await s.limitSessions(openid, 10);
            } catch (error) {
              failures.push(String((error as Error).message));
            }
          }),
        );
      }
      expect(failures.slice(0, 3), `${failures.length} of 500 logins of the flooding account failed`).to.deep.equal([]);
      const bystander = sampleId();
      await s.set(bystander, sampleRecord(), 60_000);
      expect(await s.get(bystander)).to.have.property('openid');
      expect(await admin.zcard(`oom:user:${openid}`)).to.be.at.most(10);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
  });
});
