// The mock WeChat server (wx-session/testing) against real fetch calls: it must be faithful to
// WeChat's wire protocol, script failures on demand, and never leak a secret into its call log.
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { expect } from 'chai';
import { startMockWeChat } from '../src/testing/index.js';
import type { MockWeChat } from '../src/testing/index.js';

type Json = Record<string, unknown>;

const VECTOR_KEY = 'o0q0otL8aEzpcZL/FT9WsQ==';

/** An errcode answer with WeChat's text and, as WeChat appends to errors, a rid. */
function expectErr(answer: Record<string, unknown>, errcode: number, text: string): void {
  expect(answer.errcode).to.equal(errcode);
  expect(answer.errmsg).to.match(new RegExp(`^${text}, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`));
}

function sign(sessionKey: string, body: string): string {
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(body).digest('hex');
}

describe('mock WeChat server', () => {
  let mock: MockWeChat;

  beforeEach(async () => {
    mock = await startMockWeChat();
  });

  afterEach(async () => {
    await mock.close();
  });

  async function getJson(path: string, params: Record<string, string> = {}): Promise<Json> {
    const res = await fetch(`${mock.url}${path}?${new URLSearchParams(params)}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    return (await res.json()) as Json;
  }

  async function postJson(path: string, params: Record<string, string>, body: string): Promise<Json> {
    const res = await fetch(`${mock.url}${path}?${new URLSearchParams(params)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).to.equal(200);
    return (await res.json()) as Json;
  }

  function code2Session(code: string, overrides: Record<string, string> = {}): Promise<Json> {
    return getJson('/sns/jscode2session', {
      appid: mock.appId,
      secret: mock.appSecret,
      js_code: code,
      grant_type: 'authorization_code',
      ...overrides,
    });
  }

  function stableToken(forceRefresh = false): Promise<Json> {
    return postJson(
      '/cgi-bin/stable_token',
      {},
      JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: forceRefresh }),
    );
  }

  async function accessToken(): Promise<string> {
    const answer = await stableToken();
    expect(answer.access_token).to.be.a('string');
    return answer.access_token as string;
  }

  function checkSession(token: string, openid: string, signature: string): Promise<Json> {
    return getJson('/wxa/checksession', { access_token: token, openid, signature, sig_method: 'hmac_sha256' });
  }

  async function signedPost(path: string, token: string, openid: string, body: string, key?: string): Promise<Json> {
    const signature = sign(key ?? mock.sessionKeyOf(openid) ?? '', body);
    return postJson(path, { access_token: token, openid, signature, sig_method: 'hmac_sha256' }, body);
  }

  describe('start-up', () => {
    it('listens on 127.0.0.1 with an 18-char-like appid and a 32-hex secret', () => {
      expect(mock.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(mock.appId).to.equal('wxmock0000000000');
      expect(mock.appSecret).to.match(/^[0-9a-f]{32}$/);
    });

    it('rejects bad options with a TypeError', async () => {
      let error: unknown;
      try {
        await startMockWeChat({ port: -1 });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(TypeError);
    });
  });

  describe('code2Session', () => {
    it('returns openid, session_key and unionid, without errcode', async () => {
      const code = mock.issueCode('oUser1', { unionid: 'uUnion1' });
      const answer = await code2Session(code);
      expect(answer).to.deep.equal({ openid: 'oUser1', session_key: mock.sessionKeyOf('oUser1'), unionid: 'uUnion1' });
      expect(answer.session_key).to.match(/^[A-Za-z0-9+/]{22}==$/);
      expect(mock.callsTo('/sns/jscode2session')[0]).to.include({ method: 'GET', status: 200, errcode: 0 });
    });

    it('makes up a fresh openid when none is given, and keeps the unionid for later codes', async () => {
      const first = await code2Session(mock.issueCode());
      expect(first.openid).to.match(/^oMock[A-Za-z0-9_-]{23}$/);
      expect(first).to.not.have.property('unionid');
      mock.issueCode('oUser2', { unionid: 'uUnion2' });
      const later = await code2Session(mock.issueCode('oUser2'));
      expect(later.unionid).to.equal('uUnion2');
    });

    it('answers 40163 for a code used twice', async () => {
      const code = mock.issueCode('oUser1');
      await code2Session(code);
      expectErr(await code2Session(code), 40163, 'code been used');
    });

    it('answers 40029 for an unknown code', async () => {
      expectErr(await code2Session('not-a-code'), 40029, 'invalid code');
    });

    it('answers 40029 for a code older than codeTtl on the mock clock', async () => {
      const code = mock.issueCode('oUser1');
      mock.advanceTime(5 * 60_000 + 1);
      expect(await code2Session(code)).to.include({ errcode: 40029 });
    });

    it('answers 41008 without a code, and 40002 with another grant_type', async () => {
      expect(await code2Session('')).to.include({ errcode: 41008 });
      expect(await code2Session(mock.issueCode(), { grant_type: 'client_credential' })).to.include({ errcode: 40002 });
    });

    it('answers 40013 for a wrong appid, checked before the secret', async () => {
      const answer = await code2Session(mock.issueCode(), { appid: 'wx0123456789abcdef', secret: 'wrong' });
      expectErr(answer, 40013, 'invalid appid');
    });

    it('answers 40125 for a wrong secret, and never logs a secret', async () => {
      const answer = await code2Session(mock.issueCode(), { secret: 'not-the-secret-at-all' });
      expectErr(answer, 40125, 'invalid appsecret');
      await code2Session(mock.issueCode());
      await accessToken();
      const log = JSON.stringify(mock.calls);
      expect(log).to.not.include(mock.appSecret);
      expect(log).to.not.include('not-the-secret-at-all');
      expect(mock.calls[0]!.query.secret).to.equal('[redacted]');
      expect(mock.calls[2]!.body).to.include('"secret":"[redacted]"');
    });

    it('answers a forced -1 as many times as asked, without spending the code', async () => {
      const code = mock.issueCode('oUser1', { errcode: -1, times: 2 });
      expect(await code2Session(code)).to.include({ errcode: -1 });
      expect(await code2Session(code)).to.include({ errcode: -1 });
      expect(await code2Session(code)).to.include({ openid: 'oUser1' });
      expect(mock.callsTo('/sns/jscode2session').map((call) => call.errcode)).to.deep.equal([-1, -1, 0]);
    });

    it('rotates the session_key when a code says so', async () => {
      const first = await code2Session(mock.issueCode('oUser1'));
      const before = mock.sessionKeyOf('oUser1');
      expect(first.session_key).to.equal(before);
      const answer = await code2Session(mock.issueCode('oUser1', { rotate: true }));
      expect(answer.session_key).to.not.equal(before);
      expect(answer.session_key).to.equal(mock.sessionKeyOf('oUser1'));
    });
  });

  describe('faults', () => {
    it('delay answers normally, late', async () => {
      mock.fault('/sns/jscode2session', { delay: 150 }, { times: 1 });
      const started = Date.now();
      expect(await code2Session(mock.issueCode('oUser1'))).to.include({ openid: 'oUser1' });
      expect(Date.now() - started).to.be.at.least(140);
      const quick = Date.now();
      await code2Session(mock.issueCode('oUser1'));
      expect(Date.now() - quick).to.be.below(140);
    });

    it('hang never answers', async () => {
      mock.fault('/sns/jscode2session', { hang: true });
      let error: unknown;
      try {
        await fetch(`${mock.url}/sns/jscode2session`, { signal: AbortSignal.timeout(200) });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).name).to.equal('TimeoutError');
      expect(mock.callsTo('/sns/jscode2session')[0]).to.include({ status: 0 });
    });

    it('status answers that HTTP status and body', async () => {
      mock.fault('/cgi-bin/stable_token', { status: 500, body: 'oops' });
      const res = await fetch(`${mock.url}/cgi-bin/stable_token`, { method: 'POST', body: '{}' });
      expect(res.status).to.equal(500);
      expect(await res.text()).to.equal('oops');
      expect(mock.calls[0]).to.include({ status: 500 });
    });

    it('body answers 200 with a non-JSON body', async () => {
      mock.fault('/sns/jscode2session', { body: '<html>busy</html>' });
      const res = await fetch(`${mock.url}/sns/jscode2session`);
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal('<html>busy</html>');
    });

    it('reset breaks the connection mid-answer', async () => {
      mock.fault('/sns/jscode2session', { reset: true });
      let error: unknown;
      try {
        const res = await fetch(`${mock.url}/sns/jscode2session`);
        await res.text();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
    });

    it('errcode answers that errcode; times limits a fault, and clearFaults drops it', async () => {
      mock.fault('/sns/jscode2session', { errcode: 45011 }, { times: 1 });
      expect(await code2Session(mock.issueCode())).to.include({ errcode: 45011 });
      expect(await code2Session(mock.issueCode())).to.have.property('openid');
      mock.fault('/sns/jscode2session', { errcode: 40226, errmsg: 'risky' });
      expect(await code2Session(mock.issueCode())).to.deep.equal({ errcode: 40226, errmsg: 'risky' });
      expect(await code2Session(mock.issueCode())).to.include({ errcode: 40226 });
      mock.clearFaults('/sns/jscode2session');
      expect(await code2Session(mock.issueCode())).to.have.property('openid');
    });
  });

  describe('access tokens', () => {
    it('stable_token returns the same token with a decreasing expires_in', async () => {
      const first = await stableToken();
      expect(first.access_token).to.be.a('string').with.lengthOf(64);
      expect(first.expires_in).to.equal(7200);
      expect(first).to.not.have.property('errcode');
      mock.advanceTime(10_000);
      const second = await stableToken();
      expect(second.access_token).to.equal(first.access_token);
      expect(second.expires_in).to.be.at.most(7190);
      expect(mock.currentAccessToken()).to.equal(first.access_token);
    });

    it('force_refresh issues a new token, kills the old one, and is limited to once per 30 s', async () => {
      const old = await accessToken();
      const fresh = await stableToken(true);
      expect(fresh.access_token).to.be.a('string').and.not.equal(old);
      mock.issueCode('oUser1');
      const signature = sign(mock.sessionKeyOf('oUser1')!, '');
      expect(await checkSession(old, 'oUser1', signature)).to.include({ errcode: 40001 });
      expect(await checkSession(fresh.access_token as string, 'oUser1', signature)).to.include({ errcode: 0 });
      expect(await stableToken(true)).to.include({ errcode: 45009 });
      mock.advanceTime(30_000);
      expect(await stableToken(true)).to.have.property('access_token');
    });

    it('stable_token answers 40013, 40125 and 47001', async () => {
      const bad = (body: Json): Promise<Json> => postJson('/cgi-bin/stable_token', {}, JSON.stringify(body));
      const good = { grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret };
      expect(await bad({ ...good, appid: 'wxnope' })).to.include({ errcode: 40013 });
      expect(await bad({ ...good, secret: 'nope' })).to.include({ errcode: 40125 });
      expect(await postJson('/cgi-bin/stable_token', {}, '{"grant_type":')).to.include({ errcode: 47001 });
    });

    it('the classic /cgi-bin/token leaves the previous token valid for 5 minutes', async () => {
      const params = { grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret };
      const first = (await getJson('/cgi-bin/token', params)).access_token as string;
      const second = (await getJson('/cgi-bin/token', params)).access_token as string;
      expect(second).to.not.equal(first);
      mock.issueCode('oUser1');
      const signature = sign(mock.sessionKeyOf('oUser1')!, '');
      expect(await checkSession(first, 'oUser1', signature)).to.include({ errcode: 0 });
      mock.advanceTime(5 * 60_000);
      expect(await checkSession(first, 'oUser1', signature)).to.include({ errcode: 40001 });
      expect(await checkSession(second, 'oUser1', signature)).to.include({ errcode: 0 });
      expect(mock.calls.every((call) => call.query.secret === undefined || call.query.secret === '[redacted]')).to.equal(true);
    });
  });

  describe('checksession', () => {
    it('uses the session_key string as the HMAC key (official vectors)', () => {
      expect(sign(VECTOR_KEY, '')).to.equal('46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128');
      expect(sign(VECTOR_KEY, '{"foo":"bar"}')).to.equal('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
      const decodedKey = createHmac('sha256', Buffer.from(VECTOR_KEY, 'base64')).update('{"foo":"bar"}').digest('hex');
      expect(decodedKey).to.equal('bfa6883695fed51bb7e5897ce895842574a58f8a9cc5c4343f47c515ab337b89');
    });

    it('answers 0 for the right signature, 87009 after a rotation', async () => {
      const token = await accessToken();
      mock.issueCode('oUser1');
      const oldKey = mock.sessionKeyOf('oUser1')!;
      expect(await checkSession(token, 'oUser1', sign(oldKey, ''))).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      const newKey = mock.rotateSessionKey('oUser1');
      expect(newKey).to.match(/^[A-Za-z0-9+/]{22}==$/).and.not.equal(oldKey);
      expect(mock.sessionKeyOf('oUser1')).to.equal(newKey);
      expectErr(await checkSession(token, 'oUser1', sign(oldKey, '')), 87009, 'invalid signature');
      expect(await checkSession(token, 'oUser1', sign(newKey, ''))).to.include({ errcode: 0 });
    });

    it('answers 42001 after expireAccessTokens and 40001 after revokeAccessTokens', async () => {
      const token = await accessToken();
      mock.issueCode('oUser1');
      const signature = sign(mock.sessionKeyOf('oUser1')!, '');
      mock.expireAccessTokens();
      expect(await checkSession(token, 'oUser1', signature)).to.include({ errcode: 42001 });
      expect(mock.currentAccessToken()).to.equal(undefined);
      const next = await accessToken();
      expect(next).to.not.equal(token);
      expect(await checkSession(next, 'oUser1', signature)).to.include({ errcode: 0 });
      mock.revokeAccessTokens();
      expect(await checkSession(next, 'oUser1', signature)).to.include({ errcode: 40001 });
    });

    it('answers 41001 without a token, 40003 for an unknown openid, 42001 once tokenTtl passed', async () => {
      expect(await getJson('/wxa/checksession', { openid: 'x' })).to.include({ errcode: 41001 });
      const token = await accessToken();
      expect(await checkSession(token, 'oNobody', 'x')).to.include({ errcode: 40003 });
      mock.advanceTime(7200_000);
      mock.issueCode('oUser1');
      expect(await checkSession(token, 'oUser1', sign(mock.sessionKeyOf('oUser1')!, ''))).to.include({ errcode: 42001 });
    });
  });

  describe('signed mini-game APIs', () => {
    let token: string;

    beforeEach(async () => {
      token = await accessToken();
      mock.issueCode('oUser1');
    });

    it('set_user_storage stores with the right signature, refuses a wrong one', async () => {
      const body = '{"kv_list":[{"key":"score","value":"100"},{"key":"gold","value":"7"}]}';
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', body)).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      expect(mock.userStorage('oUser1')).to.deep.equal({ score: '100', gold: '7' });
      const other = '{"kv_list":[{"key":"score","value":"999"}]}';
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', other, 'wrongkeywrongkeywrong==')).to.include({ errcode: 87009 });
      expect(mock.userStorage('oUser1').score).to.equal('100');
    });

    it('rejects a signature made with the base64-decoded key', async () => {
      const body = '{"kv_list":[{"key":"score","value":"1"}]}';
      const key = mock.sessionKeyOf('oUser1')!;
      const wrong = createHmac('sha256', Buffer.from(key, 'base64')).update(body).digest('hex');
      const params = { access_token: token, openid: 'oUser1', signature: wrong, sig_method: 'hmac_sha256' };
      expect(await postJson('/wxa/set_user_storage', params, body)).to.include({ errcode: 87009 });
      expect(mock.userStorage('oUser1')).to.deep.equal({});
    });

    it('signs the exact body bytes', async () => {
      const sent = '{ "kv_list": [ {"key":"score","value":"5"} ] }';
      const params = { access_token: token, openid: 'oUser1', sig_method: 'hmac_sha256' };
      const key = mock.sessionKeyOf('oUser1')!;
      const reformatted = JSON.stringify(JSON.parse(sent));
      expect(await postJson('/wxa/set_user_storage', { ...params, signature: sign(key, reformatted) }, sent)).to.include({ errcode: 87009 });
      expect(await postJson('/wxa/set_user_storage', { ...params, signature: sign(key, sent) }, sent)).to.include({ errcode: 0 });
    });

    it('remove_user_storage removes keys', async () => {
      await signedPost('/wxa/set_user_storage', token, 'oUser1', '{"kv_list":[{"key":"score","value":"1"},{"key":"gold","value":"2"},{"key":"keep","value":"3"}]}');
      expect(await signedPost('/wxa/remove_user_storage', token, 'oUser1', '{"key":["gold","score"]}')).to.include({ errcode: 0 });
      expect(mock.userStorage('oUser1')).to.deep.equal({ keep: '3' });
    });

    it('enforces the storage limits: 87019 key too long, 87016 kv too long, 87018 too many kv', async () => {
      const kv = (key: string, value: string): string => JSON.stringify({ kv_list: [{ key, value }] });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k'.repeat(129), '1'))).to.include({ errcode: 87019 });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k', 'v'.repeat(1024)))).to.include({ errcode: 87016 });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k', 'v'.repeat(1023)))).to.include({ errcode: 0 });
      const many = JSON.stringify({ kv_list: Array.from({ length: 128 }, (_, i) => ({ key: `key${i}`, value: 'x' })) });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', many)).to.include({ errcode: 87018 });
      expect(mock.userStorage('oUser1')).to.deep.equal({ k: 'v'.repeat(1023) });
    });

    it('answers 47001 for a body that is not JSON', async () => {
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', '{"kv_list":')).to.include({ errcode: 47001 });
    });

    it('setuserinteractivedata stores numbers under keys "1".."50"', async () => {
      const body = '{"kv_list":[{"key":"1","value":0},{"key":"50","value":42}]}';
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', body)).to.include({ errcode: 0 });
      expect(mock.userInteractiveData('oUser1')).to.deep.equal({ 1: 0, 50: 42 });
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', '{"kv_list":[{"key":"51","value":1}]}')).to.include({ errcode: 87082 });
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', '{"kv_list":[{"key":"2","value":"1"}]}')).to.include({ errcode: 87082 });
      expect(mock.userInteractiveData('oUser1')).to.deep.equal({ 1: 0, 50: 42 });
    });
  });

  describe('robustness', () => {
    it('answers 404 for an unknown path and 405 for a wrong method, in JSON', async () => {
      const missing = await fetch(`${mock.url}/nope?%zz=%`);
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.include({ errcode: 404 });
      const wrong = await fetch(`${mock.url}/sns/jscode2session`, { method: 'DELETE' });
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.get('allow')).to.equal('GET');
      expect(await wrong.json()).to.include({ errcode: 405 });
    });

    it('answers 413 for a body over 64 KiB', async () => {
      const res = await fetch(`${mock.url}/cgi-bin/stable_token`, { method: 'POST', body: 'x'.repeat(65 * 1024) });
      expect(res.status).to.equal(413);
      expect(await res.json()).to.include({ errcode: 413 });
      expect(await stableToken()).to.have.property('access_token');
    });

    it('answers 400 to garbage that is not HTTP, and keeps serving', async () => {
      const { connect } = await import('node:net');
      const port = Number(new URL(mock.url).port);
      const reply = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('\x00\x01 nonsense\r\n\r\n'));
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      expect(reply).to.match(/^HTTP\/1\.1 400/);
      expect(await code2Session('x')).to.include({ errcode: 40029 });
    });

    it('survives a client that goes away mid-body', async () => {
      const port = Number(new URL(mock.url).port);
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/wxa/set_user_storage', headers: { 'content-length': '1000' } });
        req.on('error', () => resolve());
        req.write('{"kv', () => {
          req.destroy();
          resolve();
        });
      });
      expect(await code2Session('x')).to.include({ errcode: 40029 });
    });

    it('close() resolves with a hanging request open, and is idempotent', async () => {
      const own = await startMockWeChat();
      own.fault('/wxa/checksession', { hang: true });
      const pending = fetch(`${own.url}/wxa/checksession`).then(
        () => 'answered',
        () => 'failed',
      );
      while (own.callsTo('/wxa/checksession').length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([own.close(), own.close()]);
      expect(await pending).to.equal('failed');
    });

    it('close() resolves with a delayed request pending', async () => {
      const own = await startMockWeChat();
      own.fault('/sns/jscode2session', { delay: 10_000 });
      const pending = fetch(`${own.url}/sns/jscode2session`).then(
        () => 'answered',
        () => 'failed',
      );
      while (own.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const started = Date.now();
      await own.close();
      expect(Date.now() - started).to.be.below(1000);
      expect(await pending).to.equal('failed');
    });

    it('validates fault and issueCode arguments', () => {
      expect(() => mock.fault('/x', { delay: -1 })).to.throw(TypeError);
      expect(() => mock.fault('/x', {} as never)).to.throw(TypeError);
      expect(() => mock.fault('/x', { errcode: -1 }, { times: 0 })).to.throw(TypeError);
      expect(() => mock.issueCode('')).to.throw(TypeError);
    });

    it('resetCalls forgets the log', async () => {
      await code2Session('x');
      expect(mock.calls).to.have.lengthOf(1);
      mock.resetCalls();
      expect(mock.calls).to.have.lengthOf(0);
    });
  });
});
