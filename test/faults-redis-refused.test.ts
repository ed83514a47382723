// Fault matrix, Redis (test/support/redis-faults.ts): a store whose client never reached Redis
// (nothing listens on its port) answers 503 within the bound; once Redis is up, it works, and the
// Redis the other sessions live on was never touched.
import { expect } from 'chai';
import { RedisStore } from '../src/redis.js';
import { timed } from './support/wechat-faults.js';
import { auth, expectUnavailable, expectWhoamiUnavailable, reachable, recovered, redisFaultSuite, STORE_TIMEOUT } from './support/redis-faults.js';

redisFaultSuite('refusing connections', (bench) => {
  it('refusing connections (a store whose client never reached Redis): 503 within the bound; Redis up: it works', async () => {
    const { volatile, mock } = bench.servers;
    await volatile.kill(); // nothing listens on its port now
    const client = volatile.client();
    const refusing = new RedisStore({ client, prefix: `${bench.prefix}refusing:`, timeout: STORE_TIMEOUT });
    const lonely = await bench.startApp(refusing);
    bench.cleanups.push(async () => {
      await lonely.close();
      if (volatile.running) await reachable(client, "the refusing store's Redis");
      await refusing.close();
    });
    const token = bench.existing[0]!.token; // validly signed: only the store can tell
    const [login, me, whoami, logout, anonymous] = await Promise.all([
      timed(lonely.http.post('/wx/login').send({ code: mock.issueCode() })),
      timed(lonely.http.get('/me').set(auth(token))),
      timed(lonely.http.get('/whoami').set(auth(token))),
      timed(lonely.http.post('/wx/logout').set(auth(token))),
      timed(lonely.http.post('/wx/logout')),
    ]);
    expectUnavailable(login!.res, login!.ms, 'login');
    expectUnavailable(me!.res, me!.ms, 'GET /me');
    expectWhoamiUnavailable(whoami!.res, whoami!.ms);
    expectUnavailable(logout!.res, logout!.ms, 'logout');
    expect(anonymous!.res.status).to.equal(204);

    await volatile.restart();
    const made = await recovered(lonely, mock);
    const res = await lonely.http.get('/me').set(auth(made));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    // The durable Redis the others use was never touched.
    await bench.expectExistingIntact('after another Redis refused connections');
  });
});
