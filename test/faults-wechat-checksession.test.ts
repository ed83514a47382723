// Fault matrix, WeChat (test/support/wechat-faults.ts): checksession on an authenticated request
// (checkSessionKey interval 0) fails open under every fault: 200, the session as it is, a warning
// without secrets; checks pause after the outage and resume once the pause is over.
import { expect } from 'chai';
import { C2S, CHECK, everyAdapter, FAULTS, H, PAST_PAUSE } from './support/wechat-faults.js';

everyAdapter('checksession', (bench) => {
  describe('checksession on an authenticated request (interval 0) -> fails open: 200, the session as it is, a warning', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> 200 with the session unchanged`, async () => {
        const { mock } = bench;
        // An instance of its own (holding a token already): the outage pauses its checks, which
        // must not carry over into the next row.
        const outage = await bench.appOn({ checkSessionKey: { interval: 0 } });
        try {
          expect((await outage.http.get('/me').set(H, await bench.probe(outage))).status).to.equal(200); // holds a token
          const one = bench.existing[0]!;
          const lines = outage.logger.lines.length;
          // With a refresh code too: it is redeemed only when WeChat said 87009, not on an outage.
          const res = await bench.cell(CHECK, kind, fault, () => outage.http.get('/me').set(H, one.token).set('X-WX-Code', mock.issueCode(one.openid)));
          expect(res.status, JSON.stringify(res.body)).to.equal(200);
          expect(res.body).to.deep.equal(one.me);
          expect(res.headers).to.not.have.property('x-wx-session-token');
          expect(mock.callsTo(C2S), 'the X-WX-Code was not redeemed').to.have.length(0);
          bench.expectFailOpenWarning(outage, lines, one);
          // Checks pause after the outage (checkOutagePause: at least 5 s, at interval 0 too).
          mock.resetCalls();
          expect((await outage.http.get('/me').set(H, await bench.probe(outage))).status).to.equal(200);
          expect(mock.callsTo(CHECK), 'checks paused after the outage').to.have.length(0);
          // Recovered: once the pause is over, the next check is made and succeeds.
          bench.clock.advance(PAST_PAUSE);
          expect((await outage.http.get('/me').set(H, await bench.probe(outage))).status).to.equal(200);
          expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([0]);
        } finally {
          await outage.close();
        }
      });
    }
  });
});
