// Fault matrix, Redis (test/support/redis-faults.ts): a slow Redis (paused past the store timeout)
// answers 503 WX_STORE_UNAVAILABLE where Redis is needed, within the bound, while a cached session
// is still served; resumed, nothing is lost or altered and the logout queued meanwhile has run.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { sessionIdOf } from './support/stores.js';
import { expectError, timed } from './support/wechat-faults.js';
import { auth, expectServedFromCache, expectUnavailable, expectWhoamiUnavailable, recovered, redisFaultSuite, STORE_TIMEOUT } from './support/redis-faults.js';

redisFaultSuite('slow', (bench) => {
  it(`slow (paused past the store timeout): 503 WX_STORE_UNAVAILABLE where Redis is needed, a cached session still served; resumed: nothing lost or altered`, async () => {
    const { app, admin, existing, mock, prefix } = bench;
    const { durable } = bench.servers;
    const unseen = await bench.loginOther(); // never read by the app: it must ask Redis
    const leaving = (await app.login()).token;
    await expectServedFromCache(app, leaving, admin);
    await expectServedFromCache(app, existing[0]!.token, admin);

    durable.pause();
    let answers: Array<{ res: Response; ms: number }>;
    let afterLogout: { res: Response; ms: number };
    try {
      answers = await Promise.all([
        timed(app.http.post('/wx/login').send({ code: mock.issueCode() })),
        timed(app.http.get('/me').set(auth(unseen))),
        timed(app.http.get('/whoami').set(auth(unseen))),
        timed(app.http.post('/wx/logout').set(auth(leaving))),
        timed(app.http.post('/wx/logout')),
        timed(app.http.get('/me').set(auth(existing[0]!.token))),
      ]);
      // The logout that could not reach Redis dropped the cached copy: not served meanwhile.
      afterLogout = await timed(app.http.get('/me').set(auth(leaving)));
    } finally {
      durable.resume();
    }
    const [login, me, whoami, logout, anonymous, cached] = answers;
    expectUnavailable(login!.res, login!.ms, 'login');
    expect(login!.res.body).to.not.have.property('token');
    expectUnavailable(me!.res, me!.ms, 'GET /me');
    expectWhoamiUnavailable(whoami!.res, whoami!.ms);
    expectUnavailable(logout!.res, logout!.ms, 'logout');
    for (const slow of [login!, me!, logout!]) expect(slow.ms, 'waited for the store timeout').to.be.at.least(STORE_TIMEOUT - 20);
    expect(anonymous!.res.status, 'logout without a token needs no store').to.equal(204);
    expect(cached!.res.status, 'a session cached (and kept coherent by pub/sub) needs no store').to.equal(200);
    expect(cached!.res.body).to.deep.equal(existing[0]!.me);
    expectUnavailable(afterLogout!.res, afterLogout!.ms, 'GET /me after the failed logout');

    await bench.appClient.ping(); // every command queued while paused has run by now
    await bench.expectExistingIntact('after the pause');
    expect((await app.http.get('/me').set(auth(unseen))).status, 'the unseen session').to.equal(200);
    // The DEL queued during the pause ran when Redis resumed: the server agrees with Redis.
    expect(await admin.exists(`${prefix}${sessionIdOf(leaving)}`)).to.equal(0);
    expectError(await app.http.get('/me').set(auth(leaving)), 401, 'WX_SESSION_EXPIRED');
    await recovered(app, mock);
  });
});
