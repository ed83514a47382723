// The mock (wx-session/testing) started with platform 'douyin', against real fetch calls: it fakes
// Douyin's mini-game server API (docs/platforms.md) in Douyin's own dialects — the flat
// {error, errcode, errmsg, message} of jscode2session and user storage, the {err_no, err_tips |
// err_msg, log_id} of the token and check_session_key calls — with anonymous codes, a stale key
// (28001039) after rotateSessionKey, signatures over the exact body bytes (Douyin's official
// vector), faults in each path's dialect, and a 404 for WeChat's paths.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { wechatApi, type Json } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';
import { hmacHex } from './support/keys.js';
import { findSecrets } from './support/witness.js';

const BASE = '/mgplatform/api/apps';
const LOG_ID = /^\d{14}[0-9A-F]{20}$/;

/** Douyin's official user-login signature example (test/fixtures/wechat-vectors.json, naming its source). */
const VECTOR = (JSON.parse(readFileSync(new URL('./fixtures/wechat-vectors.json', import.meta.url), 'utf8')) as {
  douyinStorageSignature: { sessionKey: string; body: string; signature: string };
}).douyinStorageSignature;

/** The flat error shape. */
const flatErr = (errcode: number, text: string): Json => ({ error: 1, errcode, errmsg: text, message: text });

