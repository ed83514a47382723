// The mock (wx-session/testing) started with platform 'qq', against real fetch calls: it fakes QQ's
// mini-game server API (docs/platforms.md) in WeChat's {errcode, errmsg} dialect — jscode2session,
// getToken (a new token kills the previous one), the signed user storage under
// /api/openDataContext/ with WeChat's signature (official vector) — with faults on every path, and
// a 404 for what QQ does not serve (checkSessionKey, WeChat's other APIs). Three mocks, one per
// platform, run side by side without sharing anything.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { expectErr, wechatApi, type Json } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';
import { hmacHex } from './support/keys.js';
import { findSecrets } from './support/witness.js';

const STORAGE = '/api/openDataContext';

/** WeChat's official login-state signature example, which QQ's documentation repeats (test/fixtures/wechat-vectors.json). */
const VECTOR = (JSON.parse(readFileSync(new URL('./fixtures/wechat-vectors.json', import.meta.url), 'utf8')) as {
  loginSignature: Array<{ sessionKey: string; body: string; signature: string }>;
}).loginSignature[0]!;

describe('mock QQ server (platform: qq)', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat({ platform: 'qq' })));
  const { getJson, postJson } = wechatApi(() => mock);

  function code2Session(code: string, overrides: Record<string, string> = {}): Promise<Json> {
    return getJson('/sns/jscode2session', { appid: mock.appId, secret: mock.appSecret, js_code: code, grant_type: 'authorization_code', ...overrides });
  }

  function getToken(overrides: Record<string, string> = {}): Promise<Json> {
    return getJson('/api/getToken', { grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, ...overrides });
  }

  async function accessToken(): Promise<string> {
    return (await getToken()).access_token as string;
  }

  function signedPost(path: 'set_user_storage' | 'remove_user_storage', token: string, openid: string, body: string, key?: string): Promise<Json> {
    const signature = hmacHex(key ?? mock.sessionKeyOf(openid) ?? '', body);
    return postJson(`${STORAGE}/${path}`, { access_token: token, openid, signature, sig_method: 'hmac_sha256' }, body);
  }

  it('says which platform it fakes', () => {
    expect(mock.platform).to.equal('qq');
  });

  describe('jscode2session', () => {
    it("answers openid, session_key and unionid, WeChat's shape without errcode", async () => {
      expect(await code2Session(mock.issueCode('oQq1', { unionid: 'uQq1' }))).to.deep.equal({ openid: 'oQq1', session_key: mock.sessionKeyOf('oQq1'), unionid: 'uQq1' });
      expect(await code2Session(mock.issueCode('oQq2'))).to.deep.equal({ openid: 'oQq2', session_key: mock.sessionKeyOf('oQq2') });
      expect(mock.callsTo('/sns/jscode2session').map((call) => call.errcode)).to.deep.equal([0, 0]);
    });

    it('answers 40029 for an unknown, used, expired or missing code', async () => {
      expectErr(await code2Session('not-a-code'), 40029, 'invalid code');
      const code = mock.issueCode('oQq3');
      await code2Session(code);
      expectErr(await code2Session(code), 40029, 'invalid code');
      const late = mock.issueCode('oQq3');
      mock.advanceTime(5 * 60_000);
      expectErr(await code2Session(late), 40029, 'invalid code');
      expectErr(await code2Session(''), 40029, 'invalid code');
    });

    it('answers 40013 for a wrong appid (before the secret), 40125 for a wrong secret, 40002 for another grant_type', async () => {
      const code = mock.issueCode('oQq4');
      expectErr(await code2Session(code, { appid: '1109999999', secret: 'wrong' }), 40013, 'invalid appid');
      expectErr(await code2Session(code, { secret: 'not-the-secret-at-all' }), 40125, 'invalid appsecret');
      expectErr(await code2Session(code, { grant_type: 'client_credential' }), 40002, 'invalid grant_type');
      expect(await code2Session(code)).to.include({ openid: 'oQq4' });
      expect(JSON.stringify(mock.calls)).to.not.include(mock.appSecret).and.not.include('not-the-secret-at-all');
    });

    it('answers 45011 and -1 forced on a code, without spending it', async () => {
      const code = mock.issueCode('oQq5', { errcode: 45011, times: 1 });
      expect(await code2Session(code)).to.include({ errcode: 45011 });
      expect(await code2Session(code)).to.include({ openid: 'oQq5' });
      mock.fault('/sns/jscode2session', { errcode: -1 }, { times: 1 });
      expectErr(await code2Session(mock.issueCode('oQq5')), -1, 'system error');
    });
  });

  describe('getToken', () => {
    it('answers access_token and expires_in; a new token kills the previous one at once', async () => {
      mock.issueCode('oQq6');
      const first = await getToken();
      expect(first).to.have.all.keys('access_token', 'expires_in');
      expect(first.expires_in).to.equal(7200);
      const body = '{"kv_list":[{"key":"a","value":"1"}]}';
      expect(await signedPost('set_user_storage', first.access_token as string, 'oQq6', body)).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      const second = await accessToken();
      expect(second).to.not.equal(first.access_token);
      expectErr(await signedPost('set_user_storage', first.access_token as string, 'oQq6', body), 40001, 'invalid credential, access_token is invalid or not latest');
      expect(await signedPost('set_user_storage', second, 'oQq6', body)).to.include({ errcode: 0 });
    });

    it('answers 40013 for a wrong appid, 40001 for a wrong secret, 40002 for another grant_type', async () => {
      expect(await getToken({ appid: '1109999999' })).to.include({ errcode: 40013 });
      expect(await getToken({ secret: 'not-the-secret-at-all' })).to.include({ errcode: 40001 });
      expect(await getToken({ grant_type: 'authorization_code' })).to.include({ errcode: 40002 });
      expect(mock.currentAccessToken()).to.equal(undefined);
      expect(mock.callsTo('/api/getToken').map((call) => [call.errcode, call.query.secret])).to.deep.equal([
        [40013, '[redacted]'],
        [40001, '[redacted]'],
        [40002, '[redacted]'],
      ]);
    });
  });

  describe('user storage', () => {
    let token: string;
    beforeEach(async () => {
      token = await accessToken();
      mock.issueCode('oQq7');
    });

    it('set_user_storage stores with the right signature; a stale key after rotateSessionKey answers 87009', async () => {
      expect(await signedPost('set_user_storage', token, 'oQq7', '{"kv_list":[{"key":"score","value":"100"}]}')).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      expect(mock.userStorage('oQq7')).to.deep.equal({ score: '100' });
      const old = mock.sessionKeyOf('oQq7')!;
      mock.rotateSessionKey('oQq7');
      expectErr(await signedPost('set_user_storage', token, 'oQq7', '{"kv_list":[{"key":"score","value":"9"}]}', old), 87009, 'invalid signature');
      expect(mock.userStorage('oQq7')).to.deep.equal({ score: '100' });
    });

    it("checks WeChat's official signature vector (QQ signs alike) over the exact body bytes", async () => {
      mock.rotateSessionKey('oQq7', VECTOR.sessionKey);
      const query = { access_token: token, openid: 'oQq7', sig_method: 'hmac_sha256' };
      // The vector's signature passes; its body is no kv_list, so the body is what is refused.
      expect(await postJson(`${STORAGE}/set_user_storage`, { ...query, signature: VECTOR.signature }, VECTOR.body)).to.include({ errcode: 47001 });
      expect(await postJson(`${STORAGE}/set_user_storage`, { ...query, signature: VECTOR.signature }, '{"foo": "bar"}')).to.include({ errcode: 87009 });
      const sent = '{ "kv_list": [ {"key":"k","value":"v"} ] }';
      expect(await postJson(`${STORAGE}/set_user_storage`, { ...query, signature: hmacHex(VECTOR.sessionKey, JSON.stringify(JSON.parse(sent))) }, sent)).to.include({ errcode: 87009 });
      expect(await postJson(`${STORAGE}/set_user_storage`, { ...query, signature: hmacHex(VECTOR.sessionKey, sent) }, sent)).to.include({ errcode: 0 });
      expect(mock.userStorage('oQq7')).to.deep.equal({ k: 'v' });
    });

    it('remove_user_storage removes keys', async () => {
      await signedPost('set_user_storage', token, 'oQq7', '{"kv_list":[{"key":"a","value":"1"},{"key":"b","value":"2"}]}');
      expect(await signedPost('remove_user_storage', token, 'oQq7', '{"key":["a"]}')).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      expect(mock.userStorage('oQq7')).to.deep.equal({ b: '2' });
    });

    it("refuses in WeChat's table: 41001 no token, 42001 expired, 40003 unknown openid, 87019 key too long", async () => {
      const body = '{"kv_list":[{"key":"a","value":"1"}]}';
      const signature = hmacHex(mock.sessionKeyOf('oQq7')!, body);
      expect(await postJson(`${STORAGE}/set_user_storage`, { openid: 'oQq7', signature, sig_method: 'hmac_sha256' }, body)).to.include({ errcode: 41001 });
      expect(await signedPost('set_user_storage', token, 'oNobody', body)).to.include({ errcode: 40003 });
      expect(await signedPost('set_user_storage', token, 'oQq7', JSON.stringify({ kv_list: [{ key: 'k'.repeat(129), value: '1' }] }))).to.include({ errcode: 87019 });
      mock.expireAccessTokens();
      expect(await signedPost('set_user_storage', token, 'oQq7', body)).to.include({ errcode: 42001 });
      expect(mock.userStorage('oQq7')).to.deep.equal({});
    });
  });

  describe('faults, paths and secrets', () => {
    it('faults work on every QQ path', async () => {
      mock.fault('/api/getToken', { status: 502 }, { times: 1 });
      const res = await fetch(`${mock.url}/api/getToken`);
      expect(res.status).to.equal(502);
      await res.body?.cancel();
      mock.fault('/api/getToken', { errcode: -1 }, { times: 1 });
      expectErr(await getToken(), -1, 'system error');
      expect(await getToken()).to.have.property('access_token');
      for (const path of [`${STORAGE}/set_user_storage`, `${STORAGE}/remove_user_storage`]) {
        mock.fault(path, { errcode: -1, errmsg: 'system busy' }, { times: 1 });
        expect(await postJson(path, {}, '{}')).to.deep.equal({ errcode: -1, errmsg: 'system busy' });
      }
      expect(mock.calls.map((call) => [call.path, call.status, call.errcode])).to.deep.equal([
        ['/api/getToken', 502, undefined],
        ['/api/getToken', 200, -1],
        ['/api/getToken', 200, 0],
        [`${STORAGE}/set_user_storage`, 200, -1],
        [`${STORAGE}/remove_user_storage`, 200, -1],
      ]);
    });

    it('answers 404 in JSON for checkSessionKey and the other paths QQ does not serve', async () => {
      for (const path of ['/wxa/checksession', '/cgi-bin/stable_token', '/cgi-bin/token', '/wxa/set_user_storage', '/wxa/resetusersessionkey', '/wxa/business/getuserphonenumber', '/wxa/getuserriskrank', '/wxa/game/pay', '/mgplatform/api/apps/check_session_key']) {
        const res = await fetch(`${mock.url}${path}`, { method: 'POST', body: '{}' });
        expect(res.status, path).to.equal(404);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(await res.json()).to.deep.equal({ errcode: 404, errmsg: 'not found' });
      }
    });

    it("a WeChat mock does not serve QQ's getToken or storage paths", async () => {
      const wechat = await startMockWeChat();
      try {
        for (const path of ['/api/getToken', `${STORAGE}/set_user_storage`]) {
          const res = await fetch(`${wechat.url}${path}`);
          expect(res.status, path).to.equal(404);
          await res.body?.cancel();
        }
      } finally {
        await wechat.close();
      }
    });

    it("the secrets witness harvests QQ's session_keys and access tokens from the mock's answers", async () => {
      const answer = await code2Session(mock.issueCode('oQq8'));
      const token = await accessToken();
      const kinds = (text: string): string[] => [...new Set(findSecrets(text).map((leak) => leak.kind))];
      expect(kinds(`k=${answer.session_key as string}`)).to.deep.equal(['session_key']);
      expect(kinds(`t=${token}`)).to.deep.equal(['access_token']);
    });
  });

  describe('three mocks, one per platform', () => {
    let douyin: MockWeChat;
    let wechat: MockWeChat;
    startFor('test', async () => (douyin = await startMockWeChat({ platform: 'douyin', appId: 'tt0000000000000001' })));
    startFor('test', async () => (wechat = await startMockWeChat({ appId: 'wx0000000000000001' })));

    it('each answers its own dialect on its own url, with its own players, keys and tokens', async () => {
      expect(new Set([mock.url, douyin.url, wechat.url]).size).to.equal(3);
      const qq = await code2Session(mock.issueCode('oSame'));
      const dy = (await (await fetch(`${douyin.url}/mgplatform/api/apps/jscode2session?${new URLSearchParams({ appid: douyin.appId, secret: douyin.appSecret, code: douyin.issueCode('oSame') })}`)).json()) as Json;
      const wx = (await (await fetch(`${wechat.url}/sns/jscode2session?${new URLSearchParams({ appid: wechat.appId, secret: wechat.appSecret, js_code: wechat.issueCode('oSame'), grant_type: 'authorization_code' })}`)).json()) as Json;
      expect(qq).to.deep.equal({ openid: 'oSame', session_key: mock.sessionKeyOf('oSame') });
      expect(dy).to.deep.equal({ error: 0, openid: 'oSame', session_key: douyin.sessionKeyOf('oSame') });
      expect(wx).to.deep.equal({ openid: 'oSame', session_key: wechat.sessionKeyOf('oSame') });
      expect(new Set([qq.session_key, dy.session_key, wx.session_key]).size).to.equal(3);
      // One app's code is no code at another's.
      const stray = await code2Session(wechat.issueCode('oOther'));
      expect(stray).to.include({ errcode: 40029 });
      expect([mock.calls.length, douyin.calls.length, wechat.calls.length]).to.deep.equal([2, 1, 1]);
    });
  });
});
