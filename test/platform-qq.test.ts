// A QQ app (docs/platforms.md) against the mock started with platform 'qq':
// code2Session in WeChat's errcode table, the access token of `GET /api/getToken` (its 40001 a
// wrong AppSecret, elsewhere a refused token), no server-side key check (checks off), signed user
// storage under /api/openDataContext/ with a stale key repaired by X-WX-Code, and what QQ lacks.
import { expect } from 'chai';
import { MemoryStore } from '../src/index.js';
import type { MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { captureLogger, hmacHex } from './support/keys.js';
import { platformCore, postLogin, rejection, startPlatformMock, startServer } from './support/platforms.js';
import { RecordingStore } from './support/stores.js';

const SET_STORAGE = '/api/openDataContext/set_user_storage';
const REMOVE_STORAGE = '/api/openDataContext/remove_user_storage';
const GET_TOKEN = '/api/getToken';

describe('platform: QQ', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startPlatformMock('qq')));

  describe('code2Session', () => {
    it('logs in at /sns/jscode2session: openid, unionid, a record of platform qq', async () => {
      const store = new RecordingStore();
      const { session, token } = await platformCore(mock, { store }).login(mock.issueCode('oQq', { unionid: 'uQq' }));
      expect([session.openid, session.unionid, session.platform, session.appId]).to.deep.equal(['oQq', 'uQq', 'qq', mock.appId]);
      expect(store.recordOf(token)).to.include({ platform: 'qq', openid: 'oQq' });
      expect(mock.callsTo('/sns/jscode2session')[0]!.query).to.include({ grant_type: 'authorization_code', appid: mock.appId });
    });

    it("answers in WeChat's table: 40029 WX_CODE_INVALID, 45011 WX_RATE_LIMITED, 40125 WX_CONFIG_ERROR; -1 retried", async () => {
      const core = platformCore(mock);
      const invalid = await rejection(core.login('not-a-code'));
      expect(invalid).to.include({ code: 'WX_CODE_INVALID', status: 401, errcode: 40029 });
      expect(invalid.message).to.match(/QQ/).and.not.match(/WeChat/);
      expect(await rejection(core.login(mock.issueCode('oLimited', { errcode: 45011 })))).to.include({ code: 'WX_RATE_LIMITED', status: 429, errcode: 45011 });
      const wrongSecret = await rejection(platformCore(mock, { appSecret: 'not-the-qq-secret' }).login(mock.issueCode('oCfg')));
      expect(wrongSecret).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40125 });
      expect((await core.login(mock.issueCode('oBusy', { errcode: -1, times: 2 }))).session.openid).to.equal('oBusy');
    });

    it('over HTTP a rate limit answers 429 with Retry-After; an unreadable answer 502', async () => {
      const server = await startServer(platformCore(mock));
      try {
        const limited = await fetch(`${server.url}/wx/login`, { method: 'POST', headers: { 'X-WX-Code': mock.issueCode('oHttp', { errcode: 45011 }) } });
        expect([limited.status, limited.headers.get('retry-after')]).to.deep.equal([429, '60']);
        mock.fault('/sns/jscode2session', { body: '{"openid":"o' }, { times: 1 });
        const garbled = await postLogin(server.url, { code: mock.issueCode('oHttp') });
        expect([garbled.status, garbled.body.code]).to.deep.equal([502, 'WX_UPSTREAM_ERROR']);
      } finally {
        await server.close();
      }
    });

    it('a guest login (anonymousCode only) is WX_BAD_REQUEST, without a call', async () => {
      const error = await rejection(platformCore(mock).login(undefined, { anonymousCode: 'some-anonymous-code' }));
      expect(error.code).to.equal('WX_BAD_REQUEST');
      expect(error.message).to.match(/not available on QQ/);
      expect(mock.calls).to.deep.equal([]);
    });
  });

  describe('access token (getToken)', () => {
    it('fetches with GET /api/getToken once, and renews a token QQ refuses (40001) before retrying', async () => {
      const { session } = await platformCore(mock).login(mock.issueCode('oTok'));
      await session.setUserStorage([{ key: 'a', value: '1' }]);
      await session.setUserStorage([{ key: 'b', value: '2' }]);
      expect(mock.callsTo(GET_TOKEN).map((call) => [call.method, call.query.grant_type])).to.deep.equal([['GET', 'client_credential']]);
      mock.revokeAccessTokens();
      await session.setUserStorage([{ key: 'c', value: '3' }]);
      expect(mock.callsTo(SET_STORAGE).map((call) => call.errcode)).to.deep.equal([0, 0, 40001, 0]);
      expect(mock.callsTo(GET_TOKEN)).to.have.length(2);
      expect(mock.userStorage('oTok')).to.deep.equal({ a: '1', b: '2', c: '3' });
    });

    it("getToken's 40001 is a wrong AppSecret: WX_CONFIG_ERROR saying so, logged as the app's setup", async () => {
      const error = await rejection(platformCore(mock, { appSecret: 'not-the-qq-secret' }).verify());
      expect(error).to.include({ code: 'WX_CONFIG_ERROR', status: 500, errcode: 40001 });
      expect(error.message).to.match(/^QQ refused the AppSecret \(40001 from getToken\)/);
      await platformCore(mock).verify();
      // A session made where the secret is right, used where it is wrong (a bad deploy): getToken refuses.
      const store = new MemoryStore();
      const { token } = await platformCore(mock, { store }).login(mock.issueCode('oBadDeploy'));
      const logger = captureLogger();
      const wrong = platformCore(mock, { store, logger, appSecret: 'not-the-qq-secret' });
      const session = (await wrong.authenticate(token)).session!;
      expect(await rejection(session.setUserStorage([{ key: 'k', value: 'v' }]))).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40001 });
      expect(logger.lines.map((line) => line[0])).to.deep.equal(['error']);
      expect(logger.lines[0]![1]).to.match(/QQ refused the AppSecret \(40001 from getToken\)/);
    });
  });

  describe('session keys: no server-side check', () => {
    it('never checks a key, even at interval 0; session.checkKey() rejects WX_BAD_REQUEST', async () => {
      const logger = captureLogger();
      const core = platformCore(mock, { checkSessionKey: { interval: 0 }, logger });
      const { token, session } = await core.login(mock.issueCode('oNoCheck'));
      mock.rotateSessionKey('oNoCheck');
      // Nothing is ever due: the synchronous path answers at once (a due check would need the platform).
      expect(core.authenticateSync(token)?.session?.openid).to.equal('oNoCheck');
      for (let i = 0; i < 3; i++) expect((await core.authenticate(token)).session?.openid).to.equal('oNoCheck');
      const error = await rejection(session.checkKey());
      expect(error.code).to.equal('WX_BAD_REQUEST');
      expect(error.message).to.match(/not available on QQ/);
      expect(mock.calls.map((call) => call.path)).to.deep.equal(['/sns/jscode2session']);
      expect(logger.lines).to.deep.equal([]);
    });
  });

  describe('user storage and the rest', () => {
    it('sets and removes user storage under /api/openDataContext/, signed over the exact body', async () => {
      const { session } = await platformCore(mock).login(mock.issueCode('oStore'));
      await session.setUserStorage([{ key: 'score', value: '100' }, { key: 'gold', value: '7' }]);
      await session.removeUserStorage(['gold']);
      expect(mock.userStorage('oStore')).to.deep.equal({ score: '100' });
      const body = JSON.stringify({ kv_list: [{ key: 'score', value: '100' }, { key: 'gold', value: '7' }] });
      expect(mock.callsTo(SET_STORAGE)[0]!.query).to.include({ openid: 'oStore', sig_method: 'hmac_sha256', signature: hmacHex(mock.sessionKeyOf('oStore')!, body) });
      expect(mock.callsTo(REMOVE_STORAGE).map((call) => call.errcode)).to.deep.equal([0]);
    });

    it('a stale key (87009) rejects WX_SESSION_KEY_EXPIRED; the next request repairs it with X-WX-Code', async () => {
      const core = platformCore(mock);
      const { session, token } = await core.login(mock.issueCode('oStale'));
      mock.rotateSessionKey('oStale');
      expect(await rejection(session.setUserStorage([{ key: 'k', value: 'v' }]))).to.include({ code: 'WX_SESSION_KEY_EXPIRED', errcode: 87009 });
      expect(await core.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_KEY_EXPIRED' });
      const repaired = (await core.authenticate(token, { code: mock.issueCode('oStale') })).session!;
      await repaired.setUserStorage([{ key: 'k', value: 'v' }]);
      expect(mock.userStorage('oStale')).to.deep.equal({ k: 'v' });
    });

    it('what QQ lacks rejects WX_BAD_REQUEST, saying so, without a call', async () => {
      const core = platformCore(mock);
      const { session } = await core.login(mock.issueCode('oLacks'));
      mock.resetCalls();
      const calls: Array<Promise<unknown>> = [
        session.setUserInteractiveData([{ key: '1', value: 1 }]),
        session.resetKey(),
        session.riskRank({ scene: 0, clientIp: '1.2.3.4' }),
        session.payments.pay({ amount: 1, billNo: 'b1', zoneId: '1', userIp: '1.2.3.4' }),
        core.phoneNumber('phone-code', { openid: 'oLacks' }),
        core.checkEncryptedData('data'),
      ];
      for (const call of calls) {
        const error = await rejection(call);
        expect(error.code).to.equal('WX_BAD_REQUEST');
        expect(error.message).to.match(/not available on QQ/);
      }
      expect(mock.calls).to.deep.equal([]);
    });
  });
});
