// Fault matrix, Redis (test/support/redis-faults.ts): Redis restarted without persistence. The
// lost sessions answer 401 WX_SESSION_EXPIRED (never a copy from the in-process cache, never a 500),
// a write does not bring one back, and logging in again works.
import type { Response } from 'supertest';
import { expect } from 'chai';
import { RedisStore } from '../src/redis.js';
import { sleep } from '../harness/apps.js';
import { waitForSubscribers } from '../harness/redis-tools.js';
import { INVALID_TOKEN } from './support/wire.js';
import { sessionIdOf } from './support/stores.js';
import { expectError } from './support/wechat-faults.js';
import { auth, expectServedFromCache, reachable, redisFaultSuite, STORE_TIMEOUT } from './support/redis-faults.js';

redisFaultSuite('restarted empty', (bench) => {
  it('restarted without persistence: the lost sessions answer 401 WX_SESSION_EXPIRED (never a cached copy, never a 500)', async () => {
    const { volatile } = bench.servers;
    const { prefix } = bench;
    const client = volatile.client();
    const watcher = volatile.client();
    const channel = `${prefix}volatile:changed`;
    const forgetful = new RedisStore({ client, prefix: `${prefix}volatile:`, timeout: STORE_TIMEOUT });
    const lost = await bench.startApp(forgetful);
    bench.cleanups.push(async () => {
      await lost.close();
      if (volatile.running) await reachable(client, 'the volatile Redis');
      await forgetful.close();
    });
    await waitForSubscribers(watcher, channel, 1);
    const reader = (await lost.login()).token;
    const writer = (await lost.login()).token;
    expect((await lost.http.post('/me/coins').set(auth(writer))).status).to.equal(200);
    for (const token of [reader, writer]) {
      expect((await lost.http.get('/me').set(auth(token))).status).to.equal(200);
      await expectServedFromCache(lost, token, watcher);
    }

    await volatile.kill();
    await volatile.restart(); // empty
    // Until the app's client is back it may answer 503; never 200 from its cache, never 500.
    const deadline = Date.now() + 5000;
    let res: Response;
    for (;;) {
      res = await lost.http.get('/me').set(auth(reader));
      if (res.status !== 503) break;
      expect(res.body.code).to.equal('WX_STORE_UNAVAILABLE');
      if (Date.now() > deadline) throw new Error('the app did not reach the restarted Redis within 5 s');
      await sleep(20);
    }
    expectError(res, 401, 'WX_SESSION_EXPIRED');
    expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
    // Still so once the subscription (and with it the cache) is back.
    await waitForSubscribers(watcher, channel, 1);
    expectError(await lost.http.get('/me').set(auth(reader)), 401, 'WX_SESSION_EXPIRED');
    expect((await lost.http.get('/whoami').set(auth(reader))).body).to.deep.equal({ session: false, openid: null, error: 'WX_SESSION_EXPIRED' });
    // A write to a lost session does not bring it back.
    expectError(await lost.http.post('/me/coins').set(auth(writer)), 401, 'WX_SESSION_EXPIRED');
    expect(await watcher.exists(`${prefix}volatile:${sessionIdOf(writer)}`)).to.equal(0);
    expect((await lost.http.post('/wx/logout').set(auth(reader))).status).to.equal(204);
    // Logging in again works.
    const again = (await lost.login()).token;
    expect((await lost.http.get('/me').set(auth(again))).status).to.equal(200);
  });
});