describe('mock Douyin server (platform: douyin)', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat({ platform: 'douyin' })));
  const { getJson, postJson } = wechatApi(() => mock);

  function code2Session(params: Record<string, string>): Promise<Json> {
    return getJson(`${BASE}/jscode2session`, { appid: mock.appId, secret: mock.appSecret, ...params });
  }

  function token(path: 'v2/token' | 'stable_token', overrides: Record<string, unknown> = {}): Promise<Json> {
    return postJson(`${BASE}/${path}`, {}, JSON.stringify({ appid: mock.appId, secret: mock.appSecret, grant_type: 'client_credential', ...overrides }));
  }

  async function accessToken(): Promise<string> {
    const answer = await token('stable_token');
    return (answer.data as { access_token: string }).access_token;
  }

  function checkSessionKey(accessTokenValue: string, openid: string, signature: string, sigMethod = 'hmac_sha256'): Promise<Json> {
    return getJson(`${BASE}/check_session_key`, { access_token: accessTokenValue, openid, signature, sig_method: sigMethod });
  }

  /** A storage call over `body` exactly as given, signed with `key` (default: the player's current key). */
  function signedPost(path: 'set_user_storage' | 'remove_user_storage', accessTokenValue: string, openid: string, body: string, key?: string): Promise<Json> {
    const signature = hmacHex(key ?? mock.sessionKeyOf(openid) ?? '', body);
    return postJson(`${BASE}/${path}`, { access_token: accessTokenValue, openid, signature, sig_method: 'hmac_sha256' }, body);
  }

  const kv = (pairs: Record<string, string>): string => JSON.stringify({ kv_list: Object.entries(pairs).map(([key, value]) => ({ key, value })) });

  describe('start-up', () => {
    it('says which platform it fakes; a mock without the option is WeChat', async () => {
      expect(mock.platform).to.equal('douyin');
      const wechat = await startMockWeChat();
      try {
        expect(wechat.platform).to.equal('wechat');
      } finally {
        await wechat.close();
      }
    });

    it('refuses an unknown platform with a TypeError', async () => {
      const error = await startMockWeChat({ platform: 'alipay' as never }).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(/platform/);
    });
  });

  describe('jscode2session', () => {
    it('answers a code flat: error 0, openid, session_key and unionid', async () => {
      const answer = await code2Session({ code: mock.issueCode('oDy1', { unionid: 'uDy1' }) });
      expect(answer).to.deep.equal({ error: 0, openid: 'oDy1', session_key: mock.sessionKeyOf('oDy1'), unionid: 'uDy1' });
      expect(await code2Session({ code: mock.issueCode('oDy2') })).to.deep.equal({ error: 0, openid: 'oDy2', session_key: mock.sessionKeyOf('oDy2') });
      expect(mock.callsTo(`${BASE}/jscode2session`).map((call) => [call.method, call.status, call.errcode])).to.deep.equal([['GET', 200, 0], ['GET', 200, 0]]);
    });

    it('answers an anonymous code with anonymous_openid and a session_key, no openid', async () => {
      const anonymousCode = mock.issueAnonymousCode('aGuest1');
      const answer = await code2Session({ anonymous_code: anonymousCode });
      expect(answer).to.deep.equal({ error: 0, anonymous_openid: 'aGuest1', session_key: mock.sessionKeyOf('aGuest1') });
      expect(answer.session_key).to.match(/^[A-Za-z0-9+/]{22}==$/);
      const fresh = await code2Session({ anonymous_code: mock.issueAnonymousCode() });
      expect(fresh.anonymous_openid).to.match(/^aMock[A-Za-z0-9_-]{23}$/);
      expect(await code2Session({ anonymous_code: anonymousCode })).to.deep.equal(flatErr(40019, 'bad anonymous code'));
    });

    it('with both a code and an anonymous code, the code wins and the anonymous code stays unspent', async () => {
      const anonymousCode = mock.issueAnonymousCode('aGuest2');
      const answer = await code2Session({ code: mock.issueCode('oDy3'), anonymous_code: anonymousCode });
      expect(answer).to.deep.equal({ error: 0, openid: 'oDy3', session_key: mock.sessionKeyOf('oDy3') });
      expect(await code2Session({ code: 'not-a-code', anonymous_code: anonymousCode })).to.deep.equal(flatErr(40018, 'bad code'));
      expect(await code2Session({ anonymous_code: anonymousCode })).to.include({ error: 0, anonymous_openid: 'aGuest2' });
    });

    it('answers 40018 for an unknown, used or expired code, or none; 40019 for a bad anonymous code', async () => {
      expect(await code2Session({ code: 'not-a-code' })).to.deep.equal(flatErr(40018, 'bad code'));
      expect(await code2Session({})).to.deep.equal(flatErr(40018, 'bad code'));
      const code = mock.issueCode('oDy4');
      await code2Session({ code });
      expect(await code2Session({ code })).to.deep.equal(flatErr(40018, 'bad code'));
      const late = mock.issueCode('oDy4');
      mock.advanceTime(5 * 60_000);
      expect(await code2Session({ code: late })).to.deep.equal(flatErr(40018, 'bad code'));
      // A code of one kind is no code of the other.
      expect(await code2Session({ anonymous_code: mock.issueCode('oDy4') })).to.deep.equal(flatErr(40019, 'bad anonymous code'));
      expect(await code2Session({ code: mock.issueAnonymousCode() })).to.deep.equal(flatErr(40018, 'bad code'));
      expect(mock.callsTo(`${BASE}/jscode2session`).map((call) => call.errcode)).to.deep.equal([40018, 40018, 0, 40018, 40018, 40019, 40018]);
    });

    it('answers 40015 for a wrong or missing appid (before the secret), 40017 for a wrong or missing secret', async () => {
      const code = mock.issueCode('oDy5');
      expect(await code2Session({ code, appid: 'tt0123456789abcdef', secret: 'wrong' })).to.deep.equal(flatErr(40015, 'bad appid'));
      expect(await getJson(`${BASE}/jscode2session`, { secret: mock.appSecret, code })).to.deep.equal(flatErr(40015, 'bad appid'));
      expect(await code2Session({ code, secret: 'not-the-secret-at-all' })).to.deep.equal(flatErr(40017, 'bad secret'));
      expect(await getJson(`${BASE}/jscode2session`, { appid: mock.appId, code })).to.deep.equal(flatErr(40017, 'bad secret'));
      expect(await code2Session({ code })).to.include({ error: 0, openid: 'oDy5' });
      expect(JSON.stringify(mock.calls)).to.not.include(mock.appSecret).and.not.include('not-the-secret-at-all');
    });

    it('answers an errcode forced on a code in the flat dialect, without spending the code', async () => {
      const code = mock.issueCode('oDy6', { errcode: -1, times: 1 });
      expect(await code2Session({ code })).to.deep.equal(flatErr(-1, 'system error'));
      expect(await code2Session({ code })).to.include({ error: 0, openid: 'oDy6' });
    });

    it('issueAnonymousCode is Douyin only', async () => {
      for (const platform of ['wechat', 'qq'] as const) {
        const other = await startMockWeChat({ platform });
        try {
          expect(() => other.issueAnonymousCode()).to.throw(TypeError, /Douyin/);
        } finally {
          await other.close();
        }
      }
      expect(() => mock.issueAnonymousCode('')).to.throw(TypeError);
    });
  });

  describe('access tokens', () => {
    it('v2/token answers err_no 0, err_tips, log_id and data; a new token leaves the previous one 5 minutes', async () => {
      mock.issueCode('oDy7');
      const first = await token('v2/token');
      expect(first).to.have.all.keys('err_no', 'err_tips', 'log_id', 'data');
      expect(first).to.include({ err_no: 0, err_tips: 'success' });
      expect(first.log_id).to.match(LOG_ID);
      const data = first.data as { access_token: string; expires_in: number };
      expect(data).to.have.all.keys('access_token', 'expires_in');
      expect(data.expires_in).to.equal(7200);
      const signature = hmacHex(mock.sessionKeyOf('oDy7')!, '');
      const second = ((await token('v2/token')).data as { access_token: string }).access_token;
      expect(second).to.not.equal(data.access_token);
      expect(await checkSessionKey(data.access_token, 'oDy7', signature)).to.include({ err_no: 0 });
      mock.advanceTime(5 * 60_000);
      expect(await checkSessionKey(data.access_token, 'oDy7', signature)).to.include({ err_no: 28001003 });
      expect(await checkSessionKey(second, 'oDy7', signature)).to.include({ err_no: 0 });
    });

    it('stable_token answers err_msg, the same token until force_refresh replaces it', async () => {
      mock.issueCode('oDy8');
      const first = await token('stable_token');
      expect(first).to.have.all.keys('err_no', 'err_msg', 'log_id', 'data');
      expect(first).to.include({ err_no: 0, err_msg: 'success' });
      expect(first.log_id).to.match(LOG_ID);
      const { access_token: value, expires_in: expiresIn } = first.data as { access_token: string; expires_in: number };
      expect(expiresIn).to.equal(7200);
      mock.advanceTime(60_000);
      const again = (await token('stable_token')).data as { access_token: string; expires_in: number };
      expect(again.access_token).to.equal(value);
      expect(again.expires_in).to.be.within(7130, 7140);
      const forced = ((await token('stable_token', { force_refresh: true })).data as { access_token: string }).access_token;
      expect(forced).to.not.equal(value);
      const signature = hmacHex(mock.sessionKeyOf('oDy8')!, '');
      expect(await checkSessionKey(value, 'oDy8', signature)).to.include({ err_no: 28001003 });
      expect(await checkSessionKey(forced, 'oDy8', signature)).to.include({ err_no: 0 });
    });

    it('force_refresh is allowed 20 times a day, then answers err_no 45009', async () => {
      for (let i = 0; i < 20; i += 1) expect(await token('stable_token', { force_refresh: true })).to.include({ err_no: 0 });
      const refused = await token('stable_token', { force_refresh: true });
      expect(refused).to.include({ err_no: 45009 }).and.not.have.property('data');
      mock.advanceTime(86_400_000);
      expect(await token('stable_token', { force_refresh: true })).to.include({ err_no: 0 });
    });

    for (const [path, field] of [['v2/token', 'err_tips'], ['stable_token', 'err_msg']] as const) {
      it(`${path} answers 40015 appid, 40017 secret, 40020 grant_type in its dialect (${field}), without data`, async () => {
        const cases: Array<[Record<string, unknown>, number, string]> = [
          [{ appid: 'tt0000000000000000', secret: 'wrong' }, 40015, 'bad appid'],
          [{ secret: 'not-the-secret-at-all' }, 40017, 'bad secret'],
          [{ grant_type: 'authorization_code' }, 40020, 'bad grant_type'],
        ];
        for (const [overrides, errNo, text] of cases) {
          const answer = await token(path, overrides);
          expect(answer).to.have.all.keys('err_no', field, 'log_id');
          expect(answer).to.include({ err_no: errNo, [field]: text });
        }
        expect(await postJson(`${BASE}/${path}`, {}, 'not json')).to.include({ err_no: 40015 });
        expect(mock.callsTo(`${BASE}/${path}`).map((call) => call.errcode)).to.deep.equal([40015, 40017, 40020, 40015]);
        expect(mock.currentAccessToken()).to.equal(undefined);
        expect(mock.calls[1]!.body).to.include('"secret":"[redacted]"');
      });
    }
  });

  describe('check_session_key', () => {
    let value: string;
    beforeEach(async () => {
      value = await accessToken();
      mock.issueCode('oDy9');
    });

    it('answers err_no 0 for hmac_sha256(session_key, ""), and 28001039 once rotateSessionKey made the key stale', async () => {
      const old = mock.sessionKeyOf('oDy9')!;
      const answer = await checkSessionKey(value, 'oDy9', hmacHex(old, ''));
      expect(answer).to.have.all.keys('err_no', 'err_msg', 'log_id');
      expect(answer).to.include({ err_no: 0, err_msg: 'success' });
      const fresh = mock.rotateSessionKey('oDy9');
      const stale = await checkSessionKey(value, 'oDy9', hmacHex(old, ''));
      expect(stale).to.include({ err_no: 28001039, err_msg: 'signature is invalid' });
      expect(stale.log_id).to.match(LOG_ID);
      expect(await checkSessionKey(value, 'oDy9', hmacHex(fresh, ''))).to.include({ err_no: 0 });
      expect(mock.callsTo(`${BASE}/check_session_key`).map((call) => call.errcode)).to.deep.equal([0, 28001039, 0]);
    });

    it('signs the empty message, not the query', async () => {
      const key = mock.sessionKeyOf('oDy9')!;
      expect(await checkSessionKey(value, 'oDy9', hmacHex(key, `openid=oDy9`))).to.include({ err_no: 28001039 });
      expect(await checkSessionKey(value, 'oDy9', hmacHex(key, ''))).to.include({ err_no: 0 });
    });

    it('answers 28001003 for a missing, unknown, expired or revoked access_token', async () => {
      const signature = hmacHex(mock.sessionKeyOf('oDy9')!, '');
      expect(await getJson(`${BASE}/check_session_key`, { openid: 'oDy9', signature, sig_method: 'hmac_sha256' })).to.include({ err_no: 28001003 });
      expect(await checkSessionKey('not-a-token', 'oDy9', signature)).to.include({ err_no: 28001003 });
      mock.expireAccessTokens();
      expect(await checkSessionKey(value, 'oDy9', signature)).to.include({ err_no: 28001003, err_msg: 'access_token is invalid' });
      const next = ((await token('stable_token', { force_refresh: true })).data as { access_token: string }).access_token;
      expect(await checkSessionKey(next, 'oDy9', signature)).to.include({ err_no: 0 });
      mock.revokeAccessTokens();
      expect(await checkSessionKey(next, 'oDy9', signature)).to.include({ err_no: 28001003 });
    });

    it('answers 28001004 for an unknown openid or a guest, 28001038 for another sig_method', async () => {
      const signature = hmacHex(mock.sessionKeyOf('oDy9')!, '');
      expect(await checkSessionKey(value, 'oNobody', signature)).to.include({ err_no: 28001004, err_msg: 'openid is invalid' });
      await code2Session({ anonymous_code: mock.issueAnonymousCode('aGuest3') });
      expect(await checkSessionKey(value, 'aGuest3', hmacHex(mock.sessionKeyOf('aGuest3')!, ''))).to.include({ err_no: 28001004 });
      expect(await checkSessionKey(value, 'oDy9', signature, 'md5')).to.include({ err_no: 28001038 });
    });
  });

  describe('user storage', () => {
    let value: string;
    beforeEach(async () => {
      value = await accessToken();
      mock.issueCode('oDy10');
    });

    it('set_user_storage stores with the right signature and answers {error: 0}; a stale key answers 28001039 flat', async () => {
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ score: '100', gold: '7' }))).to.deep.equal({ error: 0 });
      expect(mock.userStorage('oDy10')).to.deep.equal({ score: '100', gold: '7' });
      const old = mock.sessionKeyOf('oDy10')!;
      mock.rotateSessionKey('oDy10');
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ score: '999' }), old)).to.deep.equal(flatErr(28001039, 'signature is invalid'));
      expect(mock.userStorage('oDy10').score).to.equal('100');
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ score: '101' }))).to.deep.equal({ error: 0 });
      expect(mock.userStorage('oDy10').score).to.equal('101');
    });

    it("checks Douyin's official signature vector over the exact body bytes", async () => {
      expect(hmacHex(VECTOR.sessionKey, VECTOR.body)).to.equal(VECTOR.signature);
      mock.rotateSessionKey('oDy10', VECTOR.sessionKey);
      expect(mock.sessionKeyOf('oDy10')).to.equal(VECTOR.sessionKey);
      const query = { access_token: value, openid: 'oDy10', sig_method: 'hmac_sha256' };
      // The vector's signature passes; its body is no kv_list, so the body is what is refused.
      expect(await postJson(`${BASE}/set_user_storage`, { ...query, signature: VECTOR.signature }, VECTOR.body)).to.deep.equal(flatErr(40001, 'bad params'));
      const flipped = VECTOR.signature.slice(0, -1) + (VECTOR.signature.endsWith('e') ? 'f' : 'e');
      expect(await postJson(`${BASE}/set_user_storage`, { ...query, signature: flipped }, VECTOR.body)).to.deep.equal(flatErr(28001039, 'signature is invalid'));
      expect(await postJson(`${BASE}/set_user_storage`, { ...query, signature: VECTOR.signature }, '{"foo": "bar"}')).to.deep.equal(flatErr(28001039, 'signature is invalid'));
    });

    it('signs the exact body bytes, not a re-serialisation', async () => {
      const sent = '{ "kv_list": [ {"key":"score","value":"5"} ] }';
      const key = mock.sessionKeyOf('oDy10')!;
      const query = { access_token: value, openid: 'oDy10', sig_method: 'hmac_sha256' };
      expect(await postJson(`${BASE}/set_user_storage`, { ...query, signature: hmacHex(key, JSON.stringify(JSON.parse(sent))) }, sent)).to.include({ errcode: 28001039 });
      expect(await postJson(`${BASE}/set_user_storage`, { ...query, signature: hmacHex(key, sent) }, sent)).to.deep.equal({ error: 0 });
      expect(mock.userStorage('oDy10')).to.deep.equal({ score: '5' });
    });

    it('remove_user_storage removes keys, signed the same way', async () => {
      await signedPost('set_user_storage', value, 'oDy10', kv({ score: '1', gold: '2', keep: '3' }));
      expect(await signedPost('remove_user_storage', value, 'oDy10', '{"key":["gold","score"]}', 'wrongkeywrongkeywrong==')).to.deep.equal(flatErr(28001039, 'signature is invalid'));
      expect(mock.userStorage('oDy10')).to.deep.equal({ score: '1', gold: '2', keep: '3' });
      expect(await signedPost('remove_user_storage', value, 'oDy10', '{"key":["gold","score"]}')).to.deep.equal({ error: 0 });
      expect(mock.userStorage('oDy10')).to.deep.equal({ keep: '3' });
      expect(await signedPost('remove_user_storage', value, 'oDy10', '{"key":"keep"}')).to.deep.equal(flatErr(40001, 'bad params'));
    });

    it('enforces the limits: 40009 key over 128 bytes, 40010 key + value over 1024 bytes, 60001 over 128 pairs', async () => {
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ ['k'.repeat(129)]: '1' }))).to.deep.equal(flatErr(40009, 'key too long'));
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ k: 'v'.repeat(1024) }))).to.deep.equal(flatErr(40010, 'kv too long'));
      expect(await signedPost('set_user_storage', value, 'oDy10', kv({ ['k'.repeat(128)]: 'v'.repeat(896) }))).to.deep.equal({ error: 0 });
      const many = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`key${i}`, 'x']));
      expect(await signedPost('set_user_storage', value, 'oDy10', kv(many))).to.deep.equal(flatErr(60001, 'too many kv'));
      expect(Object.keys(mock.userStorage('oDy10'))).to.deep.equal(['k'.repeat(128)]);
      expect(mock.callsTo(`${BASE}/set_user_storage`).map((call) => call.errcode)).to.deep.equal([40009, 40010, 0, 60001]);
    });

    it("answers 40002 'nil access_token' without a token, 28001003 for a bad one, 28001004 for an unknown openid, 28001038 for another sig_method", async () => {
      const body = kv({ score: '1' });
      const signature = hmacHex(mock.sessionKeyOf('oDy10')!, body);
      const post = (query: Record<string, string>): Promise<Json> => postJson(`${BASE}/set_user_storage`, { access_token: value, openid: 'oDy10', signature, sig_method: 'hmac_sha256', ...query }, body);
      expect(await postJson(`${BASE}/set_user_storage`, { openid: 'oDy10', signature, sig_method: 'hmac_sha256' }, body)).to.deep.equal(flatErr(40002, 'nil access_token'));
      expect(await post({ access_token: 'not-a-token' })).to.deep.equal(flatErr(28001003, 'access_token is invalid'));
      expect(await post({ openid: 'oNobody' })).to.deep.equal(flatErr(28001004, 'openid is invalid'));
      expect(await post({ sig_method: 'md5' })).to.deep.equal(flatErr(28001038, 'sig_method is invalid'));
      expect(mock.userStorage('oDy10')).to.deep.equal({});
      expect(await post({})).to.deep.equal({ error: 0 });
    });
  });

  describe('faults, paths and secrets', () => {
    it('an errcode fault answers in the dialect of its path, and counts in the call log', async () => {
      const paths: Array<[string, 'GET' | 'POST', Json]> = [
        [`${BASE}/jscode2session`, 'GET', flatErr(-1, 'system error')],
        [`${BASE}/set_user_storage`, 'POST', flatErr(-1, 'system error')],
        [`${BASE}/remove_user_storage`, 'POST', flatErr(-1, 'system error')],
      ];
      for (const [path, method, expected] of paths) {
        mock.fault(path, { errcode: -1 }, { times: 1 });
        const res = await fetch(`${mock.url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
        expect(await res.json()).to.deep.equal(expected);
      }
      const errNo: Array<[string, 'GET' | 'POST', 'err_tips' | 'err_msg']> = [
        [`${BASE}/v2/token`, 'POST', 'err_tips'],
        [`${BASE}/stable_token`, 'POST', 'err_msg'],
        [`${BASE}/check_session_key`, 'GET', 'err_msg'],
      ];
      for (const [path, method, field] of errNo) {
        mock.fault(path, { errcode: -1 }, { times: 1 });
        const answer = (await (await fetch(`${mock.url}${path}`, { method })).json()) as Json;
        expect(answer).to.have.all.keys('err_no', field, 'log_id');
        expect(answer).to.include({ err_no: -1, [field]: 'system error' });
      }
      mock.fault(`${BASE}/stable_token`, { errcode: 40017, errmsg: 'busy busy' }, { times: 1 });
      expect(await token('stable_token')).to.include({ err_no: 40017, err_msg: 'busy busy' });
      expect(await token('stable_token')).to.include({ err_no: 0 });
      expect(mock.calls.map((call) => call.errcode)).to.deep.equal([-1, -1, -1, -1, -1, -1, 40017, 0]);
    });

    it('status, body, delay and hang faults work on the Douyin paths', async () => {
      mock.fault(`${BASE}/check_session_key`, { status: 502, body: 'bad gateway' }, { times: 1 });
      const res = await fetch(`${mock.url}${BASE}/check_session_key`);
      expect([res.status, await res.text()]).to.deep.equal([502, 'bad gateway']);
      mock.fault(`${BASE}/v2/token`, { body: '{"err_no":0,' }, { times: 1 });
      expect(await (await fetch(`${mock.url}${BASE}/v2/token`, { method: 'POST', body: '{}' })).text()).to.equal('{"err_no":0,');
      mock.fault(`${BASE}/jscode2session`, { delay: 120 }, { times: 1 });
      const started = Date.now();
      expect(await code2Session({ code: mock.issueCode('oDy11') })).to.include({ error: 0, openid: 'oDy11' });
      expect(Date.now() - started).to.be.at.least(110);
      mock.fault(`${BASE}/set_user_storage`, { hang: true }, { times: 1 });
      const hung = await fetch(`${mock.url}${BASE}/set_user_storage`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(150) }).then(() => 'answered', (e: Error) => e.name);
      expect(hung).to.equal('TimeoutError');
    });

    it("answers 404 in JSON for WeChat's paths, 405 for a wrong method", async () => {
      for (const path of ['/sns/jscode2session', '/cgi-bin/stable_token', '/cgi-bin/token', '/wxa/checksession', '/wxa/set_user_storage', '/wxa/resetusersessionkey', '/wxa/business/getuserphonenumber', '/wxa/game/pay', '/api/getToken']) {
        const res = await fetch(`${mock.url}${path}`, { method: 'POST', body: '{}' });
        expect(res.status, path).to.equal(404);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(await res.json()).to.deep.equal({ errcode: 404, errmsg: 'not found' });
      }
      const wrong = await fetch(`${mock.url}${BASE}/jscode2session`, { method: 'POST' });
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.get('allow')).to.equal('GET');
      await wrong.body?.cancel();
    });

    it("a WeChat mock does not serve Douyin's paths", async () => {
      const wechat = await startMockWeChat();
      try {
        const res = await fetch(`${wechat.url}${BASE}/jscode2session?appid=${wechat.appId}&code=${wechat.issueCode('oX')}`);
        expect(res.status).to.equal(404);
        await res.body?.cancel();
      } finally {
        await wechat.close();
      }
    });

    it("the secrets witness harvests Douyin's session_keys and access tokens from the mock's answers", async () => {
      const answer = await code2Session({ code: mock.issueCode('oDy12') });
      const guest = await code2Session({ anonymous_code: mock.issueAnonymousCode() });
      const value = await accessToken();
      const v2 = ((await token('v2/token')).data as { access_token: string }).access_token;
      const kinds = (text: string): string[] => [...new Set(findSecrets(text).map((leak) => leak.kind))];
      expect(kinds(`k=${answer.session_key as string}`)).to.deep.equal(['session_key']);
      expect(kinds(`k=${guest.session_key as string}`)).to.deep.equal(['session_key']);
      expect(kinds(`t=${value}`)).to.deep.equal(['access_token']);
      expect(kinds(`t=${v2}`)).to.deep.equal(['access_token']);
    });
  });
});
