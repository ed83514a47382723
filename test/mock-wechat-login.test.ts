// The mock WeChat server (wx-session/testing) against real fetch calls, start-up and login: where
// it listens and with which credentials, and code2Session as WeChat answers it (one-time codes
// that expire on the mock clock, wrong appid or secret, forced errors, a rotated session_key),
// with no secret in its call log.
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { expectErr, wechatApi } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

describe('mock WeChat server', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { code2Session, accessToken } = wechatApi(() => mock);

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
});
