// Several instances, one Redis (test/support/instances.ts): a logout on A is refused on B within
// 1 s although B held the session in its cache, and it sticks while saves of that session keep
// coming on either instance (issue #10 part 1).
import { expect } from 'chai';
import { sleep } from '../harness/apps.js';
import { call, multiInstance } from './support/instances.js';

multiInstance('a logout reaches every instance', (fleet) => {
  it('a logout on A is refused on B within 1 s, although B served the token from its cache', async () => {
    const { A, B } = fleet;
    const user = await fleet.login(A);
    await fleet.expectServedFromCache(B, user.token, user.openid);
    const elapsed = await fleet.logoutReachesOther(A, B, user.token);
    expect(elapsed, 'ms from the logout on A to the first refusal on B').to.be.below(1000);
    // A refuses it too, and so does B from now on.
    expect((await call(A, 'GET', '/me', { token: user.token })).body.code).to.equal('WX_SESSION_EXPIRED');
    expect((await call(B, 'GET', '/me', { token: user.token })).status).to.equal(401);
  });

  for (const where of ['on the other instance', 'on the same instance'] as const) {
    it(`a logout sticks while session.data saves of that session keep coming ${where} (issue #10 part 1)`, async () => {
      const { A, B } = fleet;
      // The attacker holds the token and keeps saving; the owner logs out. Every save that was
      // in flight, or came after, must not bring the session back, in Redis or in a cache.
      const saver = where === 'on the other instance' ? B : A;
      const users = await Promise.all(Array.from({ length: 40 }, () => fleet.login(A)));
      for (const user of users) expect((await call(saver, 'GET', '/me', { token: user.token })).status).to.equal(200); // cached there
      let attacking = true;
      const attacks = users.flatMap((user, i) =>
        Array.from({ length: 4 }, async (_, j) => {
          let score = (i * 4 + j) * 100_000;
          while (attacking) await call(saver, 'POST', '/me/score', { token: user.token, json: { score: ++score } });
        }),
      );
      await sleep(50);
      const logouts = await Promise.all(users.map((user) => call(A, 'POST', '/wx/logout', { token: user.token })));
      for (const out of logouts) expect(out.status).to.equal(204);
      await sleep(300); // the saves go on meanwhile
      attacking = false;
      await Promise.all(attacks);
      const back: string[] = [];
      for (const user of users) {
        for (const instance of [A, B]) {
          const res = await call(instance, 'GET', '/me', { token: user.token });
          if (res.status !== 401) back.push(`${user.openid} on ${instance.name}: ${res.status}`);
        }
      }
      expect(back, 'logged-out sessions answering again').to.deep.equal([]);
    });
  }
});
