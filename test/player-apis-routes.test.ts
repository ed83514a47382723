// The session_key's APIs and the mini-game virtual payment (DESIGN.md §9) through a route on every
// adapter of harness/apps.ts (Express 5 and 4, Koa 3 and 2), in front of the mock WeChat: what each
// route answers, what WeChat was sent, and the error table (§4) for what WeChat refuses: bad input
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

/** No AppKey, session_key or access token in what the route answered. */
function expectNothingSecret(res: Response, mock: MockWeChat, openid: string): void {
  for (const secret of [mock.payment.appKey, mock.payment.sandboxAppKey, mock.sessionKeyOf(openid), mock.currentAccessToken()]) {
    if (secret) expect(res.text ?? '').to.not.include(secret);
  }
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

    describe('resetKey', () => {
      it('POST /me/reset-key: 204, WeChat issued a new key, and signed calls go on with it', async () => {
        const old = mock.sessionKeyOf(openid);
        const res = await app.http.post('/me/reset-key').set(H, token);
        expect(res.status, JSON.stringify(res.body)).to.equal(204);
        expect(mock.sessionKeyOf(openid)).to.be.a('string').and.not.equal(old);
        const [call] = mock.callsTo('/wxa/resetusersessionkey');
        expect(call!.method).to.equal('GET');
        expect(call!.query).to.include({ openid, sig_method: 'hmac_sha256' });
        // The mock checks the payment signature against the player's current (new) key.
        mock.setBalance(openid, '1', 5);
        const balance = await app.http.get('/me/balance?zoneId=1').set(H, token);
        expect(balance.status, JSON.stringify(balance.body)).to.equal(200);
        expect(balance.body.balance).to.equal(5);
      });
    });

    describe('phoneNumber', () => {
      it("POST /me/phone: the player's number, the code bound to the session's openid and spent once", async () => {
        const code = mock.issuePhoneCode(openid, { phoneNumber: '13800138000', countryCode: '86' });
        const res = await app.http.post('/me/phone').set(H, token).send({ code });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body.phoneNumber).to.be.a('string').and.include('13800138000');
        expect(res.body.purePhoneNumber).to.be.a('string').and.include('13800138000');
        expect(res.body.countryCode).to.equal('86');
        expect(JSON.parse(mock.callsTo(PHONE)[0]!.body!)).to.deep.equal({ code, openid });
        expectFailure(await app.http.post('/me/phone').set(H, token).send({ code }), 401, 'WX_CODE_INVALID', 40029);
      });

      it("POST /me/phone refuses another player's code (WeChat checks the openid)", async () => {
        const code = mock.issuePhoneCode(`${openid}other`);
        const res = await app.http.post('/me/phone').set(H, token).send({ code });
        expect(res.status, JSON.stringify(res.body)).to.be.within(400, 599);
        expect(res.body.code).to.be.a('string');
      });

      it('POST /phone (no session): core.phoneNumber with and without an openid', async () => {
        const plain = await app.http.post('/phone').send({ code: mock.issuePhoneCode(openid) });
        expect(plain.status, JSON.stringify(plain.body)).to.equal(200);
        expect(plain.body).to.have.all.keys('phoneNumber', 'purePhoneNumber', 'countryCode');
        expect(plain.body.countryCode).to.be.a('string');
        const bound = await app.http.post('/phone').send({ code: mock.issuePhoneCode(openid), openid });
        expect(bound.status, JSON.stringify(bound.body)).to.equal(200);
      });

      it('refuses a code that is not a string or over 256 characters with 400 WX_BAD_REQUEST, before any call', async () => {
        for (const code of ['c'.repeat(257), 42, null]) {
          expectFailure(await app.http.post('/me/phone').set(H, token).send({ code }), 400, 'WX_BAD_REQUEST');
        }
        expect(mock.callsTo(PHONE)).to.have.length(0);
      });

      it('answers 45011 as 429 WX_RATE_LIMITED', async () => {
        mock.fault(PHONE, { errcode: 45011 }, { times: 1 });
        const res = await app.http.post('/me/phone').set(H, token).send({ code: mock.issuePhoneCode(openid) });
        expectFailure(res, 429, 'WX_RATE_LIMITED', 45011);
      });
    });

    describe('riskRank and checkEncryptedData', () => {
      it("POST /me/risk-rank: WeChat's risk_rank for the player, with the request's IP", async () => {
        mock.setRiskRank(openid, 3);
        const res = await app.http.post('/me/risk-rank').set(H, token).send({ scene: 0 });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body).to.deep.equal({ riskRank: 3 });
        const sent = JSON.parse(mock.callsTo('/wxa/getuserriskrank')[0]!.body!);
        expect(sent).to.include({ appid: mock.appId, openid, scene: 0 });
        expect(sent.client_ip).to.be.a('string').and.not.equal('');
      });

      it('POST /encrypted-data/check: valid for data WeChat issued, not for other data', async () => {
        const data = 'c2VjcmV0IHBob25lIG51bWJlciBjaXBoZXJ0ZXh0';
        const createTime = mock.registerEncryptedData(data);
        const known = await app.http.post('/encrypted-data/check').send({ encryptedData: data });
        expect(known.status, JSON.stringify(known.body)).to.equal(200);
        expect(known.body).to.deep.equal({ valid: true, createTime });
        const unknown = await app.http.post('/encrypted-data/check').send({ encryptedData: `${data}x` });
        expect(unknown.body.valid).to.equal(false);
      });
    });

    describe('virtual payment', () => {
      it('balance, buy, cancel and present move the mock balance; every answer without a secret', async () => {
        mock.setBalance(openid, '1', 100);
        const balance = await app.http.get('/me/balance?zoneId=1').set(H, token);
        expect(balance.status, JSON.stringify(balance.body)).to.equal(200);
        expect(balance.body).to.include({ balance: 100 });
        expect(balance.body).to.have.all.keys('balance', 'presentBalance', 'sumSave', 'sumPresent', 'sumBalance', 'sumCost', 'firstSave');

        const bought = await app.http.post('/me/buy').set(H, token).send({ billNo: 'bill-1', amount: 30, zoneId: '1', payitem: 'sword', remark: '剑 ⚔' });
        expect(bought.status, JSON.stringify(bought.body)).to.equal(200);
        expect(bought.body).to.include({ billNo: 'bill-1', balance: 70 });
        const refunded = await app.http.post('/me/cancel').set(H, token).send({ billNo: 'refund-1', payBillNo: 'bill-1', amount: 30, zoneId: '1' });
        expect(refunded.status, JSON.stringify(refunded.body)).to.equal(200);
        expect(refunded.body.balance).to.equal(100);
        const given = await app.http.post('/me/present').set(H, token).send({ billNo: 'gift-1', amount: 5 });
        expect(given.status, JSON.stringify(given.body)).to.equal(200);
        expect(given.body).to.deep.equal({ billNo: 'gift-1', balance: 105 });
        expect(mock.balanceOf(openid, '1').balance).to.equal(105);
        for (const res of [balance, bought, refunded, given]) expectNothingSecret(res, mock, openid);
      });

      it('a repeated billNo answers 502 WX_UPSTREAM_ERROR with errcode 90012 and is not debited twice', async () => {
        mock.setBalance(openid, '1', 50);
        const buy = () => app.http.post('/me/buy').set(H, token).send({ billNo: 'again-1', amount: 20, zoneId: '1' });
        expect((await buy()).status).to.equal(200);
        expectFailure(await buy(), 502, 'WX_UPSTREAM_ERROR', 90012);
        expect(mock.balanceOf(openid, '1').balance).to.equal(30);
      });

      it('-1 is retried with the same body and billNo: one debit', async () => {
        mock.setBalance(openid, '1', 50);
        mock.fault(PAY, { errcode: -1 }, { times: 1 });
        const res = await app.http.post('/me/buy').set(H, token).send({ billNo: 'busy-1', amount: 10, zoneId: '1' });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        const calls = mock.callsTo(PAY);
        expect(calls.map((call) => call.errcode)).to.deep.equal([-1, 0]);
        expect(JSON.parse(calls[1]!.body!).bill_no).to.equal('busy-1');
        expect(JSON.parse(calls[0]!.body!).bill_no).to.equal('busy-1');
        expect(mock.balanceOf(openid, '1').balance).to.equal(40);
      });

      it('90010 answers 401 WX_SESSION_KEY_EXPIRED; the next request with X-WX-Code repairs the key', async () => {
        mock.setBalance(openid, '1', 50);
        mock.fault(PAY, { errcode: 90010 }, { times: 1 });
        const refused = await app.http.post('/me/buy').set(H, token).send({ billNo: 'stale-1', amount: 10, zoneId: '1' });
        expectFailure(refused, 401, 'WX_SESSION_KEY_EXPIRED', 90010);
        expect(mock.balanceOf(openid, '1').balance).to.equal(50);
        const repaired = await app.http.post('/me/buy').set(H, token).set('X-WX-Code', mock.issueCode(openid)).send({ billNo: 'stale-1', amount: 10, zoneId: '1' });
        expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
        expect(mock.balanceOf(openid, '1').balance).to.equal(40);
      });

      it('refuses bad input with 400 WX_BAD_REQUEST before any call to WeChat', async () => {
        const bad: Array<Record<string, unknown>> = [
          { billNo: 'b-ok', amount: 0 }, { billNo: 'b-ok', amount: -5 }, { billNo: 'b-ok', amount: 1.5 }, { billNo: 'b-ok', amount: '10' },
          { billNo: 'b-ok', amount: 2 ** 53 }, { billNo: '_starts-with-underscore', amount: 1 }, { billNo: 'b'.repeat(64), amount: 1 },
          { billNo: 'has space', amount: 1 }, { billNo: 'ünïcode', amount: 1 }, { billNo: '', amount: 1 }, { amount: 1 },
          { billNo: 'b-ok', amount: 1, zoneId: '' }, { billNo: 'b-ok', amount: 1, zoneId: 7 },
        ];
        for (const body of bad) expectFailure(await app.http.post('/me/buy').set(H, token).send(body), 400, 'WX_BAD_REQUEST');
        expectFailure(await app.http.post('/me/cancel').set(H, token).send({ billNo: 'r-1', payBillNo: '_x', amount: 1 }), 400, 'WX_BAD_REQUEST');
        expectFailure(await app.http.post('/me/present').set(H, token).send({ billNo: 'g-1', amount: -1 }), 400, 'WX_BAD_REQUEST');
        expectFailure(await app.http.get('/me/balance?zoneId=').set(H, token), 400, 'WX_BAD_REQUEST');
        expect(mock.calls.filter((call) => GAME_PATHS.includes(call.path))).to.have.length(0);
      });

      it('a 63-character billNo of every allowed character is accepted', async () => {
        mock.setBalance(openid, '1', 5);
        const billNo = `0-${'aZ_9'.repeat(15)}z`;
        expect(billNo).to.have.length(63);
        const res = await app.http.post('/me/buy').set(H, token).send({ billNo, amount: 1 });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      });

      it('refuses the payment routes without a session: 401 WX_SESSION_MISSING', async () => {
        expectFailure(await app.http.get('/me/balance'), 401, 'WX_SESSION_MISSING');
        expectFailure(await app.http.post('/me/buy').send({ billNo: 'x', amount: 1 }), 401, 'WX_SESSION_MISSING');
        expect(mock.calls).to.have.length(0);
      });
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
        const res = await app.http.post('/me/buy').set(H, token).send({ billNo: 'b-1', amount: 1 });
        expectFailure(res, 500, 'WX_CONFIG_ERROR');
        expect(res.body.message).to.match(/payment is not configured/);
        expect(app.mock.calls).to.have.length(0);
      } finally {
        await app.close();
      }
    });
  }
});
