// Fault matrix, WeChat (test/support/wechat-faults.ts): stable_token fetched for a check, held in
// process or shared through store.accessTokens, fails open under every fault: 200, the session as
// it is, a warning; no checksession without a token, and none retried. Both the first token of a
// new instance and the renewal of one WeChat refused (42001).
import { expect } from 'chai';
import { CHECK, everyAdapter, FAULTS, H, STABLE, tokenSourcesFor } from './support/wechat-faults.js';

everyAdapter('stable_token for a check', (bench) => {
  for (const tokens of tokenSourcesFor(bench.name)) {
    describe(`stable_token ${tokens.label}, fetched for a check (a new instance, no token yet) -> fails open: 200, a warning`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> 200 with the session unchanged, no checksession without a token`, async () => {
          const fresh = await bench.freshApp({ checkSessionKey: { interval: 0 } }, tokens.shared);
          try {
            const one = bench.existing[2]!;
            const res = await bench.cell(STABLE, kind, fault, () => fresh.http.get('/me').set(H, one.token));
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            expect(res.body).to.deep.equal(one.me);
            expect(bench.mock.callsTo(CHECK), 'no checksession without a token').to.have.length(0);
            bench.expectFailOpenWarning(fresh, 0, one);
            // Recovered: the next request fetches a token and checks.
            await bench.expectChecksRecover(fresh, tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });

    describe(`stable_token ${tokens.label}, renewing a token WeChat refused (42001) during a check -> fails open: 200, a warning`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> 200 with the session unchanged, the check not retried`, async () => {
          const fresh = await bench.freshApp({ checkSessionKey: { interval: 0 } }, tokens.shared);
          try {
            expect((await fresh.http.get('/me').set(H, await bench.probe(fresh))).status).to.equal(200); // holds a token
            bench.mock.expireAccessTokens();
            const one = bench.existing[2]!;
            const lines = fresh.logger.lines.length;
            const res = await bench.cell(STABLE, kind, fault, () => fresh.http.get('/me').set(H, one.token));
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            expect(res.body).to.deep.equal(one.me);
            expect(bench.mock.callsTo(CHECK).map((call) => call.errcode), 'the check that met the expired token, not retried').to.deep.equal([42001]);
            bench.expectFailOpenWarning(fresh, lines, one);
            // Recovered: the next request renews the token and checks.
            await bench.expectChecksRecover(fresh, tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });
  }
});
