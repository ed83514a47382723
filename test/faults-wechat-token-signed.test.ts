// Fault matrix, WeChat (test/support/wechat-faults.ts): stable_token fetched for a signed API,
// held in process or shared through store.accessTokens, under every fault: 504 / 502, and
// set_user_storage neither called without a token nor retried. Both the first token of a new
// instance and the renewal of one WeChat refused (42001).
import { expect } from 'chai';
import { describeUpstream, everyAdapter, expectUpstreamError, FAULTS, H, STABLE, STORAGE, tokenSourcesFor } from './support/wechat-faults.js';

everyAdapter('stable_token for a signed API', (bench) => {
  for (const tokens of tokenSourcesFor(bench.name)) {
    describe(`stable_token ${tokens.label}, fetched for a signed API (a new instance, no token yet)`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> ${describeUpstream(kind)}, set_user_storage not called`, async () => {
          const fresh = await bench.freshApp({ checkSessionKey: false }, tokens.shared);
          try {
            const one = bench.existing[1]!;
            const res = await bench.cell(STABLE, kind, fault, () => fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'token', value: what }] }));
            expectUpstreamError(res, kind);
            expect(bench.mock.callsTo(STORAGE), 'no signed call without a token').to.have.length(0);
            await bench.expectSignedApiRecovers(fresh, one, 'token', tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });

    describe(`stable_token ${tokens.label}, renewing a token WeChat refused (42001) for a signed API`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> ${describeUpstream(kind)}, set_user_storage not retried`, async () => {
          const fresh = await bench.freshApp({ checkSessionKey: false }, tokens.shared);
          try {
            const warm = await fresh.http.post('/storage').set(H, await bench.probe(fresh)).send({ kvList: [{ key: 'warm', value: '1' }] });
            expect(warm.status).to.equal(200); // holds a token
            bench.mock.expireAccessTokens();
            const one = bench.existing[1]!;
            const res = await bench.cell(STABLE, kind, fault, () => fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'renew', value: what }] }));
            expectUpstreamError(res, kind);
            expect(bench.mock.callsTo(STORAGE).map((call) => call.errcode), 'the call that met the expired token, not retried').to.deep.equal([42001]);
            await bench.expectSignedApiRecovers(fresh, one, 'renew', tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });
  }
});
