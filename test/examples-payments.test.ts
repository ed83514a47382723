// The example servers' shop and phone binding (examples/shop.ts, mounted by examples/express, koa,
// fastify, hono and nestjs), each app on a real port in front of the mock WeChat with its payment settings:
// balance, a buy, a retried buy with the same billNo (one debit), 90012 after a lost answer (the
// item granted, not charged again), too few coins, a stale session_key repaired with X-WX-Code,
// bad input refused before any call to WeChat, another zone by ?zoneId=, the phone number bound to
// the session, and 501 on a server without the payment option. Also: each example run as a user
// runs it, its payment option read from the environment (the sandbox, or none).
import type { Server } from 'node:http';
import { expect } from 'chai';
import type { WxSessionOptions } from 'wx-session';
import { paymentFromEnv } from '../examples/shop.js';
import { closeServer, listen } from '../harness/apps.js';
import { call } from './support/http.js';
import { examples, freshWeChat, login, PLAYER, runExample, SECRET } from './support/examples.js';

const ZONE = '1';
const PAY = '/wxa/game/pay';

for (const example of examples) {
  describe(`examples/${example.name}: the shop and the phone binding`, () => {
    const wechat = freshWeChat();
    let server: Server;
    let url: string;
    let token: string;

    /** The example on the mock, with the mock's payment settings unless told otherwise. */
    async function start(payment = true): Promise<void> {
      const { mock } = wechat;
      const options: WxSessionOptions = { appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url, timeout: 1000 };
      if (payment) options.payment = { offerId: mock.payment.offerId, appKey: mock.payment.appKey };
      ({ server, url } = await listen(example.handler(options)));
      token = await login(url + example.loginPath, mock.issueCode(PLAYER), PLAYER);
    }
    afterEach(() => closeServer(server));

    const buy = (json: unknown, as = token) => call(`${url}/me/buy`, { token: as, json });
    const me = async () => (await call(`${url}/me`, { token })).body.data as Record<string, unknown>;

    it('reads the balance and buys an item at the server\'s price; a retry with the same billNo is not charged again', async () => {
      await start();
      const { mock } = wechat;
      mock.setBalance(PLAYER, ZONE, 100);
      const balance = await call(`${url}/me/balance`, { token });
      expect(balance.status, balance.text).to.equal(200);
      expect(balance.body).to.deep.equal({ balance: 100, presentBalance: 0 });

      const first = await buy({ item: 'sword', billNo: 'order-1', amount: 1 });
      expect(first.status, first.text).to.equal(200);
      expect(first.body).to.deep.equal({ item: 'sword', billNo: 'order-1', balance: 70 });
      const again = await buy({ item: 'sword', billNo: 'order-1' });
      expect(again.status, again.text).to.equal(200);
      expect(again.body).to.deep.equal({ item: 'sword', billNo: 'order-1', alreadyPaid: true });
      expect(mock.balanceOf(PLAYER, ZONE).balance).to.equal(70);
      expect(mock.payments.map((p) => [p.billNo, p.amount])).to.deep.equal([['order-1', 30]]);
      expect((await me()).purchases).to.deep.equal({ 'order-1': { item: 'sword', zoneId: ZONE } });
      const reused = await buy({ item: 'shield', billNo: 'order-1' });
      expect(reused.status).to.equal(409);
      expect(reused.body.code).to.equal('BILL_NO_REUSED');
    });

    it('?zoneId= names another zone for the balance and the buy; an empty or repeated one is 400 before any call', async () => {
      await start();
      const { mock } = wechat;
      mock.setBalance(PLAYER, '2', 40);
      mock.setBalance(PLAYER, ZONE, 100);
      const zone2 = await call(`${url}/me/balance?zoneId=2`, { token });
      expect(zone2.status, zone2.text).to.equal(200);
      expect(zone2.body).to.deep.equal({ balance: 40, presentBalance: 0 });
      const bought = await call(`${url}/me/buy?zoneId=2`, { token, json: { item: 'potion', billNo: 'order-z2' } });
      expect(bought.body, bought.text).to.deep.equal({ item: 'potion', billNo: 'order-z2', balance: 35 });
      expect(mock.balanceOf(PLAYER, ZONE).balance, 'the default zone untouched').to.equal(100);
      const elsewhere = await buy({ item: 'potion', billNo: 'order-z2' });
      expect(elsewhere.status, 'the same billNo in another zone would be a second charge').to.equal(409);
      const before = mock.calls.length;
      for (const query of ['?zoneId=', '?zoneId=1&zoneId=2']) {
        const answer = await call(`${url}/me/balance${query}`, { token });
        expect(answer.status, query).to.equal(400);
        expect(answer.body.code, query).to.equal('WX_BAD_REQUEST');
      }
      expect(mock.calls.length, 'no call to WeChat').to.equal(before);
    });

    it('an answer lost after WeChat paid: the retry with the same billNo grants the item once', async () => {
      await start();
      const { mock } = wechat;
      mock.setBalance(PLAYER, ZONE, 100);
      mock.fault(PAY, { delay: 1500 }, { times: 1 });
      const lost = await buy({ item: 'shield', billNo: 'order-lost' });
      expect(lost.status, lost.text).to.equal(504);
      expect(lost.body.code).to.equal('WX_UPSTREAM_TIMEOUT');
      // The late pay reaches the mock; whichever of it and the retry lands first pays.
      const retry = await buy({ item: 'shield', billNo: 'order-lost' });
      expect(retry.status, retry.text).to.equal(200);
      await waitFor(() => mock.callsTo(PAY).length >= 2);
      expect(mock.balanceOf(PLAYER, ZONE).balance).to.be.oneOf([80, 100]);
      const settled = await buy({ item: 'shield', billNo: 'order-lost' });
      expect(settled.status, settled.text).to.equal(200);
      expect(mock.balanceOf(PLAYER, ZONE).balance, 'paid exactly once').to.equal(80);
      expect((await me()).purchases).to.deep.equal({ 'order-lost': { item: 'shield', zoneId: ZONE } });
    });

    it('too few coins is 409 NOT_ENOUGH_COINS; an unknown item is 400 BAD_ITEM; bad billNos are 400 WX_BAD_REQUEST before any call', async () => {
      await start();
      const { mock } = wechat;
      mock.setBalance(PLAYER, ZONE, 10);
      const poor = await buy({ item: 'sword', billNo: 'order-2' });
      expect(poor.status, poor.text).to.equal(409);
      expect(poor.body.code).to.equal('NOT_ENOUGH_COINS');
      const before = mock.callsTo(PAY).length;
      for (const json of [{ item: 'crown', billNo: 'x' }, { billNo: 'x' }, []]) {
        const answer = await buy(json);
        expect(answer.status, JSON.stringify(json)).to.equal(400);
        expect(answer.body.code).to.equal('BAD_ITEM');
      }
      for (const billNo of ['_starts-with-underscore', 'has space', 'x'.repeat(64), '', 42, undefined]) {
        const answer = await buy({ item: 'potion', billNo });
        expect(answer.status, JSON.stringify(billNo)).to.equal(400);
        expect(answer.body.code).to.equal('WX_BAD_REQUEST');
      }
      for (const raw of ['{"item":', 'null', '"sword"']) {
        const malformed = await call(`${url}/me/buy`, { token, raw });
        expect(malformed.status, raw).to.equal(400);
        expect(malformed.body.code, raw).to.be.oneOf(['WX_BAD_REQUEST', 'BAD_ITEM']);
      }
      expect(mock.callsTo(PAY).length, 'no call to WeChat for bad input').to.equal(before);
      expect(mock.balanceOf(PLAYER, ZONE).balance).to.equal(10);
    });

    it('a key WeChat no longer accepts (90010) is 401 WX_SESSION_KEY_EXPIRED; the retry with X-WX-Code buys with the same token', async () => {
      await start();
      const { mock } = wechat;
      mock.setBalance(PLAYER, ZONE, 100);
      mock.rotateSessionKey(PLAYER);
      const stale = await buy({ item: 'potion', billNo: 'order-3' });
      expect(stale.status, stale.text).to.equal(401);
      expect(stale.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
      expect(mock.balanceOf(PLAYER, ZONE).balance).to.equal(100);
      const repaired = await call(`${url}/me/buy`, { token, code: mock.issueCode(PLAYER), json: { item: 'potion', billNo: 'order-3' } });
      expect(repaired.status, repaired.text).to.equal(200);
      expect(repaired.body).to.include({ balance: 95 });
      expect(repaired.headers.get('x-wx-session-token'), 'the same token').to.equal(null);
      expect((await call(`${url}/me/balance`, { token })).body.balance).to.equal(95);
    });

    it('binds the phone number to the session; a spent code is 401 WX_CODE_INVALID, a code over 256 characters 400', async () => {
      await start(false);
      const { mock } = wechat;
      const code = mock.issuePhoneCode(PLAYER, { phoneNumber: '13912345678' });
      const bound = await call(`${url}/me/phone`, { token, json: { code } });
      expect(bound.status, bound.text).to.equal(200);
      expect(bound.body).to.deep.equal({ phoneNumber: '13912345678', countryCode: '86' });
      expect((await me()).phone).to.equal('13912345678');
      const spent = await call(`${url}/me/phone`, { token, json: { code } });
      expect(spent.status).to.equal(401);
      expect(spent.body.code).to.equal('WX_CODE_INVALID');
      const calls = mock.callsTo('/wxa/business/getuserphonenumber').length;
      for (const json of [{ code: 'c'.repeat(257) }, { code: 7 }, {}]) {
        const answer = await call(`${url}/me/phone`, { token, json });
        expect(answer.status, JSON.stringify(json)).to.equal(400);
        expect(answer.body.code).to.equal('WX_BAD_REQUEST');
      }
      expect(mock.callsTo('/wxa/business/getuserphonenumber').length).to.equal(calls);
    });

    it('without the payment option, the payment routes answer 501 PAYMENT_NOT_CONFIGURED; no session, 401 first', async () => {
      await start(false);
      for (const answer of [await call(`${url}/me/balance`, { token }), await buy({ item: 'potion', billNo: 'order-4' })]) {
        expect(answer.status, answer.text).to.equal(501);
        expect(answer.body.code).to.equal('PAYMENT_NOT_CONFIGURED');
      }
      expect(wechat.mock.callsTo(PAY)).to.deep.equal([]);
      const anonymous = await call(`${url}/me/buy`, { json: { item: 'potion', billNo: 'order-5' } });
      expect(anonymous.status).to.equal(401);
    });
  });
}

for (const example of examples) {
  describe(`examples/${example.name}: run directly, the payment option from the environment`, function () {
    this.timeout(20_000);
    const wechat = freshWeChat();

    /** The example as a user runs it, with the mock's credentials and `vars`; what `ask` saw, after SIGTERM. */
    async function run(vars: Record<string, string>, ask: (url: string, token: string) => Promise<void>): Promise<void> {
      const { mock } = wechat;
      const child = runExample(example, { PORT: '0', WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: mock.url, ...vars });
      try {
        const [, url] = await child.waitFor(/listening on (http:\/\/localhost:\d+)/, 15_000);
        await ask(url!, await login(url + example.loginPath, mock.issueCode(PLAYER), PLAYER));
      } finally {
        await child.stop();
      }
      expect(child.stdout + child.stderr).to.not.include(mock.payment.appKey).and.not.include(mock.payment.sandboxAppKey);
    }

    it('WX_PAY_ENV=1 with WX_PAY_SANDBOX_APPKEY: the buy moves the sandbox balance, signed with the sandbox AppKey', async () => {
      const { mock } = wechat;
      mock.setBalance(PLAYER, ZONE, 50, 1);
      const { offerId, appKey, sandboxAppKey } = mock.payment;
      await run({ WX_OFFER_ID: offerId, WX_PAY_APPKEY: appKey, WX_PAY_SANDBOX_APPKEY: sandboxAppKey, WX_PAY_ENV: '1' }, async (url, token) => {
        const bought = await call(`${url}/me/buy`, { token, json: { item: 'shield', billNo: 'order-sandbox' } });
        expect(bought.status, bought.text).to.equal(200);
        expect(bought.body).to.include({ balance: 30 });
      });
      expect(mock.balanceOf(PLAYER, ZONE, 1).balance).to.equal(30);
      expect(mock.payments.map((p) => [p.env, p.billNo])).to.deep.equal([[1, 'order-sandbox']]);
    });

    it('without WX_OFFER_ID and WX_PAY_APPKEY: 501 PAYMENT_NOT_CONFIGURED, the phone binding still served', async () => {
      const { mock } = wechat;
      await run({ WX_OFFER_ID: '', WX_PAY_APPKEY: '' }, async (url, token) => {
        const balance = await call(`${url}/me/balance`, { token });
        expect(balance.status, balance.text).to.equal(501);
        expect(balance.body.code).to.equal('PAYMENT_NOT_CONFIGURED');
        const phone = await call(`${url}/me/phone`, { token, json: { code: mock.issuePhoneCode(PLAYER) } });
        expect(phone.status, phone.text).to.equal(200);
      });
      expect(mock.callsTo('/wxa/game/getbalance')).to.deep.equal([]);
    });
  });
}

describe('examples/shop.ts: the payment option from the environment', () => {
  it('needs WX_OFFER_ID and WX_PAY_APPKEY; a sandbox key and WX_PAY_ENV=1 choose the sandbox', () => {
    expect(paymentFromEnv({})).to.equal(undefined);
    expect(paymentFromEnv({ WX_OFFER_ID: '1450000001' })).to.equal(undefined);
    expect(paymentFromEnv({ WX_OFFER_ID: '1450000001', WX_PAY_APPKEY: 'p' })).to.deep.equal({ offerId: '1450000001', appKey: 'p', env: 0 });
    expect(paymentFromEnv({ WX_OFFER_ID: '1', WX_PAY_APPKEY: 'p', WX_PAY_SANDBOX_APPKEY: 's', WX_PAY_ENV: '1' })).to.deep.equal({ offerId: '1', appKey: { production: 'p', sandbox: 's' }, env: 1 });
  });
});

async function waitFor(done: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
