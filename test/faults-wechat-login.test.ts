// Fault matrix, WeChat (test/support/wechat-faults.ts): code2Session at login (POST /wx/login)
// under every fault answers 504 / 502 and creates no session; the next login goes through.
import { expect } from 'chai';
import { C2S, describeUpstream, everyAdapter, expectUpstreamError, FAULTS, UPSTREAM } from './support/wechat-faults.js';

everyAdapter('code2Session at login', (bench) => {
  describe(`code2Session at login (POST /wx/login) -> ${UPSTREAM.timeout.status} / ${UPSTREAM.unreadable.status}, no session created`, () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}`, async () => {
        const { mock, reader, existing } = bench;
        // The same user as E1 logging in again: a login never touches another session of that user.
        const res = await bench.cell(C2S, kind, fault, () => reader.http.post('/wx/login').send({ code: mock.issueCode(existing[0]!.openid) }));
        expectUpstreamError(res, kind);
        // Recovered: the next login goes through.
        const again = await reader.http.post('/wx/login').send({ code: mock.issueCode(existing[0]!.openid) });
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
      });
    }
  });
});
