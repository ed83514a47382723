// Several instances, one Redis (test/support/instances.ts): Redis killed, or paused (a slow Redis):
// both instances answer 503 WX_STORE_UNAVAILABLE within the bound and keep running. Killed and
// restarted: logins, requests, pub/sub all work again (what Redis held is gone: nothing was
// saved). Resumed after a pause: the sessions it held still work.
import { expect } from 'chai';
import { sleep } from '../harness/apps.js';
import { call, multiInstance, type Answer } from './support/instances.js';

multiInstance('Redis down', (fleet) => {
  it('Redis killed: 503 WX_STORE_UNAVAILABLE within the bound, no crash; restarted: logins and requests work again', async () => {
    const { A, B, mock, redis } = fleet;
    const before = await fleet.login(A);
    expect((await call(B, 'GET', '/me', { token: before.token })).status).to.equal(200);

    await redis.kill();
    await sleep(100); // the instances see their connections close

    for (let round = 0; round < 2; round++) {
      await fleet.expectStoreUnavailable(
        await Promise.all([
          call(A, 'GET', '/me', { token: before.token }),
          call(B, 'GET', '/me', { token: before.token }),
          call(B, 'POST', '/me/score', { token: before.token, json: { score: 1 } }),
          call(A, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
          call(B, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
        ]),
      );
    }

    await redis.restart();
    // Logins work again as soon as the clients reconnected (they retry every 50 ms).
    const deadline = Date.now() + 5000;
    let recovered: Answer;
    for (;;) {
      recovered = await call(A, 'POST', '/wx/login', { json: { code: mock.issueCode() } });
      if (recovered.status === 200 || Date.now() > deadline) break;
      await sleep(50);
    }
    expect(recovered.status, `login after Redis came back: ${JSON.stringify(recovered.body)}`).to.equal(200);

    const after = await fleet.login(A);
    const onB = await call(B, 'GET', '/me', { token: after.token });
    expect(onB.status).to.equal(200);
    expect(onB.body.openid).to.equal(after.openid);
    expect((await call(B, 'POST', '/me/score', { token: after.token, json: { score: 5 } })).status).to.equal(200);
    expect((await fleet.within1s(A, after.token, (body) => body.data?.score === 5)).body.data).to.deep.equal({ score: 5 });
    // Pub/sub is back as well: B caches again, and a logout on A still reaches it within 1 s.
    await fleet.expectServedFromCache(B, after.token, after.openid);
    expect(await fleet.logoutReachesOther(A, B, after.token)).to.be.below(1000);
    // The session made before the kill is gone with Redis's memory (nothing was saved): expected.
    const lost = await call(B, 'GET', '/me', { token: before.token });
    expect(lost.status).to.equal(401);
    expect(lost.body.code).to.equal('WX_SESSION_EXPIRED');
  });

  it('Redis paused (slow): 503 within the bound meanwhile; resumed: the sessions it held still work', async () => {
    const { A, B, mock, redis } = fleet;
    const held = await fleet.login(A);
    expect((await call(B, 'POST', '/me/score', { token: held.token, json: { score: 11 } })).status).to.equal(200);
    const unread = await fleet.login(A); // never read on B: B must ask Redis for it

    redis.pause();
    try {
      await fleet.expectStoreUnavailable(
        await Promise.all([
          call(B, 'GET', '/me', { token: unread.token }),
          call(A, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
          call(B, 'POST', '/wx/login', { json: { code: mock.issueCode() } }),
        ]),
      );
    } finally {
      redis.resume();
    }

    for (const instance of [A, B]) {
      const one = await call(instance, 'GET', '/me', { token: held.token });
      expect(one.status, `${instance.name}: ${JSON.stringify(one.body)}`).to.equal(200);
      expect(one.body).to.deep.equal({ openid: held.openid, data: { score: 11 } });
      const two = await call(instance, 'GET', '/me', { token: unread.token });
      expect(two.status, `${instance.name}: ${JSON.stringify(two.body)}`).to.equal(200);
      expect(two.body).to.deep.equal({ openid: unread.openid, data: {} });
    }
    const fresh = await fleet.login(B);
    expect((await call(A, 'GET', '/me', { token: fresh.token })).status).to.equal(200);
    for (const instance of [A, B]) expect(instance.alive()).to.equal(true);
  });
});
