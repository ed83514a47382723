// Session helpers (docs/session-key.md, "The signed APIs"; issue part 3), through every adapter
// over real HTTP, from routes that call them: the signed mini-game APIs (setUserStorage,
// removeUserStorage, setUserInteractiveData) POST the exact bytes they sign; WeChat's documented
// limits answer WX_BAD_REQUEST before any call; an 87009 marks the key stale so the next request
// takes the keyExpired path; checkKey(). sign(), decrypt(), verifyRawData():
// session-key-helpers.test.ts.
import { expect } from 'chai';
import type { Response } from 'supertest';
import type { MockCall } from '../src/testing/index.js';
import { adapters, SECRET } from '../harness/apps.js';
import { expectNoSecrets, expectStoredKey, hmacHex } from './support/keys.js';
import { sessionIdOf } from './support/stores.js';
import { startKeysApp, type KeysApp } from './support/keys-app.js';

const SET = '/wxa/set_user_storage';
const REMOVE = '/wxa/remove_user_storage';
const INTERACTIVE = '/wxa/setuserinteractivedata';
const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';

/** The recorded call was signed over its exact body with `sessionKey`, as the mock checked. */
function expectSignedWith(call: MockCall | undefined, sessionKey: string, openid: string, body: string): void {
  expect(call, 'the call reached WeChat').to.not.equal(undefined);
  expect(call!.method).to.equal('POST');
  expect(call!.body, 'the exact bytes').to.equal(body);
  expect(call!.query.openid).to.equal(openid);
  expect(call!.query.sig_method).to.equal('hmac_sha256');
  expect(call!.query.access_token).to.equal('[redacted]');
  expect(call!.query.signature).to.equal(hmacHex(sessionKey, Buffer.from(body, 'utf8')));
  expect(call!.errcode, 'the mock accepted the signature').to.equal(0);
}

function expectError(res: Response, status: number, code: string, errcode?: number): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body.code).to.equal(code);
  if (errcode !== undefined) expect(res.body.errcode).to.equal(errcode);
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const pairs = (count: number, prefix = 'k') => Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: String(i) }));

