// The virtual-payment signatures (DESIGN.md §9) against WeChat's official vectors
// (test/fixtures/wechat-vectors.json, `paySignatures`, each naming its source): `pay_sig` through
// signPayment, and the payment's `signature` through signPayload, over the exact body text.
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { signPayload, signPayment } from '../src/index.js';

interface PayVector { product: string; uri: string; appKey: string; sessionKey: string; body: string; paySig: string; signature: string }

const vectors = (JSON.parse(readFileSync(new URL('./fixtures/wechat-vectors.json', import.meta.url), 'utf8')) as { paySignatures: PayVector[] }).paySignatures;

describe('payment signatures (official vectors)', () => {
  it('has the vectors of both products', () => {
    expect(vectors.map((v) => v.uri)).to.include.members(['/wxa/game/getbalance', '/xpay/query_user_balance']);
  });

  for (const v of vectors) {
    describe(v.product, () => {
      it('pay_sig = signPayment({ uri, body, appKey })', () => {
        expect(signPayment({ uri: v.uri, body: v.body, appKey: v.appKey })).to.equal(v.paySig);
        expect(signPayment({ uri: v.uri, body: Buffer.from(v.body, 'utf8'), appKey: v.appKey }), 'the same bytes as a buffer').to.equal(v.paySig);
      });

      it('signature = signPayload(body, session_key text)', () => {
        expect(signPayload(v.body, v.sessionKey)).to.equal(v.signature);
      });

      it('the mistakes of hand-written signers do not match: uppercase hex, a decoded key, the uri left out, another body', () => {
        expect(signPayment({ uri: v.uri, body: v.body, appKey: v.appKey }).toUpperCase()).to.not.equal(v.paySig);
        expect(createHmac('sha256', Buffer.from(v.sessionKey, 'base64')).update(v.body).digest('hex')).to.not.equal(v.signature);
        expect(createHmac('sha256', v.appKey).update(v.body).digest('hex')).to.not.equal(v.paySig);
        expect(signPayment({ uri: v.uri, body: JSON.stringify(JSON.parse(v.body)), appKey: v.appKey }), 'the body re-serialized').to.not.equal(v.paySig);
      });
    });
  }

  it('refuses a uri with a query or without a leading slash, and an empty AppKey', () => {
    expect(() => signPayment({ uri: '/wxa/game/pay?access_token=x', body: '{}', appKey: 'k' })).to.throw(TypeError, /wx-session: signPayment uri/);
    expect(() => signPayment({ uri: 'wxa/game/pay', body: '{}', appKey: 'k' })).to.throw(TypeError, /wx-session: signPayment uri/);
    expect(() => signPayment({ uri: '/wxa/game/pay', body: '{}', appKey: '' })).to.throw(TypeError, /AppKey/);
  });
});
