// Several instances, one Redis (test/support/instances.ts): both instances stopped (SIGTERM: they
// exit 0 having closed server, store and client) and started again; the sessions Redis holds are
// still valid on both, with their data.
import { expect } from 'chai';
import { call, multiInstance } from './support/instances.js';

multiInstance('instances restarted', (fleet) => {
  it('both instances restarted: the sessions Redis holds are still valid on both', async () => {
    const one = await fleet.login(fleet.A);
    const two = await fleet.login(fleet.B);
    expect((await call(fleet.A, 'POST', '/me/score', { token: one.token, json: { score: 7 } })).status).to.equal(200);
    expect((await call(fleet.B, 'POST', '/me/score', { token: two.token, json: { score: 8 } })).status).to.equal(200);
    const oldPids = [fleet.A.child.process.pid, fleet.B.child.process.pid];

    const ends = await Promise.all([fleet.A.stop(), fleet.B.stop()]);
    expect(ends, 'both exit 0 on SIGTERM (server, store and client closed)').to.deep.equal([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    await fleet.startAB();
    expect([fleet.A.child.process.pid, fleet.B.child.process.pid]).to.not.include.members(oldPids.filter(Boolean) as number[]);

    for (const instance of [fleet.A, fleet.B]) {
      const first = await call(instance, 'GET', '/me', { token: one.token });
      expect(first.status, `${instance.name}: ${JSON.stringify(first.body)}`).to.equal(200);
      expect(first.body).to.deep.equal({ openid: one.openid, data: { score: 7 } });
      const second = await call(instance, 'GET', '/me', { token: two.token });
      expect(second.status).to.equal(200);
      expect(second.body).to.deep.equal({ openid: two.openid, data: { score: 8 } });
    }
  });
});
