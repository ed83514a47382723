// The mock WeChat server (wx-session/testing) against real fetch calls, access tokens and
// checksession: stable_token and the classic token endpoint with WeChat's lifetimes and limits, and
// checksession's signature over the session_key string (official vectors), answering 87009 after
// a rotation and 42001/40001 for expired or revoked tokens.
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { SIGNATURE_VECTORS, hmacHex } from './support/keys.js';
import { expectErr, wechatApi, type Json } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

describe('mock WeChat server', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { getJson, postJson, stableToken, accessToken, checkSession } = wechatApi(() => mock);

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
      const signature = hmacHex(mock.sessionKeyOf('oUser1')!, '');
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
      const signature = hmacHex(mock.sessionKeyOf('oUser1')!, '');
      expect(await checkSession(first, 'oUser1', signature)).to.include({ errcode: 0 });
      mock.advanceTime(5 * 60_000);
      expect(await checkSession(first, 'oUser1', signature)).to.include({ errcode: 40001 });
      expect(await checkSession(second, 'oUser1', signature)).to.include({ errcode: 0 });
      expect(mock.calls.every((call) => call.query.secret === undefined || call.query.secret === '[redacted]')).to.equal(true);
    });
  });

  describe('checksession', () => {
    it('uses the session_key string as the HMAC key (official vectors)', () => {
      expect(hmacHex(SIGNATURE_VECTORS.sessionKey, '')).to.equal('46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128');
      expect(hmacHex(SIGNATURE_VECTORS.sessionKey, '{"foo":"bar"}')).to.equal('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
      const decodedKey = createHmac('sha256', Buffer.from(SIGNATURE_VECTORS.sessionKey, 'base64')).update('{"foo":"bar"}').digest('hex');
      expect(decodedKey).to.equal('bfa6883695fed51bb7e5897ce895842574a58f8a9cc5c4343f47c515ab337b89');
    });

    it('answers 0 for the right signature, 87009 after a rotation', async () => {
      const token = await accessToken();
      mock.issueCode('oUser1');
      const oldKey = mock.sessionKeyOf('oUser1')!;
      expect(await checkSession(token, 'oUser1', hmacHex(oldKey, ''))).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      const newKey = mock.rotateSessionKey('oUser1');
      expect(newKey).to.match(/^[A-Za-z0-9+/]{22}==$/).and.not.equal(oldKey);
      expect(mock.sessionKeyOf('oUser1')).to.equal(newKey);
      expectErr(await checkSession(token, 'oUser1', hmacHex(oldKey, '')), 87009, 'invalid signature');
      expect(await checkSession(token, 'oUser1', hmacHex(newKey, ''))).to.include({ errcode: 0 });
    });

    it('answers 42001 after expireAccessTokens and 40001 after revokeAccessTokens', async () => {
      const token = await accessToken();
      mock.issueCode('oUser1');
      const signature = hmacHex(mock.sessionKeyOf('oUser1')!, '');
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
      expect(await checkSession(token, 'oUser1', hmacHex(mock.sessionKeyOf('oUser1')!, ''))).to.include({ errcode: 42001 });
    });
  });
});
