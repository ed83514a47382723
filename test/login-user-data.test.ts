// Login with user data (docs/session-key.md, "Login with user data"; issue part 4), through every
// adapter over real HTTP: a login body with encryptedData + iv is decrypted with the session_key
// the login just obtained; the result is answered as `userInfo` and kept as `session.userInfo`. A
// bad iv, bad base64, bad padding, non-JSON, an appid mismatch or a half-present pair answers 400
// WX_BAD_REQUEST and creates no session.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { adapters, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { breakPadding, codeWithKey, encryptUserData, expectNoSecrets, userPayload } from './support/keys.js';
import { RecordingStore } from './support/stores.js';
import type { WxSessionOptions } from '../src/index.js';

interface App extends TestApp {
  store: RecordingStore;
}

async function start(name: (typeof adapters)[number], bodyParser = false, core: Partial<WxSessionOptions> = {}): Promise<App> {
  const store = new RecordingStore();
  const app = await startApp(name, { bodyParser, core: { store, ...core } });
  return Object.assign(app, { store });
}

for (const name of adapters) describe(`login with user data (${name})`, () => {
  for (const bodyParser of [false, true]) {
    it(`decrypts encryptedData with the new key into userInfo, answered and kept with the session${bodyParser ? ' (behind a body parser)' : ''}`, async () => {
      const app = await start(name, bodyParser);
      try {
        const openid = 'oUserData';
        const { code, sessionKey } = codeWithKey(app.mock, openid);
        const payload = userPayload(app.mock.appId, { openId: openid, avatarUrl: 'https://example.invalid/a.png' });
        const sealed = encryptUserData(sessionKey, payload);
        const res = await app.http.post('/wx/login').send({ code, ...sealed });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body.token).to.be.a('string');
        expect(res.body.openid).to.equal(openid);
        expect(res.body.userInfo).to.deep.equal(payload);
        expectNoSecrets(`${res.text}\n${JSON.stringify(res.headers)}`, [sessionKey, app.mock.appSecret, SECRET], 'the login answer');

        const json = await app.http.get('/me/json').set('X-WX-Session', res.body.token);
        expect(json.status).to.equal(200);
        expect(json.body.userInfo, 'session.userInfo').to.deep.equal(payload);
        expect(json.body).to.not.have.property('sessionKey');
        expect(app.store.recordOf(res.body.token)!.userInfo, 'stored with the session').to.deep.equal(payload);
      } finally {
        await app.close();
      }
    });
  }

  describe('bad user data: 400 WX_BAD_REQUEST, no session', () => {
    let app: App;
    before(async () => {
      app = await start(name);
    });
    after(async () => {
      await app.close();
    });

    /** Logs in `openid` with the body `make` builds from its key; expects the refusal and no session written. */
    async function expectRefused(openid: string, make: (sessionKey: string, appId: string) => Record<string, unknown>): Promise<Response> {
      const { code, sessionKey } = codeWithKey(app.mock, openid);
      const sets = app.store.counts.set;
      const sessions = app.store.records.size;
      const res = await app.http.post('/wx/login').send({ code, ...make(sessionKey, app.mock.appId) });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.code).to.equal('WX_BAD_REQUEST');
      expect(res.body).to.not.have.property('token');
      expect(res.body).to.not.have.property('userInfo');
      expect(res.headers).to.not.have.property('x-wx-session-token');
      expect(app.store.counts.set, 'no session written').to.equal(sets);
      expect(app.store.records.size, 'no session stored').to.equal(sessions);
      expectNoSecrets(`${res.text}\n${JSON.stringify(res.headers)}`, [sessionKey, app.mock.appSecret, SECRET], 'the answer');
      return res;
    }

    it('an iv of the wrong length (12 bytes)', async () => {
      await expectRefused('oBadIvLength', (key, appId) => ({ ...encryptUserData(key, userPayload(appId)), iv: Buffer.alloc(12, 1).toString('base64') }));
    });

    it('an iv that is not base64', async () => {
      await expectRefused('oBadIvBase64', (key, appId) => ({ ...encryptUserData(key, userPayload(appId)), iv: '!!!!not*base64!!!!!!!!==' }));
    });

    it('encryptedData that is not base64', async () => {
      await expectRefused('oBadDataBase64', (key, appId) => ({ ...encryptUserData(key, userPayload(appId)), encryptedData: 'this is not base64 at all!' }));
    });

    it('encryptedData that is not a whole number of blocks', async () => {
      await expectRefused('oBadDataLength', (key, appId) => {
        const sealed = encryptUserData(key, userPayload(appId));
        return { ...sealed, encryptedData: Buffer.from(sealed.encryptedData, 'base64').subarray(0, 40).toString('base64') };
      });
    });

    it('tampered ciphertext (bad padding)', async () => {
      await expectRefused('oBadPadding', (key, appId) => {
        const sealed = encryptUserData(key, userPayload(appId));
        return { ...sealed, encryptedData: breakPadding(sealed.encryptedData) };
      });
    });

    it('data sealed under another session_key', async () => {
      await expectRefused('oOtherKey', (_key, appId) => encryptUserData(Buffer.alloc(16, 9).toString('base64'), userPayload(appId)));
    });

    it('plaintext that is not JSON', async () => {
      await expectRefused('oNotJson', (key) => encryptUserData(key, 'definitely { not json'));
    });

    it('a watermark of another appid', async () => {
      await expectRefused('oOtherAppid', (key) => encryptUserData(key, userPayload('wxsomeotherapp000')));
    });

    it('no watermark at all', async () => {
      await expectRefused('oNoWatermark', (key) => encryptUserData(key, { nickName: 'Band' }));
    });

    it('encryptedData without iv', async () => {
      await expectRefused('oNoIv', (key, appId) => ({ encryptedData: encryptUserData(key, userPayload(appId)).encryptedData }));
    });

    it('iv without encryptedData', async () => {
      await expectRefused('oNoData', (key, appId) => ({ iv: encryptUserData(key, userPayload(appId)).iv }));
    });

    it('encryptedData that is not a string', async () => {
      await expectRefused('oDataNumber', (key, appId) => ({ ...encryptUserData(key, userPayload(appId)), encryptedData: 12345 }));
    });

    it('a refused login leaves the next good one working', async () => {
      const openid = 'oAfterRefusal';
      await expectRefused(openid, (key, appId) => ({ ...encryptUserData(key, userPayload(appId)), iv: 'AAAA' }));
      const { code, sessionKey } = codeWithKey(app.mock, openid);
      const payload = userPayload(app.mock.appId, { openId: openid });
      const res = await app.http.post('/wx/login').send({ code, ...encryptUserData(sessionKey, payload) });
      expect(res.status).to.equal(200);
      expect(res.body.userInfo).to.deep.equal(payload);
      expect(app.store.recordOf(res.body.token)).to.not.equal(undefined);
    });
  });

  describe('watermark age', () => {
    it('an old watermark passes by default; with maxDataAge it is WX_BAD_REQUEST and a fresh one passes', async () => {
      const loose = await start(name);
      const strict = await start(name, false, { maxDataAge: 600 });
      try {
        for (const [app, expected] of [[loose, 200], [strict, 400]] as const) {
          const { code, sessionKey } = codeWithKey(app.mock, 'oOld');
          const res = await app.http.post('/wx/login').send({ code, ...encryptUserData(sessionKey, userPayload(app.mock.appId, {}, 1477314187)) });
          expect(res.status, JSON.stringify(res.body)).to.equal(expected);
          if (expected === 400) {
            expect(res.body.code).to.equal('WX_BAD_REQUEST');
            expect(app.store.records.size).to.equal(0);
          }
        }
        const { code, sessionKey } = codeWithKey(strict.mock, 'oFresh');
        const fresh = await strict.http.post('/wx/login').send({ code, ...encryptUserData(sessionKey, userPayload(strict.mock.appId)) });
        expect(fresh.status).to.equal(200);
      } finally {
        await loose.close();
        await strict.close();
      }
    });
  });
});

