// The mock WeChat (wx-session/testing) refusing what WeChat refuses on the endpoints of issue 13:
// each malformed payment or player-API call answers WeChat's errcode and changes nothing (no
// debit, no new key, no spent code); the test helpers refuse bad arguments with a TypeError.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { hmacHex } from './support/keys.js';
import { wechatApi, type Json } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

const PLAYER = 'oRefused1';
const START = 100;

describe('mock WeChat server: refusals on the payment and player-API endpoints', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { getJson, postJson, accessToken } = wechatApi(() => mock);
  let token: string;

  beforeEach(async () => {
    token = await accessToken();
    mock.issueCode(PLAYER);
    mock.setBalance(PLAYER, '1', START);
  });

  /** A payment call over `body` exactly as given, both signatures right unless told otherwise. */
  function signedPay(uri: string, body: string, query: Record<string, string> = {}): Promise<Json> {
    const signature = hmacHex(mock.sessionKeyOf(PLAYER)!, body);
    const paySig = hmacHex(mock.payment.appKey, `${uri}&${body}`);
    return postJson(uri, { access_token: token, signature, sig_method: 'hmac_sha256', pay_sig: paySig, ...query }, body);
  }

  const base = () => ({ openid: PLAYER, offer_id: mock.payment.offerId, ts: Math.floor(Date.now() / 1000), zone_id: '1', env: 0, user_ip: '10.0.0.1' });

  const payRefusals: Array<[string, string, () => string, Record<string, string>?]> = [
    ['a body that is not JSON', '/wxa/game/pay', () => 'not json'],
    ['a JSON array', '/wxa/game/pay', () => '[1,2]'],
    ['no openid', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), openid: undefined })],
    ['an openid WeChat never saw', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), openid: 'oNobody' })],
    ['no env', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), env: undefined })],
    ['env 2', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), env: 2 })],
    ['an empty zone_id', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), zone_id: '' })],
    ['a numeric zone_id', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), zone_id: 1 })],
    ['a numeric user_ip', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), user_ip: 1 })],
    ['a ts that is not an integer', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), ts: 1.5 })],
    ['a ts as a string', '/wxa/game/getbalance', () => JSON.stringify({ ...base(), ts: '1700000000' })],
    ['no amount', '/wxa/game/pay', () => JSON.stringify({ ...base(), bill_no: 'b1' })],
    ['amount 0', '/wxa/game/pay', () => JSON.stringify({ ...base(), amount: 0, bill_no: 'b1' })],
    ['amount 1.5', '/wxa/game/pay', () => JSON.stringify({ ...base(), amount: 1.5, bill_no: 'b1' })],
    ['a bill_no of 64 characters', '/wxa/game/pay', () => JSON.stringify({ ...base(), amount: 1, bill_no: 'b'.repeat(64) })],
    ['a bill_no with a dot', '/wxa/game/present', () => JSON.stringify({ ...base(), amount: 1, bill_no: 'b.1' })],
    ['a present of amount -1', '/wxa/game/present', () => JSON.stringify({ ...base(), amount: -1, bill_no: 'g1' })],
    ['a cancel without pay_bill_no', '/wxa/game/cancelpay', () => JSON.stringify({ ...base(), amount: 1, bill_no: 'r1' })],
    ['sig_method md5', '/wxa/game/getbalance', () => JSON.stringify(base()), { sig_method: 'md5' }],
  ];
  for (const [what, uri, body, query] of payRefusals) {
    it(`${uri}: ${what} -> 90018, nothing applied`, async () => {
      expect(await signedPay(uri, body(), query)).to.include({ errcode: 90018 });
      expect(mock.balanceOf(PLAYER, '1')).to.deep.equal({ balance: START, presentBalance: 0 });
      expect(mock.payments).to.deep.equal([]);
    });
  }

  it('payment calls without an access token, or without signatures, are refused before any check of the body', async () => {
    const body = JSON.stringify({ ...base(), amount: 1, bill_no: 'b1' });
    expect(await postJson('/wxa/game/pay', {}, body)).to.include({ errcode: 41001 });
    expect(await postJson('/wxa/game/pay', { access_token: token, sig_method: 'hmac_sha256' }, body)).to.include({ errcode: 90010 });
    const signature = hmacHex(mock.sessionKeyOf(PLAYER)!, body);
    expect(await postJson('/wxa/game/pay', { access_token: token, sig_method: 'hmac_sha256', signature }, body)).to.include({ errcode: 90011 });
    expect(mock.payments).to.deep.equal([]);
  });

  it('cancelpay refuses a refund of another amount, of a present, and a refund bill_no used before', async () => {
    const pay = (fields: object) => signedPay('/wxa/game/pay', JSON.stringify({ ...base(), ...fields }));
    const cancel = (fields: object) => signedPay('/wxa/game/cancelpay', JSON.stringify({ ...base(), ...fields }));
    expect(await pay({ amount: 10, bill_no: 'p1' })).to.include({ errcode: 0 });
    expect(await signedPay('/wxa/game/present', JSON.stringify({ ...base(), amount: 3, bill_no: 'g1' }))).to.include({ errcode: 0 });
    expect(await cancel({ amount: 9, bill_no: 'r1', pay_bill_no: 'p1' })).to.include({ errcode: 90018 });
    expect(await cancel({ amount: 3, bill_no: 'r1', pay_bill_no: 'g1' })).to.include({ errcode: 90018 });
    // A refund numbered like the pay it refunds: that bill_no is taken.
    expect(await cancel({ amount: 10, bill_no: 'p1', pay_bill_no: 'p1' })).to.include({ errcode: 90012 });
    expect(mock.balanceOf(PLAYER, '1')).to.deep.equal({ balance: START - 10 + 3, presentBalance: 3 });
    expect(mock.payments.map((op) => op.kind)).to.deep.equal(['pay', 'present']);
  });

  it('getbalance reports first_save 0 for a player who never bought coins', async () => {
    mock.issueCode('oFresh');
    const body = JSON.stringify({ ...base(), openid: 'oFresh' });
    const signature = hmacHex(mock.sessionKeyOf('oFresh')!, body);
    const paySig = hmacHex(mock.payment.appKey, `/wxa/game/getbalance&${body}`);
    const answer = await postJson('/wxa/game/getbalance', { access_token: token, signature, sig_method: 'hmac_sha256', pay_sig: paySig }, body);
    expect(answer).to.include({ errcode: 0, balance: 0, first_save: 0, sum_save: 0 });
    expect(mock.balanceOf('oNeverSeen', '1')).to.deep.equal({ balance: 0, presentBalance: 0 });
  });

  it('resetusersessionkey refuses an openid WeChat never saw (40003) and keeps the key', async () => {
    const key = mock.sessionKeyOf(PLAYER)!;
    const signature = hmacHex(key, '');
    expect(await getJson('/wxa/resetusersessionkey', { access_token: token, openid: 'oNobody', signature, sig_method: 'hmac_sha256' })).to.include({ errcode: 40003 });
    expect(await getJson('/wxa/resetusersessionkey', { access_token: token, signature, sig_method: 'hmac_sha256' })).to.include({ errcode: 40003 });
    expect(await getJson('/wxa/resetusersessionkey', { access_token: token, openid: PLAYER, sig_method: 'hmac_sha256' })).to.include({ errcode: 87009 });
    expect(mock.sessionKeyOf(PLAYER)).to.equal(key);
  });

  const post = (path: string, body: string) => postJson(path, { access_token: token }, body);

  it('getuserphonenumber refuses a body that is not JSON (47001), a missing or empty code (40029); the code stays good', async () => {
    const code = mock.issuePhoneCode(PLAYER);
    expect(await post('/wxa/business/getuserphonenumber', '{"code":')).to.include({ errcode: 47001 });
    expect(await post('/wxa/business/getuserphonenumber', '{}')).to.include({ errcode: 40029 });
    expect(await post('/wxa/business/getuserphonenumber', '{"code":""}')).to.include({ errcode: 40029 });
    expect(await post('/wxa/business/getuserphonenumber', '{"code":42}')).to.include({ errcode: 40029 });
    expect(await postJson('/wxa/business/getuserphonenumber', {}, JSON.stringify({ code }))).to.include({ errcode: 41001 });
    expect(await post('/wxa/business/getuserphonenumber', JSON.stringify({ code }))).to.include({ errcode: 0 });
  });

  it('getuserriskrank refuses bad JSON (47001), another appid (40013), a missing scene or client_ip (40097)', async () => {
    const body = { appid: mock.appId, openid: PLAYER, scene: 1, client_ip: '1.2.3.4' };
    expect(await post('/wxa/getuserriskrank', 'nope')).to.include({ errcode: 47001 });
    expect(await post('/wxa/getuserriskrank', JSON.stringify({ ...body, appid: 'wxOther' }))).to.include({ errcode: 40013 });
    expect(await post('/wxa/getuserriskrank', JSON.stringify({ ...body, openid: 7 }))).to.include({ errcode: 61010 });
    expect(await post('/wxa/getuserriskrank', JSON.stringify({ ...body, scene: '1' }))).to.include({ errcode: 40097 });
    expect(await post('/wxa/getuserriskrank', JSON.stringify({ ...body, client_ip: '' }))).to.include({ errcode: 40097 });
    expect(await post('/wxa/getuserriskrank', JSON.stringify(body))).to.include({ errcode: 0, risk_rank: 0 });
  });

  it('checkencryptedmsg refuses an empty body (44002), bad JSON (47001), a missing hash (40097); matches a hash in capitals', async () => {
    expect(await post('/wxa/business/checkencryptedmsg', '')).to.include({ errcode: 44002 });
    expect(await post('/wxa/business/checkencryptedmsg', '[')).to.include({ errcode: 47001 });
    expect(await post('/wxa/business/checkencryptedmsg', '{"encrypted_msg_hash":""}')).to.include({ errcode: 40097 });
    const created = mock.registerEncryptedData('c2VjcmV0');
    const hash = createHash('sha256').update('c2VjcmV0').digest('hex').toUpperCase();
    expect(await post('/wxa/business/checkencryptedmsg', JSON.stringify({ encrypted_msg_hash: hash }))).to.include({ errcode: 0, vaild: true, create_time: created });
  });

  it('the helpers refuse bad arguments with a TypeError', async () => {
    const calls: Array<[string, () => unknown]> = [
      ['setBalance without an openid', () => mock.setBalance('', '1', 1)],
      ['setBalance without a zone', () => mock.setBalance(PLAYER, '', 1)],
      ['setBalance of a negative amount', () => mock.setBalance(PLAYER, '1', -1)],
      ['setBalance of 1.5', () => mock.setBalance(PLAYER, '1', 1.5)],
      ['setBalance in env 2', () => mock.setBalance(PLAYER, '1', 1, 2 as 0)],
      ['balanceOf in env 2', () => mock.balanceOf(PLAYER, '1', 2 as 0)],
      ['issuePhoneCode without an openid', () => mock.issuePhoneCode('')],
      ['issuePhoneCode with an empty country code', () => mock.issuePhoneCode(PLAYER, { countryCode: '' })],
      ['issuePhoneCode with an empty number', () => mock.issuePhoneCode(PLAYER, { phoneNumber: '' })],
      ['setRiskRank without an openid', () => mock.setRiskRank('', 1)],
      ['setRiskRank of 1.5', () => mock.setRiskRank(PLAYER, 1.5)],
      ['setRiskRank of -1', () => mock.setRiskRank(PLAYER, -1)],
      ['registerEncryptedData of ""', () => mock.registerEncryptedData('')],
    ];
    for (const [what, call] of calls) expect(call, what).to.throw(TypeError, /^wx-session\/testing: /);
    expect(mock.balanceOf(PLAYER, '1').balance).to.equal(START);
    for (const payment of [{ offerId: '' }, { appKey: '' }, { sandboxAppKey: 7 as unknown as string }]) {
      let error: unknown;
      try {
        const other = await startMockWeChat({ payment });
        await other.close();
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(payment)).to.be.instanceOf(TypeError);
      expect(String(error)).to.match(/payment\.\w+ must be a non-empty string/);
    }
  });
});
