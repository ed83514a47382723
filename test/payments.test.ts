// Mini-game virtual payment 2.0 through the core against the mock WeChat (docs/payments.md):
// balances move; both signatures over the exact bytes sent, ts from the core's clock; billNo
// idempotent (90012 keeps its errcode, no double debit); -1 retried with the same bytes; 90010
// marks the key stale and a later authenticate with a code repairs it; the sandbox signs with its
// own AppKey; bad input refused before any call; no secret in any error or log line.
import { expect } from 'chai';
import { createWxSession, type WxSession } from '../src/index.js';
import { startMockWeChat, type MockCall, type MockWeChat } from '../src/testing/index.js';
import { coreOptions } from '../harness/apps.js';
import { startFor } from './support/hooks.js';
import { hmacHex } from './support/keys.js';
import { callCount, expectClean, expectRejection, IP, loginAs, paymentOption, playerCore, ZONE, type PlayerCore } from './support/payments.js';

const PAY = '/wxa/game/pay';
const BALANCE = '/wxa/game/getbalance';

/** The call carried both signatures over its exact body bytes, with the key and AppKey given. */
function expectSigned(call: MockCall | undefined, uri: string, sessionKey: string, appKey: string): Record<string, unknown> {
  expect(call, `a call to ${uri}`).to.not.equal(undefined);
  const body = call!.body!;
  expect(call!.query.sig_method).to.equal('hmac_sha256');
  expect(call!.query.signature === hmacHex(sessionKey, Buffer.from(body, 'utf8')), 'signature over the exact body').to.equal(true);
  expect(call!.query.pay_sig === hmacHex(appKey, `${uri}&${body}`), 'pay_sig over uri & body').to.equal(true);
  return JSON.parse(body) as Record<string, unknown>;
}

