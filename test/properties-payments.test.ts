// Properties of the virtual payment's signatures (docs/payments.md): they are computed over the
// exact bytes sent, not over a JSON value. For any input (free text of any unicode, amounts,
// billNos by WeChat's rule) the request the mock received, caught byte for byte by a tap in
// between, carries `signature` = HMAC-SHA256(session_key text, body bytes) and `pay_sig` =
// HMAC-SHA256(AppKey, uri + '&' + body bytes), lowercase hex, and the mock takes it. The same JSON
// value written as other bytes (key order, whitespace, escapes) signs differently and is refused;
// any one-byte change of a signed body is refused (90010). Cases: 40 per property by default,
// FUZZ_RUNS for the long run (test/support/properties-run.ts).
import { expect } from 'chai';
import fc from 'fast-check';
import { signPayload, signPayment, type WxSession } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { PAYMENT_PATHS, paymentFields, paymentRequest, type PaymentKind } from '../src/wechat/payments.js';
import { loginAs, playerCore, type PlayerCore } from './support/payments.js';
import { RUNS, TEST_TIMEOUT, params } from './support/properties-run.js';
import { amountArb, billNoArb, expectedForChanged, hmac, ipArb, mutate, mutationArb, payInputArb, postSigned, rewrite, rewriteArb, wildText } from './support/properties-payments.js';
import { startWireTap, type TappedCall, type WireTap } from './support/wire-tap.js';

/** Each case is a round trip or three to the mock: small for CI unless FUZZ_RUNS asks for more. */
const CASES = process.env.FUZZ_RUNS ? RUNS : 40;
const HEX64 = /^[0-9a-f]{64}$/;

