// Several instances, one Redis (test/support/instances.ts): a session made on instance A works on
// B, and data written on either is seen on the other within 1 s (through pub/sub).
import { expect } from 'chai';
import { call, multiInstance } from './support/instances.js';

multiInstance('a session is shared', (fleet) => {
  it('a session made on A works on B, and data written on B is seen on A', async () => {
    const { A, B } = fleet;
    const user = await fleet.login(A);
    const onA = await call(A, 'GET', '/me', { token: user.token });
    expect(onA.status).to.equal(200);
    expect(onA.body).to.deep.equal({ openid: user.openid, data: {} });

    const onB = await call(B, 'GET', '/me', { token: user.token });
    expect(onB.status, JSON.stringify(onB.body)).to.equal(200);
    expect(onB.body).to.deep.equal({ openid: user.openid, data: {} });

    const write = await call(B, 'POST', '/me/score', { token: user.token, json: { score: 42 } });
    expect(write.status, JSON.stringify(write.body)).to.equal(200);
    // A has this session in its cache (it made it): B's change reaches it through pub/sub, which
    // is asynchronous, so A may answer the old record for a moment - within 1 s at most.
    const seenOnA = await fleet.within1s(A, user.token, (body) => body.data?.score === 42);
    expect(seenOnA.body).to.deep.equal({ openid: user.openid, data: { score: 42 } });

    const second = await call(A, 'POST', '/me/score', { token: user.token, json: { score: 43 } });
    expect(second.status).to.equal(200);
    expect((await fleet.within1s(B, user.token, (body) => body.data?.score === 43)).body.data).to.deep.equal({ score: 43 });
  });
});
