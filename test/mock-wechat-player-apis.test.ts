// The mock WeChat server (wx-session/testing) against real fetch calls, the player APIs of issue 13:
// resetusersessionkey (signed with the current key, issues a new one), getuserphonenumber (single-use
// codes bound to an openid), getuserriskrank and checkencryptedmsg; faults on each path.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { hmacHex } from './support/keys.js';
import { wechatApi } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

const PLAYER = 'oPlayer1';

describe('mock WeChat server: player APIs', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { getJson, postJson, accessToken, checkSession } = wechatApi(() => mock);
  let token: string;

  beforeEach(async () => {
    token = await accessToken();
    mock.issueCode(PLAYER);
  });

  const reset = (signature: string) => getJson('/wxa/resetusersessionkey', { access_token: token, openid: PLAYER, signature, sig_method: 'hmac_sha256' });

  it('resetusersessionkey: signed with the current key, answers a new key that sessionKeyOf then returns', async () => {
    const oldKey = mock.sessionKeyOf(PLAYER)!;
    expect(await reset(hmacHex('wrongwrongwrongwrong==', ''))).to.include({ errcode: 87009 });
    expect(mock.sessionKeyOf(PLAYER)).to.equal(oldKey);
    const answer = await reset(hmacHex(oldKey, ''));
    expect(answer).to.include({ errcode: 0, openid: PLAYER });
    expect(answer.session_key).to.be.a('string').and.not.equal(oldKey);
    expect(mock.sessionKeyOf(PLAYER)).to.equal(answer.session_key);
    // The old key is dead at once.
    expect(await checkSession(token, PLAYER, hmacHex(oldKey, ''))).to.include({ errcode: 87009 });
    expect(await reset(hmacHex(oldKey, ''))).to.include({ errcode: 87009 });
    expect(await getJson('/wxa/resetusersessionkey', { access_token: token, openid: PLAYER, signature: hmacHex(mock.sessionKeyOf(PLAYER)!, ''), sig_method: 'md5' })).to.include({ errcode: 87008 });
    expect(await getJson('/wxa/resetusersessionkey', { openid: PLAYER, signature: 'x', sig_method: 'hmac_sha256' })).to.include({ errcode: 41001 });
  });

  const phone = (body: Record<string, unknown>) => postJson('/wxa/business/getuserphonenumber', { access_token: token }, JSON.stringify(body));

  it('getuserphonenumber: a code is single-use, bound to its openid, valid 5 minutes', async () => {
    const code = mock.issuePhoneCode(PLAYER);
    expect(await phone({ code, openid: 'oSomeoneElse' })).to.include({ errcode: 40029 });
    const answer = await phone({ code, openid: PLAYER });
    expect(answer.errcode).to.equal(0);
    expect(answer.phone_info).to.deep.include({ phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
    expect(await phone({ code })).to.include({ errcode: 40029 });
    const foreign = await phone({ code: mock.issuePhoneCode(PLAYER, { phoneNumber: '2025550123', countryCode: '1' }) });
    expect(foreign.phone_info).to.deep.include({ phoneNumber: '+12025550123', purePhoneNumber: '2025550123', countryCode: '1' });
    const late = mock.issuePhoneCode(PLAYER);
    mock.advanceTime(300_000);
    expect(await phone({ code: late })).to.include({ errcode: 40029 });
    expect(await phone({ code: 'never-issued' })).to.include({ errcode: 40029 });
  });

  const risk = (body: Record<string, unknown>) => postJson('/wxa/getuserriskrank', { access_token: token }, JSON.stringify(body));

  it('getuserriskrank answers the rank set for the player (default 0)', async () => {
    const body = { appid: mock.appId, openid: PLAYER, scene: 0, client_ip: '1.2.3.4' };
    expect(await risk(body)).to.include({ errcode: 0, risk_rank: 0 });
    mock.setRiskRank(PLAYER, 3);
    expect(await risk(body)).to.include({ errcode: 0, risk_rank: 3 });
    expect(await risk({ ...body, openid: 'oNeverSeen' })).to.include({ errcode: 61010 });
    expect(() => mock.setRiskRank(PLAYER, 5)).to.throw(TypeError);
  });

  const check = (hash: string) => postJson('/wxa/business/checkencryptedmsg', { access_token: token }, JSON.stringify({ encrypted_msg_hash: hash }));

  it('checkencryptedmsg knows the registered data by the sha256 of its text', async () => {
    const data = 'Zm9vYmFyZW5jcnlwdGVk+/==';
    const hash = createHash('sha256').update(data, 'utf8').digest('hex');
    expect(await check(hash)).to.include({ errcode: 0, vaild: false, create_time: 0 });
    const created = mock.registerEncryptedData(data);
    expect(created).to.be.closeTo(Math.floor(Date.now() / 1000), 2);
    expect(await check(hash)).to.include({ errcode: 0, vaild: true, create_time: created });
  });

  const paths: Array<[string, () => Promise<unknown>]> = [
    ['/wxa/resetusersessionkey', () => reset(hmacHex(mock.sessionKeyOf(PLAYER)!, ''))],
    ['/wxa/business/getuserphonenumber', () => phone({ code: mock.issuePhoneCode(PLAYER) })],
    ['/wxa/getuserriskrank', () => risk({ appid: mock.appId, openid: PLAYER, scene: 0, client_ip: '1.2.3.4' })],
    ['/wxa/business/checkencryptedmsg', () => check('00')],
  ];
  for (const [path, call] of paths) {
    it(`faults work on ${path}, and its calls are recorded`, async () => {
      const key = mock.sessionKeyOf(PLAYER);
      mock.fault(path, { errcode: 45011 }, { times: 1 });
      mock.fault(path, { errcode: -1 }, { times: 1 });
      expect(await call()).to.include({ errcode: 45011 });
      expect(await call()).to.include({ errcode: -1 });
      expect(mock.sessionKeyOf(PLAYER)).to.equal(key);
      expect(await call()).to.include({ errcode: 0 });
      expect(mock.callsTo(path).map((c) => c.errcode)).to.deep.equal([45011, -1, 0]);
      expect(mock.callsTo(path)[0]!.query.access_token).to.equal('[redacted]');
    });
  }
});
