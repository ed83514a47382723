// The virtual-payment signatures (docs/payments.md, "Signing by hand") against WeChat's official
// vectors (test/fixtures/wechat-vectors.json, `paySignatures`, each naming its source): `pay_sig`
// through signPayment, and the payment's `signature` through signPayload, over the exact body text.
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { createWxSession, signPayload, signPayment } from '../src/index.js';
import { SECRET } from '../harness/apps.js';

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

/** A fetch that plays WeChat for one player holding `sessionKey`, recording the payment calls. */
function fakeWeChat(sessionKey: string) {
  const sent: Array<{ path: string; query: URLSearchParams; body: string }> = [];
  const answer = (json: object) => Promise.resolve(new Response(JSON.stringify(json), { status: 200 }));
  const fetch = (input: string, init?: RequestInit): Promise<Response> => {
    const url = new URL(input);
    if (url.pathname === '/sns/jscode2session') return answer({ openid: 'oUrsfxxxxxxxxxx', session_key: sessionKey });
    if (url.pathname === '/cgi-bin/stable_token') return answer({ access_token: 'AT', expires_in: 7200 });
    sent.push({ path: url.pathname, query: url.searchParams, body: String(init?.body) });
    return answer({ errcode: 0, balance: 1, present_balance: 0, sum_save: 1, sum_present: 0, sum_balance: 1, sum_cost: 0, first_save: false });
  };
  return { fetch, sent };
}

describe('payment signatures through a session (the vectors\' keys)', () => {
  const v = vectors.find((vector) => vector.uri === '/wxa/game/getbalance')!;

  it("session.sign(body) is the vector's signature: the login-state signer keys with the session_key text", async () => {
    const { fetch } = fakeWeChat(v.sessionKey);
    const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: SECRET, apiBase: 'http://wechat.invalid', fetch });
    const { session } = await core.login('code');
    expect(session.sign(v.body)).to.equal(v.signature);
  });

  it('payments.balance sends a body whose signature and pay_sig are over those exact bytes', async () => {
    const { fetch, sent } = fakeWeChat(v.sessionKey);
    const payment = { offerId: '12345678', appKey: v.appKey };
    const core = createWxSession({ appId: 'wxapp', appSecret: 'app-secret', secret: SECRET, apiBase: 'http://wechat.invalid', fetch, payment, now: () => 1668136271_000 });
    const { session } = await core.login('code');
    await session.payments.balance({ zoneId: '1', userIp: '127.0.0.1' });
    expect(sent).to.have.length(1);
    const [{ path, query, body }] = sent as [(typeof sent)[0]];
    expect(path).to.equal(v.uri);
    expect(JSON.parse(body)).to.deep.equal({ ...JSON.parse(v.body), user_ip: '127.0.0.1' });
    expect(query.get('signature')).to.equal(createHmac('sha256', v.sessionKey).update(body).digest('hex'));
    expect(query.get('pay_sig')).to.equal(createHmac('sha256', v.appKey).update(`${v.uri}&${body}`).digest('hex'));
    expect(query.get('sig_method')).to.equal('hmac_sha256');
    expect(query.get('access_token')).to.equal('AT');
  });
});