describe('mini-game virtual payment through the core', () => {
  let mock: MockWeChat;
  let player: PlayerCore;
  startFor('block', async () => (mock = await startMockWeChat()));
  beforeEach(() => {
    player = playerCore(mock);
    mock.clearFaults();
    mock.resetCalls();
  });
  afterEach(() => expectClean(player, player.logger.text, 'the log'));

  async function funded(openid: string, coins: number): Promise<{ token: string; session: WxSession }> {
    const login = await loginAs(player, openid);
    mock.setBalance(openid, ZONE, coins);
    return login;
  }

  it('balance, pay, present and cancel move the balance, each signed over the bytes sent', async () => {
    const openid = 'oPayFlow';
    const { session } = await funded(openid, 100);
    const key = mock.sessionKeyOf(openid)!;
    const balance = await session.payments.balance({ zoneId: ZONE, userIp: IP });
    expect(balance).to.deep.equal({ balance: 100, presentBalance: 0, sumSave: 100, sumPresent: 0, sumBalance: 100, sumCost: 0, firstSave: true });
    expect(await session.payments.pay({ amount: 30, billNo: 'order-1', zoneId: ZONE, userIp: IP, payitem: 'sword', remark: '剑' })).to.deep.equal({ billNo: 'order-1', balance: 70, usedPresentAmount: 0 });
    expect(await session.payments.present({ amount: 5, billNo: 'gift-1', zoneId: ZONE, userIp: IP })).to.deep.equal({ billNo: 'gift-1', balance: 75 });
    expect(await session.payments.cancel({ amount: 30, billNo: 'refund-1', payBillNo: 'order-1', zoneId: ZONE, userIp: IP })).to.deep.equal({ billNo: 'refund-1', balance: 105, usedPresentAmount: 0 });
    expect(mock.balanceOf(openid, ZONE)).to.deep.equal({ balance: 105, presentBalance: 5 });
    expect(mock.payments.filter((p) => p.openid === openid).map((p) => [p.kind, p.billNo, p.amount])).to.deep.equal([['pay', 'order-1', 30], ['present', 'gift-1', 5], ['cancel', 'refund-1', 30]]);

    const pay = expectSigned(mock.callsTo(PAY)[0], PAY, key, mock.payment.appKey);
    expect(Object.keys(pay)).to.deep.equal(['openid', 'offer_id', 'ts', 'zone_id', 'env', 'user_ip', 'amount', 'bill_no', 'payitem', 'remark']);
    expect(pay).to.include({ openid, offer_id: mock.payment.offerId, zone_id: ZONE, env: 0, user_ip: IP, amount: 30, bill_no: 'order-1', remark: '剑' });
    expectSigned(mock.callsTo(BALANCE)[0], BALANCE, key, mock.payment.appKey);
    expectSigned(mock.callsTo('/wxa/game/present')[0], '/wxa/game/present', key, mock.payment.appKey);
    const cancel = expectSigned(mock.callsTo('/wxa/game/cancelpay')[0], '/wxa/game/cancelpay', key, mock.payment.appKey);
    expect(cancel).to.include({ bill_no: 'refund-1', pay_bill_no: 'order-1' });
  });

  it("ts is the core's clock in unix seconds", async () => {
    const at = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
    player = playerCore(mock, { now: () => at });
    const { session } = await funded('oPayClock', 10);
    await session.payments.balance({ zoneId: ZONE, userIp: IP });
    expect(JSON.parse(mock.callsTo(BALANCE)[0]!.body!).ts).to.equal(Math.floor(at / 1000));
  });

  it('a billNo used before answers 90012 (errcode kept, not logged) and debits nothing again', async () => {
    const openid = 'oPayTwice';
    const { session } = await funded(openid, 50);
    await session.payments.pay({ amount: 20, billNo: 'dup-1', zoneId: ZONE, userIp: IP });
    await expectRejection(player, session.payments.pay({ amount: 20, billNo: 'dup-1', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR', 90012, openid);
    expect(mock.balanceOf(openid, ZONE).balance).to.equal(30);
    expect(mock.payments.filter((p) => p.billNo === 'dup-1')).to.have.length(1);
    await expectRejection(player, session.payments.pay({ amount: 31, billNo: 'too-much', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR', 90013, openid);
    expect(player.logger.text, 'business answers are not outages').to.not.include('/wxa/game');
  });

  it('-1 is retried with the same bytes and bill_no; one debit', async () => {
    const openid = 'oPayBusy';
    const { session } = await funded(openid, 50);
    mock.fault(PAY, { errcode: -1 }, { times: 2 });
    expect(await session.payments.pay({ amount: 10, billNo: 'busy-1', zoneId: ZONE, userIp: IP })).to.include({ billNo: 'busy-1', balance: 40 });
    const calls = mock.callsTo(PAY);
    expect(calls.map((c) => c.errcode)).to.deep.equal([-1, -1, 0]);
    expect(new Set(calls.map((c) => `${c.body} ${c.query.signature} ${c.query.pay_sig}`)).size, 'identical requests').to.equal(1);
    expect(mock.payments.filter((p) => p.openid === openid)).to.have.length(1);
  });

  it('-1 three times in a row rejects WX_UPSTREAM_ERROR -1 after three attempts', async () => {
    const { session } = await funded('oPayBusier', 50);
    mock.fault(PAY, { errcode: -1 }, { times: 3 });
    await expectRejection(player, session.payments.pay({ amount: 10, billNo: 'busy-2', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR', -1);
    expect(mock.callsTo(PAY)).to.have.length(3);
    expect(player.logger.text).to.include(PAY);
  });

  it('90010 (stale key) rejects WX_SESSION_KEY_EXPIRED, marks the key stale, and a later authenticate with a code repairs it', async () => {
    const openid = 'oPayStale';
    const { token, session } = await funded(openid, 50);
    mock.rotateSessionKey(openid);
    await expectRejection(player, session.payments.pay({ amount: 10, billNo: 'stale-1', zoneId: ZONE, userIp: IP }), 'WX_SESSION_KEY_EXPIRED', 90010, openid);
    expect(player.store.records.get(session.id)!.keyStale).to.equal(true);
    expect(mock.balanceOf(openid, ZONE).balance).to.equal(50);
    expect((await player.core.authenticate(token)).code).to.equal('WX_SESSION_KEY_EXPIRED');
    const repaired = await player.core.authenticate(token, { code: mock.issueCode(openid) });
    expect(repaired.session, 'repaired in place').to.not.equal(null);
    expect(await repaired.session!.payments.pay({ amount: 10, billNo: 'stale-1', zoneId: ZONE, userIp: IP })).to.include({ balance: 40 });
  });

  it('an injected 90010 marks the key stale as well', async () => {
    const { session } = await funded('oPayStale2', 50);
    mock.fault(BALANCE, { errcode: 90010 }, { times: 1 });
    await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_SESSION_KEY_EXPIRED', 90010);
    expect(player.store.records.get(session.id)!.keyStale).to.equal(true);
  });

  it('45011 -> WX_RATE_LIMITED; a revoked access token is renewed and the same bytes sent again', async () => {
    const openid = 'oPayToken';
    const { session } = await funded(openid, 50);
    mock.fault(PAY, { errcode: 45011 }, { times: 1 });
    await expectRejection(player, session.payments.pay({ amount: 1, billNo: 'rl-1', zoneId: ZONE, userIp: IP }), 'WX_RATE_LIMITED', 45011);
    mock.revokeAccessTokens();
    mock.resetCalls();
    await session.payments.pay({ amount: 1, billNo: 'rl-1', zoneId: ZONE, userIp: IP });
    const calls = mock.callsTo(PAY);
    expect(calls.map((c) => c.errcode)).to.deep.equal([40001, 0]);
    expect(calls[0]!.body).to.equal(calls[1]!.body);
    expect(mock.balanceOf(openid, ZONE).balance).to.equal(49);
  });

  it('a timeout rejects WX_UPSTREAM_TIMEOUT and is not retried', async () => {
    player = playerCore(mock, { timeout: 200 });
    const { session } = await funded('oPayHang', 50);
    mock.fault(PAY, { hang: true }, { times: 1 });
    await expectRejection(player, session.payments.pay({ amount: 1, billNo: 'hang-1', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_TIMEOUT');
    expect(mock.callsTo(PAY)).to.have.length(1);
  });

  it('the sandbox (env 1) signs with the sandbox AppKey and moves the sandbox balance', async () => {
    const openid = 'oPaySandbox';
    player = playerCore(mock, { payment: paymentOption(mock, 1) });
    const { session } = await loginAs(player, openid);
    mock.setBalance(openid, ZONE, 9, 1);
    await session.payments.pay({ amount: 4, billNo: 'sb-1', zoneId: ZONE, userIp: IP });
    expect(mock.balanceOf(openid, ZONE, 1).balance).to.equal(5);
    expect(expectSigned(mock.callsTo(PAY)[0], PAY, mock.sessionKeyOf(openid)!, mock.payment.sandboxAppKey).env).to.equal(1);
    // A plain string appKey is the key of the env configured.
    player = playerCore(mock, { payment: { offerId: mock.payment.offerId, appKey: mock.payment.sandboxAppKey, env: 1 } });
    const again = await loginAs(player, openid);
    expect((await again.session.payments.balance({ zoneId: ZONE, userIp: IP })).balance).to.equal(5);
  });

  it('a wrong AppKey: 90011, WX_UPSTREAM_ERROR, logged as a setup problem without the key', async () => {
    player = playerCore(mock, { payment: { offerId: mock.payment.offerId, appKey: 'a-wrong-app-key-0123456789abcdef' } });
    const { session } = await funded('oPayWrongKey', 5);
    await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR', 90011);
    expect(player.logger.text).to.include('90011').and.not.include('a-wrong-app-key');
    const line = player.logger.lines.find((entry) => String(entry[1]).includes('pay_sig'));
    expect(line?.[0], 'a setup problem is logger.error').to.equal('error');
  });

  it("no payment option -> WX_CONFIG_ERROR 'payment is not configured', no call", async () => {
    player = playerCore(mock, { payment: undefined });
    const { session } = await loginAs(player, 'oPayNone');
    const before = callCount(mock);
    const error = await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_CONFIG_ERROR');
    expect(error.message).to.equal('payment is not configured');
    expect(callCount(mock)).to.equal(before);
  });

  it('the payment option is validated at construction, the AppKey never quoted', () => {
    const appKey = 'secret-app-key-that-must-not-show';
    const bad: unknown[] = [
      null,
      'x',
      { appKey },
      { offerId: '', appKey },
      { offerId: '1', appKey: '' },
      { offerId: '1', appKey: { production: appKey } },
      { offerId: '1', appKey: { production: appKey, sandbox: '' } },
      { offerId: '1', appKey, env: 2 },
    ];
    for (const payment of bad) {
      expect(() => createWxSession(coreOptions(mock, { payment: payment as never })), JSON.stringify(payment))
        .to.throw(TypeError, /^wx-session: payment/)
        .with.property('message')
        .that.does.not.include(appKey);
    }
  });

  describe('bad input -> WX_BAD_REQUEST with no call to WeChat', () => {
    const base = { amount: 1, billNo: 'ok-1', zoneId: ZONE, userIp: IP };
    const rows: Array<[string, 'pay' | 'cancel' | 'present' | 'balance', Record<string, unknown> | undefined]> = [
      ['no input', 'balance', undefined],
      ['no zoneId', 'balance', { userIp: IP }],
      ['an empty zoneId', 'pay', { ...base, zoneId: '' }],
      ['a numeric zoneId', 'pay', { ...base, zoneId: 1 }],
      ['no userIp', 'pay', { ...base, userIp: undefined }],
      ['an empty userIp', 'present', { ...base, userIp: '' }],
      ['amount 0', 'pay', { ...base, amount: 0 }],
      ['a negative amount', 'present', { ...base, amount: -5 }],
      ['a fractional amount', 'pay', { ...base, amount: 1.5 }],
      ['an amount past 2^53', 'pay', { ...base, amount: 2 ** 53 }],
      ['a string amount', 'pay', { ...base, amount: '1' }],
      ['NaN', 'cancel', { ...base, payBillNo: 'p-1', amount: NaN }],
      ['no billNo', 'pay', { ...base, billNo: undefined }],
      ['an empty billNo', 'pay', { ...base, billNo: '' }],
      ['a billNo starting with _', 'pay', { ...base, billNo: '_abc' }],
      ['a billNo of 64 characters', 'present', { ...base, billNo: 'a'.repeat(64) }],
      ['a billNo with a dot', 'pay', { ...base, billNo: 'a.b' }],
      ['a billNo with unicode', 'pay', { ...base, billNo: 'ordér' }],
      ['no payBillNo', 'cancel', { ...base }],
      ['a bad payBillNo', 'cancel', { ...base, payBillNo: '_p' }],
      ['a non-string payitem', 'pay', { ...base, payitem: 3 }],
      ['a non-string remark', 'pay', { ...base, remark: {} }],
    ];
    for (const [title, kind, input] of rows) {
      it(`${kind}: ${title}`, async () => {
        const { session } = await funded(`oPayBad${kind}`, 10);
        const before = callCount(mock);
        await expectRejection(player, session.payments[kind](input as never), 'WX_BAD_REQUEST');
        expect(callCount(mock)).to.equal(before);
      });
    }

    it('a billNo of 63 characters and one starting with - are accepted', async () => {
      const { session } = await funded('oPayEdge', 10);
      await session.payments.pay({ ...base, billNo: 'b'.repeat(63) });
      await session.payments.pay({ ...base, billNo: '-a_b' });
      expect(mock.balanceOf('oPayEdge', ZONE).balance).to.equal(8);
    });
  });
});
