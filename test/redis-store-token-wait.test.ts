// Waiting for another instance's access token (SharedTokenSource over RedisStore.accessTokens), on
// a real redis-server: a core that lost the fetch lock takes the winner's token instead of
// fetching its own, and a core that found no token just before another stored it and released
// the lock does not fetch again.
import { expect } from 'chai';
import { accessTokenContext, Sealer } from '../src/seal.js';
import { SECRET, sleep } from '../harness/apps.js';
import { waitFor } from '../harness/redis-tools.js';
import { useRedisStores } from './support/redis-store-kit.js';

const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';

describe("RedisStore on a real Redis: waiting for another instance's access token", function () {
  const kit = useRedisStores(this);

  it('a core that loses the lock waits for the winner\'s token instead of fetching its own', async () => {
    const { admin, mock } = kit;
    const prefix = 'wait:';
    const s = await kit.session(kit.core({ prefix }));
    // Another instance holds the lock for a long while and is fetching.
    await admin.set(`${prefix}lock-fetch:${mock.appId}`, 'the-winner', 'PX', 5000);
    const res = await fetch(`${mock.url}/cgi-bin/stable_token`, {
      method: 'POST',
      body: JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: false }),
    });
    const winners = (await res.json()) as { access_token: string };
    mock.resetCalls();
    const started = Date.now();
    const checking = s.checkKey();
    checking.catch(() => {}); // awaited below
    await sleep(200);
    // Stored as a core stores it: sealed (SECURITY.md, "Store compromise").
    await admin.set(`${prefix}token:${mock.appId}`, new Sealer([SECRET]).seal(winners.access_token, accessTokenContext(mock.appId)), 'PX', 60_000);
    expect(await checking).to.equal(true);
    expect(Date.now() - started).to.be.below(200 + 500);
    expect(mock.callsTo(STABLE).length, 'the waiting core fetched on its own').to.equal(0);
    expect(mock.callsTo(CHECK)[0]!.errcode).to.equal(0);
    await admin.del(`${prefix}lock-fetch:${mock.appId}`);
  });

  it('a core that found no token just before another core stored it and released the lock does not fetch again', async () => {
    // The gap between "no shared token" and "take the lock": the other core fetches, stores
    // and unlocks in between. The lock alone does not make the fetch single: the token must be
    // looked up again once the lock is held.
    const { admin, mock } = kit;
    const prefix = 'gap-token:';
    const { proxy, client } = await kit.proxied();
    const [slowSession, fastSession] = await Promise.all([kit.session(kit.core({ client, prefix })), kit.session(kit.core({ prefix }))]);
    mock.resetCalls();

    proxy.holdWhenSent('eval'); // the slow core's token lookup: Redis answers "none", late
    const slowCheck = slowSession.checkKey();
    slowCheck.catch(() => {}); // awaited below
    await waitFor(() => proxy.holding('eval') === 1, 'the slow core looking up the token');
    expect(await fastSession.checkKey()).to.equal(true); // fetches, stores, unlocks
    expect(mock.callsTo(STABLE).length).to.equal(1);
    expect(await admin.exists(`${prefix}lock-fetch:${mock.appId}`)).to.equal(0);
    proxy.release('eval');
    expect(await slowCheck).to.equal(true);
    expect(mock.callsTo(STABLE).length, 'stable_token calls for the two cores').to.equal(1);
  });
});
