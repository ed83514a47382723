// The mock WeChat server (wx-session/testing) against real fetch calls, mini-game virtual payment
// 2.0: signature with the player's current session_key, pay_sig with the AppKey of the env, balances
// per player/zone/env, idempotent bill_no, cancel once, present, faults; and the secrets witness
// catching an AppKey in an answer.
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { closeServer, listen } from '../harness/apps.js';
import { hmacHex } from './support/keys.js';
import { wechatApi, type Json } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';
import { findSecrets, scanPending } from './support/witness.js';

const PLAYER = 'oPayer1';

describe('mock WeChat server: mini-game payments', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat({ payment: { offerId: '1450000042' } })));
  const { postJson, accessToken } = wechatApi(() => mock);
  let token: string;

  beforeEach(async () => {
    token = await accessToken();
    mock.issueCode(PLAYER);
  });

  interface CallOptions {
    env?: 0 | 1;
    sessionKey?: string;
    appKey?: string;
    fields?: Record<string, unknown>;
  }

  /** One payment call, signed as the contract says (or with the keys given). */
  function payCall(uri: string, fields: Record<string, unknown>, opts: CallOptions = {}): Promise<Json> {
    const env = opts.env ?? 0;
    const body = JSON.stringify({ openid: PLAYER, offer_id: mock.payment.offerId, ts: Math.floor(Date.now() / 1000), zone_id: '1', env, user_ip: '127.0.0.1', ...fields });
    const signature = hmacHex(opts.sessionKey ?? mock.sessionKeyOf(PLAYER)!, body);
    const appKey = opts.appKey ?? (env === 1 ? mock.payment.sandboxAppKey : mock.payment.appKey);
    const paySig = hmacHex(appKey, `${uri}&${body}`);
    return postJson(uri, { access_token: token, signature, sig_method: 'hmac_sha256', pay_sig: paySig }, body);
  }

  it('has payment settings: the offerId given, random 32-character AppKeys', async () => {
    expect(mock.payment.offerId).to.equal('1450000042');
    expect(mock.payment.appKey).to.match(/^[0-9a-f]{32}$/);
    expect(mock.payment.sandboxAppKey).to.match(/^[0-9a-f]{32}$/).and.not.equal(mock.payment.appKey);
    const other = await startMockWeChat({ payment: { appKey: 'k'.repeat(32) } });
    try {
      expect(other.payment.offerId).to.equal('1450000001');
      expect(other.payment.appKey).to.equal('k'.repeat(32));
    } finally {
      await other.close();
    }
  });

  it('getbalance answers the balance of the player in the zone and env', async () => {
    mock.setBalance(PLAYER, '1', 100);
    mock.setBalance(PLAYER, '1', 7, 1);
    const answer = await payCall('/wxa/game/getbalance', {});
    expect(answer).to.include({ errcode: 0, balance: 100, present_balance: 0, sum_save: 100, sum_cost: 0 });
    expect(await payCall('/wxa/game/getbalance', {}, { env: 1 })).to.include({ errcode: 0, balance: 7 });
    expect(await payCall('/wxa/game/getbalance', { zone_id: '2' })).to.include({ errcode: 0, balance: 0 });
  });

  it('refuses a signature not made with the current session_key (90010), and a key that was replaced', async () => {
    mock.setBalance(PLAYER, '1', 100);
    const oldKey = mock.sessionKeyOf(PLAYER)!;
    expect(await payCall('/wxa/game/pay', { amount: 10, bill_no: 'b1' }, { sessionKey: 'wrongwrongwrongwrong==' })).to.include({ errcode: 90010 });
    mock.rotateSessionKey(PLAYER);
    expect(await payCall('/wxa/game/pay', { amount: 10, bill_no: 'b1' }, { sessionKey: oldKey })).to.include({ errcode: 90010 });
    expect(mock.balanceOf(PLAYER, '1').balance).to.equal(100);
    expect(await payCall('/wxa/game/pay', { amount: 10, bill_no: 'b1' })).to.include({ errcode: 0, balance: 90 });
  });

  it('refuses a wrong pay_sig (90011), checks it with the sandbox AppKey for env 1, and a wrong offer_id (90018)', async () => {
    mock.setBalance(PLAYER, '1', 50, 1);
    expect(await payCall('/wxa/game/pay', { amount: 5, bill_no: 'b1' }, { appKey: 'x'.repeat(32) })).to.include({ errcode: 90011 });
    // env 1 signed with the production key: wrong.
    expect(await payCall('/wxa/game/pay', { amount: 5, bill_no: 'b1' }, { env: 1, appKey: mock.payment.appKey })).to.include({ errcode: 90011 });
    expect(await payCall('/wxa/game/pay', { amount: 5, bill_no: 'b1' }, { env: 1 })).to.include({ errcode: 0, bill_no: 'b1', balance: 45, used_present_amount: 0 });
    expect(mock.balanceOf(PLAYER, '1', 1)).to.deep.equal({ balance: 45, presentBalance: 0 });
    expect(mock.balanceOf(PLAYER, '1')).to.deep.equal({ balance: 0, presentBalance: 0 });
    expect(await payCall('/wxa/game/pay', { amount: 5, bill_no: 'b2', offer_id: '999' })).to.include({ errcode: 90018 });
  });

  it('debits once per bill_no (a repeat answers 90012), refuses an overdraft (90013)', async () => {
    mock.setBalance(PLAYER, '1', 30);
    expect(await payCall('/wxa/game/pay', { amount: 20, bill_no: 'order-1' })).to.include({ errcode: 0, balance: 10 });
    expect(await payCall('/wxa/game/pay', { amount: 20, bill_no: 'order-1' })).to.include({ errcode: 90012 });
    expect(mock.balanceOf(PLAYER, '1').balance).to.equal(10);
    expect(await payCall('/wxa/game/pay', { amount: 11, bill_no: 'order-2' })).to.include({ errcode: 90013 });
    expect(mock.balanceOf(PLAYER, '1').balance).to.equal(10);
    // The same bill_no in another zone is another bill.
    mock.setBalance(PLAYER, '2', 5);
    expect(await payCall('/wxa/game/pay', { amount: 5, bill_no: 'order-1', zone_id: '2' })).to.include({ errcode: 0, balance: 0 });
    expect(await payCall('/wxa/game/pay', { amount: 1, bill_no: '_bad' })).to.include({ errcode: 90018 });
    expect(mock.payments).to.deep.equal([
      { kind: 'pay', openid: PLAYER, zoneId: '1', env: 0, billNo: 'order-1', amount: 20 },
      { kind: 'pay', openid: PLAYER, zoneId: '2', env: 0, billNo: 'order-1', amount: 5 },
    ]);
  });

  it('cancelpay refunds a pay once; present credits present coins, spent first', async () => {
    mock.setBalance(PLAYER, '1', 30);
    await payCall('/wxa/game/pay', { amount: 20, bill_no: 'p1' });
    expect(await payCall('/wxa/game/cancelpay', { amount: 20, bill_no: 'r1', pay_bill_no: 'p1' })).to.include({ errcode: 0, bill_no: 'r1', balance: 30 });
    expect(await payCall('/wxa/game/cancelpay', { amount: 20, bill_no: 'r2', pay_bill_no: 'p1' })).to.include({ errcode: 90012 });
    expect(await payCall('/wxa/game/cancelpay', { amount: 20, bill_no: 'r3', pay_bill_no: 'nope' })).to.include({ errcode: 90018 });
    expect(mock.balanceOf(PLAYER, '1').balance).to.equal(30);
    expect(await payCall('/wxa/game/present', { amount: 5, bill_no: 'g1' })).to.deep.include({ errcode: 0, bill_no: 'g1', balance: 35 });
    expect(await payCall('/wxa/game/present', { amount: 5, bill_no: 'g1' })).to.include({ errcode: 90012 });
    expect(mock.balanceOf(PLAYER, '1')).to.deep.equal({ balance: 35, presentBalance: 5 });
    expect(await payCall('/wxa/game/pay', { amount: 8, bill_no: 'p2' })).to.include({ errcode: 0, balance: 27, used_present_amount: 5 });
    expect(mock.payments.map((op) => op.kind)).to.deep.equal(['pay', 'cancel', 'present', 'pay']);
  });

  for (const uri of ['/wxa/game/getbalance', '/wxa/game/pay', '/wxa/game/cancelpay', '/wxa/game/present']) {
    it(`faults work on ${uri}, and calls are recorded without the AppKeys`, async () => {
      mock.setBalance(PLAYER, '1', 10);
      mock.fault(uri, { errcode: -1 }, { times: 1 });
      mock.fault(uri, { errcode: 45011 }, { times: 1 });
      const fields = { amount: 1, bill_no: 'f1', pay_bill_no: 'f0' };
      expect(await payCall(uri, fields)).to.include({ errcode: -1 });
      expect(await payCall(uri, fields)).to.include({ errcode: 45011 });
      expect(mock.balanceOf(PLAYER, '1').balance).to.equal(10);
      mock.fault(uri, { hang: true }, { times: 1 });
      await fetch(`${mock.url}${uri}`, { method: 'POST', signal: AbortSignal.timeout(100) }).then(
        () => expect.fail('should hang'),
        (error: Error) => expect(error.name).to.equal('TimeoutError'),
      );
      const calls = mock.callsTo(uri);
      expect(calls.map((call) => call.errcode)).to.deep.equal([-1, 45011, undefined]);
      const printed = JSON.stringify(mock.calls);
      expect(printed).to.not.contain(mock.payment.appKey).and.not.contain(mock.payment.sandboxAppKey);
    });
  }

  it('the secrets witness catches an AppKey in an answer', async () => {
    scanPending();
    expect(findSecrets(`{"k":"${mock.payment.sandboxAppKey}"}`).map((leak) => leak.kind)).to.deep.equal(['appKey']);
    const { server, url } = await listen((_req, res) => res.end(JSON.stringify({ leaked: mock.payment.appKey })));
    try {
      await fetch(url);
    } finally {
      await closeServer(server);
    }
    const leaks = scanPending();
    expect(leaks.map((leak) => [leak.kind, leak.where])).to.deep.include(['appKey', 'an HTTP answer to GET /']);
    for (const leak of leaks) expect(leak.context).to.not.contain(mock.payment.appKey);
  });
});
