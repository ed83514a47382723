// The fetch lock of the shared access token (SharedTokenSource over RedisStore.accessTokens), on
// a real redis-server: it is taken with an expiry and released after the fetch, and a lock whose
// holder died expires.
import { expect } from 'chai';
import { waitFor } from '../harness/redis-tools.js';
import { useRedisStores } from './support/redis-store-kit.js';

const STABLE = '/cgi-bin/stable_token';

describe('RedisStore on a real Redis: the fetch lock of the shared access token', function () {
  const kit = useRedisStores(this);

  it('the fetch lock is taken with an expiry (so a holder that dies cannot block the others for long) and released after the fetch', async () => {
    const { admin, mock } = kit;
    const prefix = 'lockttl:';
    const s = await kit.session(kit.core({ prefix }));
    mock.fault(STABLE, { delay: 300 }, { times: 1 });
    mock.resetCalls();
    const checking = s.checkKey();
    checking.catch(() => {}); // awaited below; not unhandled if an assertion fails first
    const lockKey = `${prefix}lock-fetch:${mock.appId}`;
    await waitFor(async () => (await admin.exists(lockKey)) === 1, 'the fetch lock');
    const pttl = await admin.pttl(lockKey);
    // The core's lock lasts max(10 s, 2 x timeout): long enough for one fetch, not forever.
    expect(pttl, 'PTTL of the fetch lock').to.be.within(1, 10_000);
    expect(await checking).to.equal(true);
    expect(await admin.exists(lockKey), 'released after the fetch').to.equal(0);
    expect(mock.callsTo(STABLE).length).to.equal(1);
  });

  it('a lock whose holder died expires: the core fetches the token once the lock is gone', async () => {
    const { admin, mock } = kit;
    const prefix = 'lost:';
    const s = await kit.session(kit.core({ prefix }));
    await admin.set(`${prefix}lock-fetch:${mock.appId}`, 'a-dead-instance', 'PX', 300);
    mock.resetCalls();
    const started = Date.now();
    expect(await s.checkKey()).to.equal(true);
    const elapsed = Date.now() - started;
    expect(elapsed, 'waited for the dead lock to expire').to.be.at.least(250);
    expect(elapsed, 'but not much longer').to.be.below(300 + 1000);
    expect(mock.callsTo(STABLE).length).to.equal(1);
    expect(kit.openToken(await admin.get(`${prefix}token:${mock.appId}`))).to.equal(mock.currentAccessToken());
  });
});
