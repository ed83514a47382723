// Fault matrix, WeChat (test/support/wechat-faults.ts): set_user_storage, a signed API
// (session.setUserStorage), under every fault answers 504 / 502 without marking the session stale;
// the same call then goes through.
import { expect } from 'chai';
import { describeUpstream, everyAdapter, expectUpstreamError, FAULTS, H, STORAGE } from './support/wechat-faults.js';

everyAdapter('set_user_storage', (bench) => {
  describe('set_user_storage, a signed API (session.setUserStorage)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}, the session not marked stale`, async () => {
        const { mock, signing } = bench;
        const one = bench.existing[1]!;
        const res = await bench.cell(STORAGE, kind, fault, () => signing.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'score', value: what }] }));
        expectUpstreamError(res, kind);
        // Recovered: the same call goes through.
        await bench.expectSignedApiRecovers(signing, one, 'score', false);
        expect(mock.userStorage(one.openid)).to.include({ score: 'again' });
      });
    }
  });
});
