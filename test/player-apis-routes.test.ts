// The session_key's APIs and the mini-game virtual payment (docs/session-key.md, docs/payments.md)
// through a route on every adapter of harness/apps.ts (Express 5 and 4, Koa 3 and 2), in front of
// the mock WeChat: what each route answers, what WeChat was sent, and the error table (README.md,
// "Errors") for what WeChat refuses: bad input
// 400 WX_BAD_REQUEST before any call, 90010 401 WX_SESSION_KEY_EXPIRED (repaired by X-WX-Code),
// 90012 502 WX_UPSTREAM_ERROR keeping its errcode, -1 retried with the same bill_no.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters, startApp, type TestApp } from '../harness/apps.js';
import { expectErrorBody } from './support/wire.js';

const H = 'X-WX-Session';
const PAY = '/wxa/game/pay';
const GAME_PATHS = ['/wxa/game/getbalance', PAY, '/wxa/game/cancelpay', '/wxa/game/present'];
const PHONE = '/wxa/business/getuserphonenumber';

/** The core's payment option for `mock`'s offer and AppKeys (production and sandbox). */
const paymentOf = (mock: MockWeChat) => ({ offerId: mock.payment.offerId, appKey: { production: mock.payment.appKey, sandbox: mock.payment.sandboxAppKey } });

function expectFailure(res: Response, status: number, code: string, errcode?: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expectErrorBody(res.body, code, errcode);
}

