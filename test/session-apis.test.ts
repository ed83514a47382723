// The session_key's further APIs (docs/session-key.md) through the core against the mock WeChat:
// session.resetKey() (the new key sealed in the store, the old one dead), phoneNumber through the
// session and the core (openid binding, 40029, 45011, bad codes refused before any call),
// session.riskRank() and core.checkEncryptedData(). Routes on the adapters: the HTTP tests.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { expectStoredKey, hmacHex } from './support/keys.js';
import { callCount, expectClean, expectRejection, IP, loginAs, playerCore, type PlayerCore } from './support/payments.js';

const RESET = '/wxa/resetusersessionkey';
const PHONE = '/wxa/business/getuserphonenumber';
const RISK = '/wxa/getuserriskrank';
const CHECK = '/wxa/business/checkencryptedmsg';
const STORAGE = '/wxa/set_user_storage';

describe('session_key APIs through the core', () => {
  let mock: MockWeChat;
  let player: PlayerCore;
  startFor('block', async () => (mock = await startMockWeChat()));
  beforeEach(() => {
    player = playerCore(mock);
    mock.clearFaults();
    mock.resetCalls();
  });
  afterEach(() => expectClean(player, player.logger.text, 'the log'));

  describe('session.resetKey()', () => {
    it('stores the new key sealed; the old key is refused by WeChat; the session keeps working', async () => {
      const openid = 'oReset';
      const { token, session } = await loginAs(player, openid);
      const oldKey = mock.sessionKeyOf(openid)!;
      await session.resetKey();
      const newKey = mock.sessionKeyOf(openid)!;
      expect(newKey === oldKey, 'WeChat issued a new key').to.equal(false);
      const [call] = mock.callsTo(RESET);
      expect(call!.method).to.equal('GET');
      expect(call!.query.signature).to.equal(hmacHex(oldKey, ''));
      expect(call!.query.sig_method).to.equal('hmac_sha256');
      expect(call!.query.openid).to.equal(openid);
      expectStoredKey(player.store.records.get(session.id), session.id, mock.appId, newKey);
      expect(session.sessionKey === newKey, 'the live session holds the new key').to.equal(true);

      // The old key no longer signs: a reset signed with it is refused.
      const forged = await fetch(`${mock.url}${RESET}?${new URLSearchParams({ access_token: mock.currentAccessToken()!, openid, signature: hmacHex(oldKey, ''), sig_method: 'hmac_sha256' })}`);
      expect(((await forged.json()) as { errcode: number }).errcode).to.equal(87009);

      // A later request of the same token signs with the new key.
      const again = await player.core.authenticate(token);
      await again.session!.setUserStorage([{ key: 'k', value: 'v' }]);
      expect(mock.callsTo(STORAGE).at(-1)!.errcode).to.equal(0);
      expect(mock.userStorage(openid)).to.deep.equal({ k: 'v' });
    });

    it('a key WeChat no longer accepts (87009) rejects WX_SESSION_KEY_EXPIRED and marks the session stale', async () => {
      const openid = 'oResetStale';
      const { session } = await loginAs(player, openid);
      mock.rotateSessionKey(openid);
      await expectRejection(player, session.resetKey(), 'WX_SESSION_KEY_EXPIRED', 87009, openid);
      expect(player.store.records.get(session.id)!.keyStale).to.equal(true);
    });

    it('a revoked access token is renewed and the reset retried once', async () => {
      const { session } = await loginAs(player, 'oResetToken');
      await session.resetKey(); // the core now holds an access token
      mock.revokeAccessTokens();
      mock.resetCalls();
      await session.resetKey();
      expect(mock.callsTo(RESET).map((c) => c.errcode)).to.deep.equal([40001, 0]);
    });
  });

  describe('phoneNumber', () => {
    it('session.phoneNumber(code) passes the openid and resolves the number (countryCode a string)', async () => {
      const openid = 'oPhone';
      const { session } = await loginAs(player, openid);
      const code = mock.issuePhoneCode(openid, { phoneNumber: '13912345678' });
      expect(await session.phoneNumber(code)).to.deep.equal({ phoneNumber: '13912345678', purePhoneNumber: '13912345678', countryCode: '86' });
      const call = mock.callsTo(PHONE)[0]!;
      expect(JSON.parse(call.body!)).to.deep.equal({ code, openid });
    });

    it('core.phoneNumber(code) without an openid, and with a foreign number', async () => {
      const code = mock.issuePhoneCode('oPhoneCore', { phoneNumber: '2025550123', countryCode: '1' });
      expect(await player.core.phoneNumber(code)).to.deep.equal({ phoneNumber: '+12025550123', purePhoneNumber: '2025550123', countryCode: '1' });
      expect(JSON.parse(mock.callsTo(PHONE)[0]!.body!)).to.deep.equal({ code });
    });

    it("another player's code (openid binding), a used code and an unknown one -> WX_CODE_INVALID 40029", async () => {
      const { session } = await loginAs(player, 'oPhoneMine');
      const theirs = mock.issuePhoneCode('oPhoneTheirs');
      await expectRejection(player, session.phoneNumber(theirs), 'WX_CODE_INVALID', 40029);
      await expectRejection(player, player.core.phoneNumber(theirs, { openid: 'oPhoneMine' }), 'WX_CODE_INVALID', 40029);
      await player.core.phoneNumber(theirs, { openid: 'oPhoneTheirs' });
      await expectRejection(player, player.core.phoneNumber(theirs), 'WX_CODE_INVALID', 40029);
      await expectRejection(player, player.core.phoneNumber('no-such-code'), 'WX_CODE_INVALID', 40029);
    });

    it('45011 -> WX_RATE_LIMITED; -1 is retried', async () => {
      mock.fault(PHONE, { errcode: 45011 }, { times: 1 });
      await expectRejection(player, player.core.phoneNumber(mock.issuePhoneCode('oPhoneLimit')), 'WX_RATE_LIMITED', 45011);
      mock.fault(PHONE, { errcode: -1 }, { times: 1 });
      const code = mock.issuePhoneCode('oPhoneBusy');
      expect((await player.core.phoneNumber(code)).purePhoneNumber).to.equal('13800138000');
      expect(mock.callsTo(PHONE).slice(-2).map((c) => c.errcode)).to.deep.equal([-1, 0]);
    });

    it('a code that is not a non-empty string or is over 256 characters -> WX_BAD_REQUEST, no call to WeChat', async () => {
      const { session } = await loginAs(player, 'oPhoneBad');
      const before = callCount(mock);
      for (const code of [undefined, null, 42, '', 'x'.repeat(257), { code: 'x' }]) {
        await expectRejection(player, player.core.phoneNumber(code as string), 'WX_BAD_REQUEST');
        await expectRejection(player, session.phoneNumber(code as string), 'WX_BAD_REQUEST');
      }
      await expectRejection(player, player.core.phoneNumber('abc', { openid: 7 as unknown as string }), 'WX_BAD_REQUEST');
      expect(callCount(mock)).to.equal(before);
    });
  });

  describe('session.riskRank()', () => {
    it("resolves WeChat's risk_rank, sending the documented fields", async () => {
      const openid = 'oRisk';
      const { session } = await loginAs(player, openid);
      mock.setRiskRank(openid, 3);
      expect(await session.riskRank({ scene: 1, clientIp: IP, mobileNo: '13800138000', isTest: true })).to.equal(3);
      expect(JSON.parse(mock.callsTo(RISK)[0]!.body!)).to.deep.equal({ appid: mock.appId, openid, scene: 1, client_ip: IP, mobile_no: '13800138000', is_test: true });
      expect(await session.riskRank({ scene: 0, clientIp: IP })).to.equal(3);
    });

    it('bad input -> WX_BAD_REQUEST before any call; an errcode -> WX_UPSTREAM_ERROR with it', async () => {
      const { session } = await loginAs(player, 'oRiskBad');
      const before = callCount(mock);
      const bad = [undefined, {}, { scene: -1, clientIp: IP }, { scene: 1.5, clientIp: IP }, { scene: 0 }, { scene: 0, clientIp: '' }, { scene: 0, clientIp: IP, isTest: 'yes' }, { scene: 0, clientIp: IP, mobileNo: 1 }];
      for (const input of bad) await expectRejection(player, session.riskRank(input as never), 'WX_BAD_REQUEST');
      expect(callCount(mock)).to.equal(before);
      mock.fault(RISK, { errcode: 61010 }, { times: 1 });
      await expectRejection(player, session.riskRank({ scene: 0, clientIp: IP }), 'WX_UPSTREAM_ERROR', 61010);
    });
  });

  describe('core.checkEncryptedData()', () => {
    it('a registered ciphertext is valid with its create_time; another is not', async () => {
      const data = 'c29tZSBwaG9uZSBjaXBoZXJ0ZXh0IGZyb20gV2VDaGF0Lg==';
      const created = mock.registerEncryptedData(data);
      expect(await player.core.checkEncryptedData(data)).to.deep.equal({ valid: true, createTime: created });
      const hash = createHash('sha256').update(data, 'utf8').digest('hex');
      expect(JSON.parse(mock.callsTo(CHECK)[0]!.body!)).to.deep.equal({ encrypted_msg_hash: hash });
      expect(await player.core.checkEncryptedData(`${data}x`)).to.deep.equal({ valid: false, createTime: 0 });
    });

    it("WeChat's errcode 1 (data not exist) is not valid; a non-string is WX_BAD_REQUEST with no call", async () => {
      mock.fault(CHECK, { errcode: 1 }, { times: 1 });
      expect(await player.core.checkEncryptedData('abcd')).to.deep.equal({ valid: false, createTime: 0 });
      const before = callCount(mock);
      for (const data of [undefined, '', 12]) await expectRejection(player, player.core.checkEncryptedData(data as string), 'WX_BAD_REQUEST');
      expect(callCount(mock)).to.equal(before);
    });
  });
});