describe('properties: payment signatures are over the exact bytes sent', function () {
  this.timeout(TEST_TIMEOUT);
  let mock: MockWeChat;
  let tap: WireTap;
  let player: PlayerCore;
  let session: WxSession;
  let openid: string;
  let zones = 0;

  before(async () => {
    mock = await startMockWeChat();
    tap = await startWireTap(mock.url);
    player = playerCore(mock, { apiBase: tap.url, timeout: 10_000 });
    openid = 'oPropertiesPayments';
    ({ session } = await loginAs(player, openid));
    // The core holds an access token from here on (the raw posts below use it too).
    await session.payments.balance({ zoneId: 'warm', userIp: '127.0.0.1' });
  });
  after(async () => {
    await tap?.close();
    await mock?.close();
  });

  /** A zone of its own per case (bill_no is idempotent per zone), its name any unicode. */
  const zoneOf = (text: string) => `${++zones}${text}`;
  const appKey = () => mock.payment.appKey;
  const sessionKey = () => mock.sessionKeyOf(openid)!;

  /** The one call the tap saw to `path` since it was cleared, checked signed over its bytes as they arrived. */
  function expectSignedOver(path: string): TappedCall {
    const calls = tap.callsTo(path);
    expect(calls, `one call to ${path}`).to.have.length(1);
    const call = calls[0]!;
    const signature = call.query.get('signature');
    const paySig = call.query.get('pay_sig');
    expect(signature).to.match(HEX64);
    expect(paySig).to.match(HEX64);
    expect(signature, 'signature = HMAC(session_key text, body bytes)').to.equal(hmac(sessionKey(), call.body));
    expect(paySig, "pay_sig = HMAC(AppKey, uri + '&' + body bytes)").to.equal(hmac(appKey(), `${path}&`, call.body));
    expect(call.query.get('sig_method')).to.equal('hmac_sha256');
    expect(signPayment({ uri: path, body: call.body, appKey: appKey() }), 'signPayment over the bytes').to.equal(paySig);
    expect(call.answer?.errcode, `the mock took it: ${JSON.stringify(call.answer)}`).to.equal(0);
    return call;
  }

  it('pay: any payitem, remark, zone, amount and billNo is sent signed over the bytes the mock received, and taken', async () => {
    await fc.assert(
      fc.asyncProperty(payInputArb, async ({ zone, ...input }) => {
        const zoneId = zoneOf(zone);
        mock.setBalance(openid, zoneId, input.amount);
        tap.clear();
        const result = await session.payments.pay({ ...input, zoneId });
        expect(result).to.deep.equal({ billNo: input.billNo, balance: 0, usedPresentAmount: 0 });
        const call = expectSignedOver(PAYMENT_PATHS.pay);
        // The bytes carry the input's values as they were, nothing added, nothing lost.
        const sent = JSON.parse(call.body.toString('utf8')) as Record<string, unknown>;
        expect(sent).to.deep.include({ openid, zone_id: zoneId, user_ip: input.userIp, amount: input.amount, bill_no: input.billNo, offer_id: mock.payment.offerId, env: 0 });
        expect(sent.payitem).to.equal(input.payitem);
        expect(sent.remark).to.equal(input.remark);
        expect(Buffer.from(JSON.stringify(sent), 'utf8').equals(call.body), 'compact JSON, UTF-8').to.equal(true);
        expect(mock.balanceOf(openid, zoneId).balance).to.equal(0);
      }),
      params(CASES),
    );
  });

  it('balance, present and cancel: the same over any zone and billNos', async () => {
    const arb = fc.record({ kind: fc.constantFrom<PaymentKind>('balance', 'present', 'cancel'), zone: wildText, amount: amountArb, bills: fc.uniqueArray(billNoArb, { minLength: 2, maxLength: 2 }), userIp: ipArb });
    await fc.assert(
      fc.asyncProperty(arb, async ({ kind, zone, amount, bills: [billNo, payBillNo], userIp }) => {
        const zoneId = zoneOf(zone);
        mock.setBalance(openid, zoneId, amount);
        if (kind === 'cancel') await session.payments.pay({ amount, billNo: payBillNo!, zoneId, userIp });
        tap.clear();
        const base = { zoneId, userIp };
        if (kind === 'balance') expect((await session.payments.balance(base)).balance).to.equal(amount);
        if (kind === 'present') expect(await session.payments.present({ ...base, amount, billNo: billNo! })).to.deep.equal({ billNo, balance: 2 * amount });
        if (kind === 'cancel') expect((await session.payments.cancel({ ...base, amount, billNo: billNo!, payBillNo: payBillNo! })).balance).to.equal(amount);
        const sent = JSON.parse(expectSignedOver(PAYMENT_PATHS[kind]).body.toString('utf8')) as Record<string, unknown>;
        expect(sent.zone_id).to.equal(zoneId);
      }),
      params(CASES),
    );
  });

  /** What the library would send for a pay (paymentRequest, as session.payments.pay builds it). */
  function payRequest(input: { amount: number; billNo: string; zoneId: string; userIp: string; payitem?: string; remark?: string }) {
    const fields = paymentFields('pay', input);
    return paymentRequest('pay', { offerId: mock.payment.offerId, appKey: appKey(), env: 0 }, { openid, sessionKey: sessionKey(), ts: Math.floor(Date.now() / 1000), fields });
  }

  it('the same JSON value as other bytes (key order, whitespace, escapes) signs differently, and the mock refuses it (90011, 90010)', async () => {
    await fc.assert(
      fc.asyncProperty(payInputArb, rewriteArb, async ({ zone, ...input }, how) => {
        const zoneId = zoneOf(zone);
        mock.setBalance(openid, zoneId, input.amount);
        const request = payRequest({ ...input, zoneId });
        const other = rewrite(request.body, how);
        expect(JSON.parse(other), 'the same JSON value').to.deep.equal(JSON.parse(request.body));
        expect(other, 'other bytes').to.not.equal(request.body);
        const uri = PAYMENT_PATHS.pay;
        expect(signPayment({ uri, body: other, appKey: appKey() }), 'pay_sig of the other bytes').to.not.equal(request.paySig);
        expect(signPayload(other, sessionKey()), 'signature of the other bytes').to.not.equal(request.signature);
        // The other bytes under the first bytes' pay_sig (their own signature right): 90011.
        expect(await postSigned(mock, uri, other, { signature: hmac(sessionKey(), other), paySig: request.paySig })).to.equal(90011);
        // Under both of the first bytes' signatures: 90010, the signature is checked first.
        expect(await postSigned(mock, uri, other, request)).to.equal(90010);
        expect(mock.balanceOf(openid, zoneId).balance, 'nothing debited').to.equal(input.amount);
        // The bytes that were signed are taken.
        expect(await postSigned(mock, uri, request.body, request)).to.equal(0);
        expect(mock.balanceOf(openid, zoneId).balance).to.equal(0);
      }),
      params(CASES),
    );
  });

  it('any one-byte change of a signed body is refused: 90010 while it still names the player, else 90018; never taken', async () => {
    let flipped = 0;
    await fc.assert(
      fc.asyncProperty(payInputArb, mutationArb, async ({ zone, ...input }, mutation) => {
        const zoneId = zoneOf(zone);
        mock.setBalance(openid, zoneId, input.amount);
        const request = payRequest({ ...input, zoneId });
        const changed = mutate(Buffer.from(request.body, 'utf8'), mutation);
        const expected = expectedForChanged(mock, changed);
        if (expected === 90010) flipped += 1;
        expect(await postSigned(mock, PAYMENT_PATHS.pay, changed, request), `${JSON.stringify(mutation)} of ${request.body}`).to.equal(expected);
        expect(mock.balanceOf(openid, zoneId).balance, 'nothing debited').to.equal(input.amount);
      }),
      params(CASES),
    );
    // Most changes leave a readable body: the signature is what refused them.
    expect(flipped, 'cases the signature refused').to.be.above(0);
  });

  it('signPayment and signPayload are HMAC-SHA256 over the bytes of any JSON text, string or Buffer alike', () => {
    const anyJson = fc.oneof(fc.json({ stringUnit: 'binary' }), fc.json({ stringUnit: 'grapheme' }), fc.json());
    const path = fc.constantFrom(...Object.values(PAYMENT_PATHS), '/xpay/query_user_balance');
    fc.assert(
      fc.property(anyJson, path, fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), (body, uri, key, sessionKeyText) => {
        const bytes = Buffer.from(body, 'utf8');
        const paySig = signPayment({ uri, body, appKey: key });
        expect(paySig).to.equal(hmac(key, Buffer.concat([Buffer.from(`${uri}&`), bytes])));
        expect(signPayment({ uri, body: bytes, appKey: key })).to.equal(paySig);
        expect(signPayload(body, sessionKeyText)).to.equal(hmac(sessionKeyText, bytes));
        expect(signPayload(bytes, sessionKeyText)).to.equal(hmac(sessionKeyText, bytes));
        // Re-serialised with indentation: where the bytes differ, so does the signature.
        const indented = JSON.stringify(JSON.parse(body), null, 2);
        if (indented !== body) expect(signPayment({ uri, body: indented, appKey: key })).to.not.equal(paySig);
      }),
      params(RUNS),
    );
  });
});