for (const name of adapters) {
  describe(`the session_key's APIs through routes (${name})`, () => {
    let mock: MockWeChat;
    let app: TestApp;
    let openid: string;
    let token: string;
    let players = 0;

    before(async () => {
      mock = await startMockWeChat();
      app = await startApp(name, { mock, core: { payment: paymentOf(mock) } });
    });
    after(async () => {
      await app?.close();
      await mock?.close();
    });
    beforeEach(async () => {
      openid = `oPlayerApis${name}${++players}`;
      ({ token } = await app.login(openid));
      mock.resetCalls();
    });

    it('POST /me/reset-key: 204, WeChat issued a new key, and signed calls go on with it', async () => {
      const old = mock.sessionKeyOf(openid);
      const res = await app.http.post('/me/reset-key').set(H, token);
      expect(res.status, JSON.stringify(res.body)).to.equal(204);
      expect(mock.sessionKeyOf(openid)).to.be.a('string').and.not.equal(old);
      mock.setBalance(openid, '1', 5);
      const balance = await app.http.get('/me/balance?zoneId=1').set(H, token);
      expect(balance.status, JSON.stringify(balance.body)).to.equal(200);
      expect(balance.body.balance).to.equal(5);
    });

    it("POST /me/phone: the player's number; the code spent once (401 WX_CODE_INVALID after)", async () => {
      const code = mock.issuePhoneCode(openid, { phoneNumber: '13800138000', countryCode: '86' });
      const res = await app.http.post('/me/phone').set(H, token).send({ code });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.purePhoneNumber).to.be.a('string').and.include('13800138000');
      expect(res.body.countryCode).to.equal('86');
      expect(JSON.parse(mock.callsTo(PHONE)[0]!.body!)).to.deep.equal({ code, openid });
      expectFailure(await app.http.post('/me/phone').set(H, token).send({ code }), 401, 'WX_CODE_INVALID', 40029);
    });

    it('POST /phone (no session) and bad codes: 400 WX_BAD_REQUEST before any call', async () => {
      const plain = await app.http.post('/phone').send({ code: mock.issuePhoneCode(openid) });
      expect(plain.status, JSON.stringify(plain.body)).to.equal(200);
      expect(plain.body).to.have.all.keys('phoneNumber', 'purePhoneNumber', 'countryCode');
      mock.resetCalls();
      for (const code of ['c'.repeat(257), 42, null]) expectFailure(await app.http.post('/me/phone').set(H, token).send({ code }), 400, 'WX_BAD_REQUEST');
      expect(mock.callsTo(PHONE)).to.have.length(0);
    });

    it('POST /me/risk-rank and POST /encrypted-data/check', async () => {
      mock.setRiskRank(openid, 3);
      const rank = await app.http.post('/me/risk-rank').set(H, token).send({ scene: 0 });
      expect(rank.status, JSON.stringify(rank.body)).to.equal(200);
      expect(rank.body).to.deep.equal({ riskRank: 3 });
      const data = 'c2VjcmV0IHBob25lIG51bWJlciBjaXBoZXJ0ZXh0';
      const createTime = mock.registerEncryptedData(data);
      expect((await app.http.post('/encrypted-data/check').send({ encryptedData: data })).body).to.deep.equal({ valid: true, createTime });
      expect((await app.http.post('/encrypted-data/check').send({ encryptedData: `${data}x` })).body.valid).to.equal(false);
    });

    it('balance, buy, cancel, present move the balance; a repeated billNo is 502 with errcode 90012, not debited twice', async () => {
      mock.setBalance(openid, '1', 100);
      expect((await app.http.get('/me/balance?zoneId=1').set(H, token)).body).to.include({ balance: 100 });
      const buy = () => app.http.post('/me/buy').set(H, token).send({ billNo: 'bill-1', amount: 30, zoneId: '1', payitem: 'sword', remark: '剑 ⚔' });
      const bought = await buy();
      expect(bought.status, JSON.stringify(bought.body)).to.equal(200);
      expect(bought.body).to.include({ billNo: 'bill-1', balance: 70 });
      expectFailure(await buy(), 502, 'WX_UPSTREAM_ERROR', 90012);
      expect((await app.http.post('/me/cancel').set(H, token).send({ billNo: 'refund-1', payBillNo: 'bill-1', amount: 30 })).body.balance).to.equal(100);
      expect((await app.http.post('/me/present').set(H, token).send({ billNo: 'gift-1', amount: 5 })).body).to.deep.equal({ billNo: 'gift-1', balance: 105 });
      expect(mock.balanceOf(openid, '1').balance).to.equal(105);
    });

    it('-1 is retried with the same billNo (one debit); 90010 is 401 WX_SESSION_KEY_EXPIRED, repaired by X-WX-Code', async () => {
      mock.setBalance(openid, '1', 50);
      mock.fault(PAY, { errcode: -1 }, { times: 1 });
      expect((await app.http.post('/me/buy').set(H, token).send({ billNo: 'busy-1', amount: 10 })).status).to.equal(200);
      expect(mock.callsTo(PAY).map((call) => JSON.parse(call.body!).bill_no)).to.deep.equal(['busy-1', 'busy-1']);
      expect(mock.balanceOf(openid, '1').balance).to.equal(40);
      mock.fault(PAY, { errcode: 90010 }, { times: 1 });
      expectFailure(await app.http.post('/me/buy').set(H, token).send({ billNo: 'stale-1', amount: 10 }), 401, 'WX_SESSION_KEY_EXPIRED', 90010);
      const repaired = await app.http.post('/me/buy').set(H, token).set('X-WX-Code', mock.issueCode(openid)).send({ billNo: 'stale-1', amount: 10 });
      expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
      expect(mock.balanceOf(openid, '1').balance).to.equal(30);
    });

    it('refuses bad input with 400 WX_BAD_REQUEST before any call to WeChat', async () => {
      const bad: Array<Record<string, unknown>> = [
        { billNo: 'b-ok', amount: 0 }, { billNo: 'b-ok', amount: -5 }, { billNo: 'b-ok', amount: 1.5 }, { billNo: 'b-ok', amount: '10' },
        { billNo: '_underscore', amount: 1 }, { billNo: 'b'.repeat(64), amount: 1 }, { billNo: 'has space', amount: 1 }, { amount: 1 },
        { billNo: 'b-ok', amount: 1, zoneId: '' }, { billNo: 'b-ok', amount: 1, zoneId: 7 },
      ];
      for (const body of bad) expectFailure(await app.http.post('/me/buy').set(H, token).send(body), 400, 'WX_BAD_REQUEST');
      expect(mock.calls.filter((call) => GAME_PATHS.includes(call.path))).to.have.length(0);
    });
  });
}

describe('the payment routes on an app without the payment option', () => {
  for (const name of adapters) {
    it(`${name}: 500 WX_CONFIG_ERROR, no call to WeChat`, async () => {
      const app = await startApp(name);
      try {
        const { token } = await app.login();
        app.mock.resetCalls();
        expectFailure(await app.http.post('/me/buy').set(H, token).send({ billNo: 'b-1', amount: 1 }), 500, 'WX_CONFIG_ERROR');
        expect(app.mock.calls).to.have.length(0);
      } finally {
        await app.close();
      }
    });
  }
});
