// Fault matrix, WeChat (test/support/wechat-faults.ts), for the session_key's further APIs
// (docs/session-key.md) through the player routes: resetusersessionkey (session.resetKey),
// getuserphonenumber (session.phoneNumber), getuserriskrank (session.riskRank) and
// checkencryptedmsg (core.checkEncryptedData). Under every fault: 504 WX_UPSTREAM_TIMEOUT when
// late or never, 502 WX_UPSTREAM_ERROR otherwise (with WeChat's errcode when it gave one), the
// call not retried, no session marked stale, the stored records unchanged (a failed reset keeps
// the key), and the same call then goes through.
import { expect } from 'chai';
import { describeUpstream, everyAdapter, expectUpstreamError, FAULTS, H } from './support/wechat-faults.js';
import { ENCRYPTED, PHONE, playerBench, RESET, RISK } from './support/wechat-faults-player.js';

everyAdapter('the session_key\'s APIs', (bench) => {
  describe('resetusersessionkey (session.resetKey)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}, the key kept; the reset then goes through`, async () => {
        const { mock, player } = bench;
        // A session of its own: a reset that goes through changes its key, which no pre-existing one may see.
        const own = await bench.ownSession('oReset');
        const before = mock.sessionKeyOf(own.openid);
        const res = await bench.cell(RESET, kind, fault, () => player.http.post('/me/reset-key').set(H, own.token));
        expectUpstreamError(res, kind);
        bench.expectRecordKept(own, 'after the failed reset');

        const again = await player.http.post('/me/reset-key').set(H, own.token);
        expect(again.status, JSON.stringify(again.body)).to.equal(204);
        const after = bench.recordOf(own.token)!;
        expect(mock.sessionKeyOf(own.openid), 'WeChat issued a new key').to.be.a('string').and.not.equal(before);
        expect(after.sessionKey, 'the new key stored').to.not.equal(own.record.sessionKey);
        expect(after.keyStale, 'not marked stale').to.equal(undefined);
        // The stored key is WeChat's new one: a call signed with it is accepted.
        const signed = await player.http.get(`/me/balance?zoneId=${bench.newZone()}`).set(H, own.token);
        expect(signed.status, JSON.stringify(signed.body)).to.equal(200);
      });
    }
  });

  describe('getuserphonenumber (session.phoneNumber)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}; the same code then gives the number`, async () => {
        const { mock, player } = bench;
        const one = bench.existing[1]!;
        const code = mock.issuePhoneCode(one.openid, { phoneNumber: '13912345678', countryCode: '86' });
        const res = await bench.cell(PHONE, kind, fault, () => player.http.post('/me/phone').set(H, one.token).send({ code }));
        expectUpstreamError(res, kind);

        const again = await player.http.post('/me/phone').set(H, one.token).send({ code });
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(again.body).to.include({ purePhoneNumber: '13912345678', countryCode: '86' });
        bench.expectRecordKept(one, 'after the number');
      });
    }
  });

  describe('getuserriskrank (session.riskRank)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}; the rank then comes`, async () => {
        const { mock, player } = bench;
        const one = bench.existing[0]!;
        mock.setRiskRank(one.openid, 3);
        const ask = () => player.http.post('/me/risk-rank').set(H, one.token).send({ scene: 1 });
        const res = await bench.cell(RISK, kind, fault, ask);
        expectUpstreamError(res, kind);

        const again = await ask();
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(again.body).to.deep.equal({ riskRank: 3 });
        bench.expectRecordKept(one, 'after the rank');
      });
    }
  });

  describe('checkencryptedmsg (core.checkEncryptedData, no session)', () => {
    for (const [index, { name: what, fault, kind }] of FAULTS.entries()) {
      it(`${what} -> ${describeUpstream(kind)}; the check then answers`, async () => {
        const { mock, player } = bench;
        const encryptedData = Buffer.from(`ciphertext ${bench.name} ${index}`).toString('base64');
        const createTime = mock.registerEncryptedData(encryptedData);
        const check = () => player.http.post('/encrypted-data/check').send({ encryptedData });
        const res = await bench.cell(ENCRYPTED, kind, fault, check);
        expectUpstreamError(res, kind);

        const again = await check();
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(again.body).to.deep.equal({ valid: true, createTime });
      });
    }
  });
}, playerBench);
