// Fault matrix, Redis (test/support/redis-faults.ts): Redis killed (SIGKILL) and restarted with
// persistence. Mid-request: 503 within the bound, a cached copy not served while the subscription
// that keeps it coherent is down, then every session as it was. Right after acknowledged writes:
// every acknowledged write is there, and the server serves it.
import { expect } from 'chai';
import { sleep } from '../harness/apps.js';
import { waitFor, waitForSubscribers } from '../harness/redis-tools.js';
import { sessionIdOf } from './support/stores.js';
import { timed } from './support/wechat-faults.js';
import { auth, expectServedFromCache, expectUnavailable, expectWhoamiUnavailable, reachable, recovered, redisFaultSuite } from './support/redis-faults.js';

redisFaultSuite('killed', (bench) => {
  it('killed mid-request (paused, requests sent, SIGKILL), restarted with persistence: 503 within the bound, then every session as it was', async () => {
    const { app, admin, existing, mock, prefix } = bench;
    const { durable } = bench.servers;
    const unseen = await bench.loginOther();
    await expectServedFromCache(app, existing[1]!.token, admin);

    durable.pause();
    const inflight = [
      timed(app.http.post('/wx/login').send({ code: mock.issueCode() })),
      timed(app.http.get('/me').set(auth(unseen))),
      timed(app.http.get('/whoami').set(auth(unseen))),
    ];
    await sleep(50); // sent to a Redis that answers nothing...
    await durable.kill(); // ...which dies with them
    const [login, me, whoami] = await Promise.all(inflight);
    expectUnavailable(login!.res, login!.ms, 'login');
    expectUnavailable(me!.res, me!.ms, 'GET /me');
    expectWhoamiUnavailable(whoami!.res, whoami!.ms);

    // While Redis is down, a copy the app had cached is not served: the subscription that keeps
    // it coherent is down too.
    await waitFor(() => bench.appClient.status !== 'ready', 'the app noticing Redis is gone');
    await sleep(20);
    const down = await timed(app.http.get('/me').set(auth(existing[1]!.token)));
    expectUnavailable(down.res, down.ms, 'GET /me of a cached session while Redis is down');

    await durable.restart();
    await recovered(app, mock);
    await reachable(admin, 'Redis after the restart');
    await bench.expectExistingIntact('after kill + restart');
    expect((await app.http.get('/me').set(auth(unseen))).status, 'the unseen session survived too').to.equal(200);
    await waitForSubscribers(admin, `${prefix}changed`, 1);
  });

  it('killed right after acknowledged writes, restarted with persistence: every acknowledged write is there, the server serves it', async () => {
    const { app, admin, existing, mock, prefix, name } = bench;
    const { durable } = bench.servers;
    // A data write and a new session, both answered 200 just before the crash.
    const writer = existing[2]!;
    expect((await app.http.post('/me/coins').set(auth(writer.token))).status).to.equal(200);
    const fresh = (await app.login(`oRfresh${name}`)).token;
    existing[2] = await bench.snapshot(writer.label.replace('coins 0', 'coins 1'), writer.token, writer.openid);
    expect(existing[2].me).to.deep.include({ data: { coins: 1 } });
    const freshRaw = await admin.get(`${prefix}${sessionIdOf(fresh)}`);

    await durable.kill();
    await durable.restart();
    await recovered(app, mock);
    await reachable(admin, 'Redis after the restart');
    await bench.expectExistingIntact('after kill + restart');
    expect(await admin.get(`${prefix}${sessionIdOf(fresh)}`)).to.equal(freshRaw);
    expect((await app.http.get('/me').set(auth(fresh))).body).to.deep.include({ openid: `oRfresh${name}` });
    await waitForSubscribers(admin, `${prefix}changed`, 1);
  });
});
