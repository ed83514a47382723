// The session_key APIs and the payments (docs/session-key.md, docs/payments.md) meeting answers
// WeChat should not give: errcode 0 without the fields the call needs is WX_UPSTREAM_ERROR, never a
// wrong value and never a TypeError; WeChat's own variants (countryCode a number, first_save 0/1,
// checkencryptedmsg's errcode 1, `valid` spelled right) are read. And the `payment` option refused
// at construction, naming the field, never the key.
import { expect } from 'chai';
import { createWxSession } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreOptions } from '../harness/apps.js';
import { startFor } from './support/hooks.js';
import { expectClean, expectRejection, IP, loginAs, playerCore, ZONE, type PlayerCore } from './support/payments.js';

const RESET = '/wxa/resetusersessionkey';
const PHONE = '/wxa/business/getuserphonenumber';
const RISK = '/wxa/getuserriskrank';
const CHECK = '/wxa/business/checkencryptedmsg';

describe('session_key APIs and payments: answers WeChat should not give', () => {
  let mock: MockWeChat;
  let player: PlayerCore;
  startFor('block', async () => (mock = await startMockWeChat()));
  beforeEach(() => {
    player = playerCore(mock);
    mock.clearFaults();
  });
  afterEach(() => expectClean(player, player.logger.text, 'the log'));

  /** WeChat answers `body` (HTTP 200) to the next call of `path`. */
  const answers = (path: string, body: object) => mock.fault(path, { body: JSON.stringify(body) }, { times: 1 });

  it('resetusersessionkey without a session_key: WX_UPSTREAM_ERROR, the stored key unchanged', async () => {
    const { session } = await loginAs(player, 'oResetOdd');
    const stored = player.store.records.get(session.id)!.sessionKey;
    answers(RESET, { errcode: 0, errmsg: 'ok', openid: 'oResetOdd' });
    await expectRejection(player, session.resetKey(), 'WX_UPSTREAM_ERROR', undefined, 'oResetOdd');
    expect(player.store.records.get(session.id)!.sessionKey).to.equal(stored);
  });

  it('resetusersessionkey: -1 is not retried (a reset that went through would break the retry); a session logged out meanwhile stays out', async () => {
    const { token, session } = await loginAs(player, 'oResetOnce');
    mock.fault(RESET, { errcode: -1 }, { times: 1 });
    mock.resetCalls();
    await expectRejection(player, session.resetKey(), 'WX_UPSTREAM_ERROR', -1, 'oResetOnce');
    expect(mock.callsTo(RESET)).to.have.length(1);
    await player.core.logout(token);
    await session.resetKey();
    expect(player.store.records.has(session.id), 'no record written back').to.equal(false);
    expect((await player.core.authenticate(token)).code).to.equal('WX_SESSION_EXPIRED');
  });

  it('getuserphonenumber: no phone_info or no number is WX_UPSTREAM_ERROR; a numeric countryCode is read as text', async () => {
    const { session } = await loginAs(player, 'oPhoneOdd');
    answers(PHONE, { errcode: 0, errmsg: 'ok' });
    await expectRejection(player, session.phoneNumber('c'.repeat(32)), 'WX_UPSTREAM_ERROR');
    answers(PHONE, { errcode: 0, phone_info: { purePhoneNumber: '13800138000', countryCode: '86' } });
    await expectRejection(player, session.phoneNumber('c'.repeat(32)), 'WX_UPSTREAM_ERROR');
    answers(PHONE, { errcode: 0, phone_info: { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: null } });
    await expectRejection(player, player.core.phoneNumber('c'.repeat(32)), 'WX_UPSTREAM_ERROR');
    // As WeChat's own example shows it: countryCode 86, a number.
    answers(PHONE, { errcode: 0, phone_info: { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: 86 } });
    expect(await session.phoneNumber('c'.repeat(32))).to.deep.equal({ phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
  });

  it('getuserriskrank without risk_rank is WX_UPSTREAM_ERROR; riskRank refuses bad optional fields before any call', async () => {
    const { session } = await loginAs(player, 'oRiskOdd');
    answers(RISK, { errcode: 0, errmsg: 'ok' });
    await expectRejection(player, session.riskRank({ scene: 0, clientIp: IP }), 'WX_UPSTREAM_ERROR');
    const before = mock.callsTo(RISK).length;
    for (const input of [{ scene: 0, clientIp: IP, mobileNo: 138 }, { scene: 0, clientIp: IP, isTest: 'yes' }, { scene: -1, clientIp: IP }, { scene: 0, clientIp: '' }, null]) {
      await expectRejection(player, session.riskRank(input as never), 'WX_BAD_REQUEST');
    }
    expect(mock.callsTo(RISK).length).to.equal(before);
    mock.setRiskRank('oRiskOdd', 2);
    expect(await session.riskRank({ scene: 1, clientIp: IP, mobileNo: '13800138000', emailAddress: 'a@b.c', extendedInfo: 'x', isTest: true })).to.equal(2);
    expect(JSON.parse(mock.callsTo(RISK).at(-1)!.body!)).to.include({ mobile_no: '13800138000', email_address: 'a@b.c', extended_info: 'x', is_test: true });
  });

  it('checkencryptedmsg: errcode 1 (data unknown to WeChat) is not valid; `valid` spelled right is read; neither is WX_UPSTREAM_ERROR', async () => {
    mock.fault(CHECK, { errcode: 1 }, { times: 1 });
    expect(await player.core.checkEncryptedData('ZGF0YQ==')).to.deep.equal({ valid: false, createTime: 0 });
    answers(CHECK, { errcode: 0, valid: true, create_time: 1700000000 });
    expect(await player.core.checkEncryptedData('ZGF0YQ==')).to.deep.equal({ valid: true, createTime: 1700000000 });
    answers(CHECK, { errcode: 0, vaild: true });
    expect(await player.core.checkEncryptedData('ZGF0YQ==')).to.deep.equal({ valid: true, createTime: 0 });
    answers(CHECK, { errcode: 0, create_time: 1700000000 });
    await expectRejection(player, player.core.checkEncryptedData('ZGF0YQ=='), 'WX_UPSTREAM_ERROR');
    await expectRejection(player, player.core.checkEncryptedData(''), 'WX_BAD_REQUEST');
  });

  it('payments: an answer without its numbers is WX_UPSTREAM_ERROR; first_save true or 1 reads true', async () => {
    const { session } = await loginAs(player, 'oPayOdd');
    mock.setBalance('oPayOdd', ZONE, 10);
    answers('/wxa/game/getbalance', { errcode: 0, balance: 5 });
    await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR');
    answers('/wxa/game/pay', { errcode: 0, bill_no: 'odd-1' });
    await expectRejection(player, session.payments.pay({ amount: 1, billNo: 'odd-1', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR');
    answers('/wxa/game/present', { errcode: 0, balance: 3 });
    await expectRejection(player, session.payments.present({ amount: 1, billNo: 'odd-2', zoneId: ZONE, userIp: IP }), 'WX_UPSTREAM_ERROR');
    const sums = { present_balance: 0, sum_save: 10, sum_present: 0, sum_balance: 10, sum_cost: 0 };
    answers('/wxa/game/getbalance', { errcode: 0, balance: 10, ...sums, first_save: true });
    expect((await session.payments.balance({ zoneId: ZONE, userIp: IP })).firstSave).to.equal(true);
    answers('/wxa/game/getbalance', { errcode: 0, balance: 10, ...sums, first_save: 0 });
    expect((await session.payments.balance({ zoneId: ZONE, userIp: IP })).firstSave).to.equal(false);
    // pay without used_present_amount: none used.
    answers('/wxa/game/pay', { errcode: 0, bill_no: 'odd-3', balance: 9 });
    expect(await session.payments.pay({ amount: 1, billNo: 'odd-3', zoneId: ZONE, userIp: IP })).to.deep.equal({ billNo: 'odd-3', balance: 9, usedPresentAmount: 0 });
    expect(mock.balanceOf('oPayOdd', ZONE).balance, 'the faked answers debited nothing').to.equal(10);
  });

  it('every call renews an expired (42001) or revoked (40001) access token once and goes through', async () => {
    const { session } = await loginAs(player, 'oRenew');
    mock.setBalance('oRenew', ZONE, 5);
    await player.core.checkEncryptedData('d2FybQ=='); // the core now holds an access token
    let presents = 0;
    const calls: Array<[string, () => Promise<unknown>]> = [
      [PHONE, () => session.phoneNumber(mock.issuePhoneCode('oRenew'))],
      [RISK, () => session.riskRank({ scene: 0, clientIp: IP })],
      [CHECK, () => player.core.checkEncryptedData('ZGF0YQ==')],
      ['/wxa/game/getbalance', () => session.payments.balance({ zoneId: ZONE, userIp: IP })],
      ['/wxa/game/present', () => session.payments.present({ amount: 1, billNo: `renew-${(presents += 1)}`, zoneId: ZONE, userIp: IP })],
      [RESET, () => session.resetKey()],
    ];
    for (const [path, call] of calls) {
      for (const [errcode, spoil] of [[42001, () => mock.expireAccessTokens()], [40001, () => mock.revokeAccessTokens()]] as const) {
        spoil();
        mock.resetCalls();
        await call();
        expect(mock.callsTo(path).map((c) => c.errcode), `${path} after ${errcode}`).to.deep.equal([errcode, 0]);
      }
    }
  });

  it('payments: a config errcode (40013) is WX_CONFIG_ERROR, 45011 is WX_RATE_LIMITED', async () => {
    const { session } = await loginAs(player, 'oPayConfig');
    mock.fault('/wxa/game/getbalance', { errcode: 40013 }, { times: 1 });
    await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_CONFIG_ERROR', 40013);
    mock.fault('/wxa/game/getbalance', { errcode: 45011 }, { times: 1 });
    await expectRejection(player, session.payments.balance({ zoneId: ZONE, userIp: IP }), 'WX_RATE_LIMITED', 45011);
  });
});

describe('the payment option', () => {
  let mock: MockWeChat;
  startFor('block', async () => (mock = await startMockWeChat()));

  const KEY = 'k9'.repeat(16);
  const refusals: Array<[string, unknown, RegExp]> = [
    ['null', null, /payment must be \{ offerId, appKey, env\? \}/],
    ['a string', 'offer', /payment must be/],
    ['no offerId', { appKey: KEY }, /payment\.offerId must be a non-empty string/],
    ['env 2', { offerId: '1', appKey: KEY, env: 2 }, /payment\.env must be 0 \(production\) or 1 \(sandbox\)/],
    ['an empty appKey', { offerId: '1', appKey: '' }, /payment\.appKey must be a non-empty string/],
    ['a numeric appKey', { offerId: '1', appKey: 42 }, /payment\.appKey must be/],
    ['appKey null', { offerId: '1', appKey: null }, /payment\.appKey must be/],
    ['no sandbox key', { offerId: '1', appKey: { production: KEY } }, /payment\.appKey must be .* of non-empty strings/],
    ['an empty production key', { offerId: '1', appKey: { production: '', sandbox: KEY } }, /payment\.appKey must be/],
  ];
  for (const [what, payment, message] of refusals) {
    it(`refuses ${what} with a TypeError naming the field, not the key`, () => {
      const make = () => createWxSession(coreOptions(mock, { payment: payment as never }));
      expect(make).to.throw(TypeError, message);
      try {
        make();
      } catch (error) {
        expect(String(error)).to.match(/^TypeError: wx-session: /).and.not.contain(KEY);
      }
    });
  }

  it('takes a plain appKey for the env configured, and the sandbox key of { production, sandbox } in env 1', async () => {
    const sandbox = createWxSession(coreOptions(mock, { checkSessionKey: false, payment: { offerId: mock.payment.offerId, appKey: mock.payment.sandboxAppKey, env: 1 } }));
    mock.setBalance('oSandbox', ZONE, 7, 1);
    const { session } = await sandbox.login(mock.issueCode('oSandbox'));
    expect((await session.payments.balance({ zoneId: ZONE, userIp: IP })).balance).to.equal(7);
    const both = createWxSession(coreOptions(mock, { checkSessionKey: false, payment: { offerId: mock.payment.offerId, appKey: { production: mock.payment.appKey, sandbox: mock.payment.sandboxAppKey }, env: 1 } }));
    const again = await both.login(mock.issueCode('oSandbox'));
    expect(await again.session.payments.pay({ amount: 2, billNo: 'sb-1', zoneId: ZONE, userIp: IP })).to.deep.include({ balance: 5 });
    expect(mock.balanceOf('oSandbox', ZONE, 1).balance).to.equal(5);
    expect(mock.balanceOf('oSandbox', ZONE, 0).balance).to.equal(0);
  });
});