// With exposeOpenid: false the answer hides the openid everywhere, including inside userInfo,
// while the server-side session keeps WeChat's object whole.
for (const name of adapters) {
  describe(`login with user data and exposeOpenid: false (${name})`, () => {
    let app: TestApp;
    before(async () => {
      app = await startApp(name, { core: { exposeOpenid: false } });
    });
    after(() => app.close());

    it('answers userInfo without openId/unionId; session.userInfo keeps them', async () => {
      const openid = 'oHiddenUserData';
      const { code, sessionKey } = codeWithKey(app.mock, openid);
      const sealed = encryptUserData(sessionKey, userPayload(app.mock.appId, { openId: openid, unionId: 'uHidden' }));
      const res = await app.http.post('/wx/login').send({ code, ...sealed });
      expect(res.status).to.equal(200);
      expect(res.body).to.not.have.property('openid');
      expect(res.body.userInfo).to.include({ nickName: '微信用户 Band' });
      expect(res.body.userInfo).to.not.have.any.keys('openId', 'unionId');
      expect(JSON.stringify(res.body)).to.not.contain(openid);
      const json = await app.http.get('/me/json').set('X-WX-Session', res.body.token);
      expect(json.body.userInfo).to.include({ openId: openid, unionId: 'uHidden' });
    });
  });
}
