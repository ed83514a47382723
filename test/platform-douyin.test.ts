// A Douyin app (docs/platforms.md) against the mock started with platform 'douyin':
// code2Session and its errors in both dialects mapped to the one table, truncated or unexpected
// answers (502, never a 500), the guest login by anonymous code, check_session_key (a stale key,
// an outage failing open, a refused access token), signed user storage, and what Douyin lacks.
import { expect } from 'chai';
import { SECRET } from '../harness/apps.js';
import { createWxSession } from '../src/index.js';
import type { MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { captureLogger, hmacHex } from './support/keys.js';
import { platformCore, postLogin, rejection, startPlatformMock, startServer } from './support/platforms.js';
import { RecordingStore } from './support/stores.js';

const BASE = '/mgplatform/api/apps';
const CODE2SESSION = `${BASE}/jscode2session`;
const CHECK = `${BASE}/check_session_key`;
const SET_STORAGE = `${BASE}/set_user_storage`;

describe('platform: Douyin', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startPlatformMock('douyin')));

  describe('code2Session', () => {
    it('logs in with `code` (not js_code): openid, unionid, a record of platform douyin', async () => {
      const store = new RecordingStore();
      const { session, token } = await platformCore(mock, { store }).login(mock.issueCode('oDy', { unionid: 'uDy' }));
      expect([session.openid, session.unionid, session.platform, session.anonymous]).to.deep.equal(['oDy', 'uDy', 'douyin', false]);
      expect(store.recordOf(token)).to.include({ appId: mock.appId, platform: 'douyin', openid: 'oDy' });
      const [call] = mock.callsTo(CODE2SESSION);
      expect(call!.query).to.have.keys('appid', 'secret', 'code');
    });

    it('maps 40018 (bad code) and 40019 (bad anonymous code) to WX_CODE_INVALID with the errcode', async () => {
      const core = platformCore(mock);
      const bad = await rejection(core.login('not-a-code'));
      expect(bad).to.include({ code: 'WX_CODE_INVALID', status: 401, errcode: 40018 });
      expect(bad.message).to.match(/Douyin/);
      const anonymousCode = mock.issueAnonymousCode('aUsed');
      await core.login(undefined, { anonymousCode });
      expect(await rejection(core.login(undefined, { anonymousCode }))).to.include({ code: 'WX_CODE_INVALID', errcode: 40019 });
    });

    it("maps 40017 (secret) and 40015 (appid) to WX_CONFIG_ERROR, logged as the app's setup", async () => {
      const logger = captureLogger();
      const wrongSecret = await rejection(platformCore(mock, { appSecret: 'not-the-secret', logger }).login(mock.issueCode('oCfg')));
      expect(wrongSecret).to.include({ code: 'WX_CONFIG_ERROR', status: 500, errcode: 40017 });
      expect(wrongSecret.message).to.not.contain('not-the-secret');
      expect(logger.lines.map((line) => line[0])).to.deep.equal(['error']);
      expect(logger.lines[0]![1]).to.match(/Douyin refused the AppSecret \(40017\)/);
      const wrongApp = await rejection(platformCore(mock, { appId: 'tt0000000000000000' }).login(mock.issueCode('oCfg')));
      expect(wrongApp).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40015 });
    });

    it('retries -1 (busy) twice; a third -1 is WX_UPSTREAM_ERROR; another number is WX_UPSTREAM_ERROR with it', async () => {
      const core = platformCore(mock);
      mock.fault(CODE2SESSION, { errcode: -1 }, { times: 2 });
      expect((await core.login(mock.issueCode('oBusy'))).session.openid).to.equal('oBusy');
      expect(mock.callsTo(CODE2SESSION).map((call) => call.errcode)).to.deep.equal([-1, -1, 0]);
      mock.fault(CODE2SESSION, { errcode: -1 }, { times: 3 });
      expect(await rejection(core.login(mock.issueCode('oBusy')))).to.include({ code: 'WX_UPSTREAM_ERROR', errcode: -1 });
      expect(await rejection(core.login(mock.issueCode('oOdd', { errcode: 12345 })))).to.include({ code: 'WX_UPSTREAM_ERROR', status: 502, errcode: 12345 });
    });

    it('a truncated or unexpected answer is WX_UPSTREAM_ERROR (502), never a 500', async () => {
      const core = platformCore(mock);
      const bodies = ['{"error":0,"openid":"o', '{"error":0}', '{"error":0,"openid":"o","session_key":7}', '{"hello":1}', '{"error":"0"}', '{"error":1}', '[]', 'null'];
      for (const body of bodies) {
        mock.fault(CODE2SESSION, { body }, { times: 1 });
        const error = await rejection(core.login(mock.issueCode('oOdd')));
        expect(error.code, body).to.equal('WX_UPSTREAM_ERROR');
      }
      const server = await startServer(core);
      try {
        mock.fault(CODE2SESSION, { body: '{"error":0,"openid":' }, { times: 1 });
        const answer = await postLogin(server.url, { code: mock.issueCode('oOdd') });
        expect([answer.status, answer.body.code]).to.deep.equal([502, 'WX_UPSTREAM_ERROR']);
      } finally {
        await server.close();
      }
    });
  });

  describe('a guest (anonymousCode)', () => {
    it('is a session with anonymousOpenid, no openid, anonymous; its JSON says so', async () => {
      const { session } = await platformCore(mock).login(undefined, { anonymousCode: mock.issueAnonymousCode('aGuest') });
      expect([session.anonymous, session.anonymousOpenid, session.openid, session.platform]).to.deep.equal([true, 'aGuest', undefined, 'douyin']);
      const json = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
      expect(json).to.include({ anonymous: true, anonymousOpenid: 'aGuest' });
      expect(json).to.not.have.property('openid');
      expect(mock.callsTo(CODE2SESSION)[0]!.query).to.have.keys('appid', 'secret', 'anonymous_code');
    });

    it('with a code too, the code wins and the anonymous code is not spent', async () => {
      const core = platformCore(mock);
      const anonymousCode = mock.issueAnonymousCode('aKept');
      const { session } = await core.login(mock.issueCode('oWins'), { anonymousCode });
      expect([session.openid, session.anonymous]).to.deep.equal(['oWins', false]);
      expect(mock.callsTo(CODE2SESSION)[0]!.query).to.not.have.property('anonymous_code');
      expect((await core.login('', { anonymousCode })).session.anonymousOpenid).to.equal('aKept');
    });

    it('skips key checks; its signed APIs and checkKey reject WX_BAD_REQUEST without a call', async () => {
      const core = platformCore(mock, { checkSessionKey: { interval: 0 } });
      const { token } = await core.login(undefined, { anonymousCode: mock.issueAnonymousCode('aNoChecks') });
      const session = (await core.authenticate(token)).session!;
      expect(session.anonymousOpenid).to.equal('aNoChecks');
      for (const call of [session.setUserStorage([{ key: 'k', value: 'v' }]), session.removeUserStorage(['k']), session.checkKey(), session.resetKey()]) {
        const error = await rejection(call);
        expect(error.code).to.equal('WX_BAD_REQUEST');
        expect(error.message).to.match(/guest/);
      }
      expect(mock.calls.map((call) => call.path)).to.deep.equal([CODE2SESSION]);
    });

    it('is capped by its anonymous_openid', async () => {
      const core = platformCore(mock, { maxSessionsPerUser: 1 });
      const first = await core.login(undefined, { anonymousCode: mock.issueAnonymousCode('aCapped') });
      const other = await core.login(undefined, { anonymousCode: mock.issueAnonymousCode('aOther') });
      await core.login(undefined, { anonymousCode: mock.issueAnonymousCode('aCapped') });
      expect(await core.authenticate(first.token)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
      expect((await core.authenticate(other.token)).session?.anonymousOpenid).to.equal('aOther');
    });

    it('a login with neither code is WX_CODE_MISSING; an anonymousCode that is not a string WX_BAD_REQUEST', async () => {
      const core = platformCore(mock);
      expect(await rejection(core.login(undefined, { anonymousCode: '' }))).to.include({ code: 'WX_CODE_MISSING' });
      expect(await rejection(core.login(undefined, { anonymousCode: 42 }))).to.include({ code: 'WX_BAD_REQUEST' });
      expect(await rejection(core.login(undefined, { anonymousCode: 'a'.repeat(257) }))).to.include({ code: 'WX_BAD_REQUEST' });
      expect(mock.calls).to.deep.equal([]);
    });
  });

  describe('check_session_key', () => {
    it('signs hmac_sha256(session_key, "") and sends the player; a valid key lets the request through', async () => {
      const core = platformCore(mock, { checkSessionKey: { interval: 0 } });
      const { token } = await core.login(mock.issueCode('oCheck'));
      expect((await core.authenticate(token)).session?.openid).to.equal('oCheck');
      const [call] = mock.callsTo(CHECK);
      expect(call).to.include({ method: 'GET', errcode: 0 });
      expect(call!.query).to.include({ openid: 'oCheck', sig_method: 'hmac_sha256', signature: hmacHex(mock.sessionKeyOf('oCheck')!, '') });
      expect(call!.query).to.have.property('access_token');
    });

    it('28001039 is a stale key: WX_SESSION_KEY_EXPIRED, repaired in place with X-WX-Code; under reject, destroyed', async () => {
      const core = platformCore(mock, { checkSessionKey: { interval: 0 } });
      const { token } = await core.login(mock.issueCode('oStale'));
      mock.rotateSessionKey('oStale');
      expect(await core.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_KEY_EXPIRED' });
      expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([28001039]);
      const repaired = await core.authenticate(token, { code: mock.issueCode('oStale') });
      expect(repaired.session?.sessionKey).to.equal(mock.sessionKeyOf('oStale'));
      expect(repaired.token, 'same token').to.equal(undefined);
      const strict = platformCore(mock, { checkSessionKey: { interval: 0 }, keyExpired: 'reject' });
      const { token: doomed } = await strict.login(mock.issueCode('oDoomed'));
      mock.rotateSessionKey('oDoomed');
      expect(await strict.authenticate(doomed)).to.deep.equal({ session: null, code: 'WX_SESSION_KEY_EXPIRED' });
      expect(await strict.authenticate(doomed)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
    });

    it('any other answer is an outage: the request goes on (fail open) and the operator is warned', async () => {
      for (const fault of [{ errcode: 28001004 }, { status: 500 }, { body: '{"err_no":' }, { body: '{"log_id":"x"}' }]) {
        const logger = captureLogger();
        const core = platformCore(mock, { checkSessionKey: { interval: 0 }, logger });
        const { token } = await core.login(mock.issueCode('oOutage'));
        mock.fault(CHECK, fault, { times: 1 });
        expect((await core.authenticate(token)).session?.openid, JSON.stringify(fault)).to.equal('oOutage');
        expect(logger.lines.map((line) => line[0]), JSON.stringify(fault)).to.deep.equal(['warn']);
        expect(logger.lines[0]![2]).to.include({ endpoint: CHECK });
      }
    });

    it('a refused access token (28001003) is renewed and the check retried once', async () => {
      const core = platformCore(mock);
      const { session } = await core.login(mock.issueCode('oToken'));
      expect(await session.checkKey()).to.equal(true);
      mock.revokeAccessTokens();
      expect(await session.checkKey()).to.equal(true);
      expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([0, 28001003, 0]);
    });
  });

  describe('user storage and the rest', () => {
    it('sets and removes user storage, signed over the exact body', async () => {
      const { session } = await platformCore(mock).login(mock.issueCode('oStore'));
      await session.setUserStorage([{ key: 'score', value: '100' }, { key: 'gold', value: '7' }]);
      expect(mock.userStorage('oStore')).to.deep.equal({ score: '100', gold: '7' });
      await session.removeUserStorage(['gold']);
      expect(mock.userStorage('oStore')).to.deep.equal({ score: '100' });
      const [call] = mock.callsTo(SET_STORAGE);
      const body = JSON.stringify({ kv_list: [{ key: 'score', value: '100' }, { key: 'gold', value: '7' }] });
      expect(call!.query).to.include({ openid: 'oStore', sig_method: 'hmac_sha256', signature: hmacHex(mock.sessionKeyOf('oStore')!, body) });
    });

    it('a stale key (28001039) rejects WX_SESSION_KEY_EXPIRED and marks the session stale', async () => {
      const core = platformCore(mock, { checkSessionKey: false });
      const { session, token } = await core.login(mock.issueCode('oStaleStore'));
      mock.rotateSessionKey('oStaleStore');
      const stale = await rejection(session.setUserStorage([{ key: 'k', value: 'v' }]));
      expect(stale).to.include({ code: 'WX_SESSION_KEY_EXPIRED', errcode: 28001039 });
      expect(stale.message).to.match(/Douyin session key .* tt\.login\(\) code in X-WX-Code/);
      expect(await core.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_KEY_EXPIRED' });
    });

    it("what only WeChat has rejects WX_BAD_REQUEST, saying so, without a call", async () => {
      const core = platformCore(mock);
      const { session } = await core.login(mock.issueCode('oNotHere'));
      mock.resetCalls();
      const calls: Array<Promise<unknown>> = [
        session.setUserInteractiveData([{ key: '1', value: 1 }]),
        session.riskRank({ scene: 0, clientIp: '1.2.3.4' }),
        session.payments.balance({ zoneId: '1', userIp: '1.2.3.4' }),
        session.phoneNumber('phone-code'),
        core.phoneNumber('phone-code'),
        core.checkEncryptedData('data'),
      ];
      for (const call of calls) {
        const error = await rejection(call);
        expect(error.code).to.equal('WX_BAD_REQUEST');
        expect(error.message).to.match(/not available on Douyin/);
      }
      expect(mock.calls).to.deep.equal([]);
    });

    it('verify() resolves with good credentials and names the AppSecret when Douyin refuses it', async () => {
      await platformCore(mock).verify();
      const error = await rejection(platformCore(mock, { appSecret: 'wrong-douyin-secret' }).verify());
      expect(error).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40017 });
      expect(error.message).to.match(/^Douyin refused the AppSecret \(40017\)/);
    });

    it('resetKey posts reset_session_key (token in the body, signed over "") and keeps the new key', async () => {
      const sent: Array<Record<string, unknown>> = [];
      const fetch = async (url: string, init?: RequestInit) => {
        if (!url.includes('/reset_session_key')) return globalThis.fetch(url, init);
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
        return new Response(JSON.stringify({ err_no: 0, err_msg: 'success', openid: 'oReset', session_key: 'bmV3LWtleS0xMjM0NTY=' }));
      };
      const store = new RecordingStore();
      const core = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, platform: 'douyin', apiBase: mock.url, secret: SECRET, fetch, store });
      const { session, token } = await core.login(mock.issueCode('oReset'));
      const old = session.sessionKey;
      await session.resetKey();
      expect(sent).to.have.length(1);
      expect(sent[0]).to.include({ openid: 'oReset', sig_method: 'hmac_sha256', signature: hmacHex(old, '') });
      expect(sent[0]!.access_token).to.be.a('string').that.is.not.empty;
      expect((await core.authenticate(token)).session?.sessionKey).to.equal('bmV3LWtleS0xMjM0NTY=');
    });
  });
});