for (const name of adapters) describe(`signed APIs and session helpers (${name})`, () => {
  let app: KeysApp;
  before(async () => {
    app = await startKeysApp(name, { core: { checkSessionKey: false } });
  });
  after(async () => {
    await app.close();
  });

  /** Everything the client saw holds no secret of `openid`. */
  function expectClean(res: Response, openid: string): void {
    expectNoSecrets(`${res.text}\n${JSON.stringify(res.headers)}`, [app.mock.sessionKeyOf(openid), app.mock.appSecret, app.mock.currentAccessToken(), SECRET], 'the answer');
  }

  describe('setUserStorage / removeUserStorage / setUserInteractiveData', () => {
    it('setUserStorage stores the pairs, signed over the exact body bytes sent', async () => {
      const openid = 'oStore';
      const token = await app.login(openid);
      const kvList = [{ key: 'score', value: '100' }, { key: '名字', value: '玩家一号 ✓' }];
      app.mock.resetCalls();
      const res = await app.http.post('/storage').set('X-WX-Session', token).send({ kvList });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.equal({ ok: true });
      expectClean(res, openid);
      expect(app.mock.userStorage(openid)).to.deep.equal({ score: '100', 名字: '玩家一号 ✓' });
      const calls = app.mock.callsTo(SET);
      expect(calls).to.have.length(1);
      expectSignedWith(calls[0], app.mock.sessionKeyOf(openid)!, openid, JSON.stringify({ kv_list: kvList }));
    });

    it('removeUserStorage removes the keys, signed over {"key":[...]}', async () => {
      const openid = 'oRemove';
      const token = await app.login(openid);
      expect((await app.http.post('/storage').set('X-WX-Session', token).send({ kvList: pairs(3, 'gold') })).status).to.equal(200);
      app.mock.resetCalls();
      const res = await app.http.post('/storage/remove').set('X-WX-Session', token).send({ keys: ['gold0', 'gold2'] });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(app.mock.userStorage(openid)).to.deep.equal({ gold1: '1' });
      expectSignedWith(app.mock.callsTo(REMOVE)[0], app.mock.sessionKeyOf(openid)!, openid, '{"key":["gold0","gold2"]}');
    });

    it('setUserInteractiveData stores integer values under keys "1".."50"', async () => {
      const openid = 'oInteractive';
      const token = await app.login(openid);
      const kvList = [{ key: '1', value: 0 }, { key: '50', value: -7 }, { key: '25', value: 123456 }];
      app.mock.resetCalls();
      const res = await app.http.post('/interactive').set('X-WX-Session', token).send({ kvList });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(app.mock.userInteractiveData(openid)).to.deep.equal({ 1: 0, 50: -7, 25: 123456 });
      expectSignedWith(app.mock.callsTo(INTERACTIVE)[0], app.mock.sessionKeyOf(openid)!, openid, JSON.stringify({ kv_list: kvList }));
    });

    it('another errcode from WeChat (87018, over 128 stored pairs) -> 502 WX_UPSTREAM_ERROR with the errcode', async () => {
      const openid = 'oFull';
      const token = await app.login(openid);
      expect((await app.http.post('/storage').set('X-WX-Session', token).send({ kvList: pairs(128) })).status).to.equal(200);
      const res = await app.http.post('/storage').set('X-WX-Session', token).send({ kvList: [{ key: 'one-more', value: 'x' }] });
      expectError(res, 502, 'WX_UPSTREAM_ERROR', 87018);
      expectClean(res, openid);
    });

    it('a revoked access token is renewed and the signed call retried', async () => {
      const openid = 'oRenew';
      const token = await app.login(openid);
      expect((await app.http.post('/storage').set('X-WX-Session', token).send({ kvList: [{ key: 'a', value: '1' }] })).status).to.equal(200);
      app.mock.revokeAccessTokens();
      app.mock.resetCalls();
      const res = await app.http.post('/storage').set('X-WX-Session', token).send({ kvList: [{ key: 'a', value: '2' }] });
      expect(res.status).to.equal(200);
      expect(app.mock.callsTo(SET).map((c) => c.errcode)).to.deep.equal([40001, 0]);
      expect(app.mock.callsTo('/cgi-bin/stable_token')).to.have.length(1);
      expect(app.mock.userStorage(openid)).to.deep.equal({ a: '2' });
    });
  });

  describe("WeChat's limits, checked locally: WX_BAD_REQUEST and no call to WeChat", () => {
    let token: string;
    before(async () => {
      token = await app.login('oLimits');
    });

    const storageCases: Array<[string, unknown]> = [
      ['129 pairs', pairs(129)],
      ['a 129-byte key', [{ key: 'k'.repeat(129), value: 'v' }]],
      ['a key of 43 three-byte characters (129 bytes, 43 characters)', [{ key: '金'.repeat(43), value: 'v' }]],
      ['key + value of 1025 bytes in multi-byte UTF-8 (343 characters)', [{ key: 'ab', value: '金'.repeat(341) }]],
      ['key + value of 1025 ASCII bytes', [{ key: 'k', value: 'v'.repeat(1024) }]],
      ['an empty list', []],
      ['a non-array (one object)', { key: 'a', value: 'b' }],
      ['a non-array (a string)', 'score=100'],
      ['no list at all', undefined],
      ['an empty key', [{ key: '', value: 'v' }]],
      ['a non-string value', [{ key: 'score', value: 100 }]],
      ['a null item', [null]],
    ];
    for (const [what, kvList] of storageCases) {
      it(`setUserStorage with ${what}`, async () => {
        app.mock.resetCalls();
        const res = await app.http.post('/storage').set('X-WX-Session', token).send({ kvList });
        expectError(res, 400, 'WX_BAD_REQUEST');
        expect(app.mock.calls, 'no call to WeChat (not even for a token)').to.have.length(0);
      });
    }

    const removeCases: Array<[string, unknown]> = [
      ['an empty list', []],
      ['a non-array', 'gold'],
      ['a 129-byte key', ['k'.repeat(129)]],
      ['129 keys', Array.from({ length: 129 }, (_, i) => `k${i}`)],
      ['a non-string key', [42]],
    ];
    for (const [what, keys] of removeCases) {
      it(`removeUserStorage with ${what}`, async () => {
        app.mock.resetCalls();
        const res = await app.http.post('/storage/remove').set('X-WX-Session', token).send({ keys });
        expectError(res, 400, 'WX_BAD_REQUEST');
        expect(app.mock.calls).to.have.length(0);
      });
    }

    const interactiveCases: Array<[string, unknown]> = [
      ['key "51"', [{ key: '51', value: 1 }]],
      ['key "0"', [{ key: '0', value: 1 }]],
      ['key "a"', [{ key: 'a', value: 1 }]],
      ['an empty key', [{ key: '', value: 1 }]],
      ['a non-integer value 1.5', [{ key: '1', value: 1.5 }]],
      ['a string value "5"', [{ key: '1', value: '5' }]],
      ['a null value', [{ key: '1', value: null }]],
      ['an empty list', []],
      ['a non-array', { key: '1', value: 1 }],
      ['129 pairs', Array.from({ length: 129 }, () => ({ key: '1', value: 1 }))],
    ];
    for (const [what, kvList] of interactiveCases) {
      it(`setUserInteractiveData with ${what}`, async () => {
        app.mock.resetCalls();
        const res = await app.http.post('/interactive').set('X-WX-Session', token).send({ kvList });
        expectError(res, 400, 'WX_BAD_REQUEST');
        expect(app.mock.calls).to.have.length(0);
      });
    }

    it('values exactly at the limits pass: 128 pairs, a 128-byte key, a 1024-byte pair, keys "1" and "50"', async () => {
      const openid = 'oAtLimits';
      const own = await app.login(openid);
      const key128 = `${'金'.repeat(42)}ab`;
      const pair1024 = { key: 'k', value: '金'.repeat(341) };
      expect(bytes(key128)).to.equal(128);
      expect(bytes(pair1024.key) + bytes(pair1024.value)).to.equal(1024);
      const sent = [
        { kvList: [{ key: key128, value: 'v' }] },
        { kvList: [pair1024] },
        { kvList: pairs(126, 'p') },
      ];
      for (const body of sent) {
        const res = await app.http.post('/storage').set('X-WX-Session', own).send(body);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      }
      const stored = app.mock.userStorage(openid);
      expect(Object.keys(stored)).to.have.length(128);
      expect(stored[key128]).to.equal('v');
      expect(stored.k).to.equal(pair1024.value);

      const other = await app.login('oAtLimits128');
      const full = await app.http.post('/storage').set('X-WX-Session', other).send({ kvList: pairs(128) });
      expect(full.status, '128 pairs in one call').to.equal(200);
      const removeAll = await app.http.post('/storage/remove').set('X-WX-Session', other).send({ keys: pairs(128).map((p) => p.key) });
      expect(removeAll.status, '128 keys in one call').to.equal(200);
      expect(app.mock.userStorage('oAtLimits128')).to.deep.equal({});

      const interactive = await app.http.post('/interactive').set('X-WX-Session', own).send({ kvList: [{ key: '1', value: Number.MAX_SAFE_INTEGER }, { key: '50', value: -1 }] });
      expect(interactive.status).to.equal(200);
      expect(app.mock.userInteractiveData(openid)).to.deep.equal({ 1: Number.MAX_SAFE_INTEGER, 50: -1 });
    });
  });

  describe('87009 from a signed API marks the key stale', () => {
    const apis: Array<[string, string, Record<string, unknown>, string]> = [
      ['setUserStorage', '/storage', { kvList: [{ key: 'a', value: 'b' }] }, SET],
      ['removeUserStorage', '/storage/remove', { keys: ['a'] }, REMOVE],
      ['setUserInteractiveData', '/interactive', { kvList: [{ key: '1', value: 1 }] }, INTERACTIVE],
    ];
    for (const [api, route, body, path] of apis) {
      it(`${api} after the key rotated: WX_SESSION_KEY_EXPIRED; the next request (checkSessionKey: false) 401 until refreshed with X-WX-Code`, async () => {
        const openid = `oStale_${api}`;
        const token = await app.login(openid);
        const oldKey = app.mock.sessionKeyOf(openid)!;
        const newKey = app.mock.rotateSessionKey(openid);
        app.mock.resetCalls();
        const res = await app.http.post(route).set('X-WX-Session', token).send(body);
        expectError(res, 401, 'WX_SESSION_KEY_EXPIRED');
        expectClean(res, openid);
        const [call] = app.mock.callsTo(path);
        expect(call!.errcode).to.equal(87009);
        expect(call!.query.signature, 'signed with the key the session had').to.equal(hmacHex(oldKey, call!.body!));
        expect(app.store.recordOf(token)!.keyStale).to.equal(true);

        const next = await app.http.get('/me').set('X-WX-Session', token);
        expectError(next, 401, 'WX_SESSION_KEY_EXPIRED');
        expect(next.headers['www-authenticate']).to.equal(INVALID_TOKEN);
        expect(app.mock.callsTo('/wxa/checksession'), 'checkSessionKey is off').to.have.length(0);
        expectError(await app.http.post(route).set('X-WX-Session', token).send(body), 401, 'WX_SESSION_KEY_EXPIRED');
        expect(app.mock.callsTo(path), 'a stale session does not reach the API').to.have.length(1);

        const repaired = await app.http.post(route).set('X-WX-Session', token).set('X-WX-Code', app.mock.issueCode(openid)).send(body);
        expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
        expect(repaired.headers).to.not.have.property('x-wx-session-token');
        expectStoredKey(app.store.recordOf(token), sessionIdOf(token), app.mock.appId, newKey, 'the new session_key swapped in');
        const calls = app.mock.callsTo(path);
        expect(calls).to.have.length(2);
        expectSignedWith(calls[1], newKey, openid, calls[1]!.body!);
        expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      });
    }
  });

  describe("87009 from a signed API under keyExpired: 'reject'", () => {
    it('the next request destroys the session: 401 WX_SESSION_KEY_EXPIRED, then WX_SESSION_EXPIRED', async () => {
      const strict = await startKeysApp(name, { core: { checkSessionKey: false, keyExpired: 'reject' }, mock: app.mock });
      try {
        const openid = 'oStaleReject';
        const token = await strict.login(openid);
        app.mock.rotateSessionKey(openid);
        expectError(await strict.http.post('/storage').set('X-WX-Session', token).send({ kvList: [{ key: 'a', value: 'b' }] }), 401, 'WX_SESSION_KEY_EXPIRED');
        expect(strict.store.recordOf(token)!.keyStale).to.equal(true);
        const next = await strict.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', app.mock.issueCode(openid));
        expectError(next, 401, 'WX_SESSION_KEY_EXPIRED');
        expect(strict.store.recordOf(token), 'destroyed').to.equal(undefined);
        expectError(await strict.http.get('/me').set('X-WX-Session', token), 401, 'WX_SESSION_EXPIRED');
      } finally {
        await strict.close();
      }
    });
  });

  describe('checkKey()', () => {
    it('true while the key is current, false after rotation (then the session is stale), true again after a refresh', async () => {
      const openid = 'oCheckKey';
      const token = await app.login(openid);
      app.mock.resetCalls();
      const first = await app.http.get('/check').set('X-WX-Session', token);
      expect(first.status).to.equal(200);
      expect(first.body).to.deep.equal({ valid: true });
      const [call] = app.mock.callsTo('/wxa/checksession');
      expect(call!.query.signature).to.equal(hmacHex(app.mock.sessionKeyOf(openid)!, ''));

      app.mock.rotateSessionKey(openid);
      const second = await app.http.get('/check').set('X-WX-Session', token);
      expect(second.status).to.equal(200);
      expect(second.body).to.deep.equal({ valid: false });
      expectClean(second, openid);
      expectError(await app.http.get('/me').set('X-WX-Session', token), 401, 'WX_SESSION_KEY_EXPIRED');

      const repaired = await app.http.get('/check').set('X-WX-Session', token).set('X-WX-Code', app.mock.issueCode(openid));
      expect(repaired.status).to.equal(200);
      expect(repaired.body).to.deep.equal({ valid: true });
    });

    it('rejects on an outage (checksession HTTP 500 -> 502 WX_UPSTREAM_ERROR) and leaves the session usable', async () => {
      const openid = 'oCheckOutage';
      const token = await app.login(openid);
      app.mock.fault('/wxa/checksession', { status: 500 }, { times: 1 });
      expectError(await app.http.get('/check').set('X-WX-Session', token), 502, 'WX_UPSTREAM_ERROR');
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      expect(app.store.recordOf(token)).to.not.have.property('keyStale');
    });
  });
});
