// The session_key helpers on the session object (docs/session-key.md), through every adapter from
// routes that call them: sign() (and signPayload against the official vectors), decrypt() of
// encryptedData made with the session key, and verifyRawData().
import { expect } from 'chai';
import { signPayload } from '../src/index.js';
import { adapters, SECRET } from '../harness/apps.js';
import { expectErrorBody } from './support/wire.js';
import { encryptUserData, expectNoSecrets, hmacHex, sealKey, sha1Hex, SIGNATURE_VECTORS, userPayload } from './support/keys.js';
import { sessionIdOf } from './support/stores.js';
import { startKeysApp, type KeysApp } from './support/keys-app.js';

for (const name of adapters) describe(`sign(), decrypt(), verifyRawData() (${name})`, () => {
  let app: KeysApp;
  before(async () => {
    app = await startKeysApp(name, { core: { checkSessionKey: false } });
  });
  after(async () => {
    await app.close();
  });

  it('signPayload matches the official vectors, and not the base64-decoded-key form', () => {
    const v = SIGNATURE_VECTORS;
    expect(signPayload(v.body, v.sessionKey)).to.equal(v.signature);
    expect(signPayload(Buffer.from(v.body), v.sessionKey)).to.equal(v.signature);
    expect(signPayload('', v.sessionKey)).to.equal(v.emptySignature);
    expect(signPayload(v.body, v.sessionKey)).to.not.equal(v.wrongKeyFormSignature);
  });

  it('session.sign(body) is hmac_sha256 under the session key, and the official vector under the vector key', async () => {
    const openid = 'oSign';
    const token = await app.login(openid);
    for (const body of ['{"foo":"bar"}', '', '{"名字":"玩家"}']) {
      const res = await app.http.post('/sign').set('X-WX-Session', token).send({ body });
      expect(res.status).to.equal(200);
      expect(res.body.signature).to.equal(hmacHex(app.mock.sessionKeyOf(openid)!, Buffer.from(body, 'utf8')));
      expectNoSecrets(`${res.text}\n${JSON.stringify(res.headers)}`, [app.mock.sessionKeyOf(openid), app.mock.appSecret, app.mock.currentAccessToken(), SECRET], 'the answer');
    }
    // Give this session the vector's key in the store (sealed, as the core keeps it): sign()
    // must reproduce WeChat's example.
    const id = sessionIdOf(token);
    app.store.records.set(id, { ...app.store.records.get(id)!, sessionKey: sealKey(SIGNATURE_VECTORS.sessionKey, id, app.mock.appId) });
    const vector = await app.http.post('/sign').set('X-WX-Session', token).send({ body: SIGNATURE_VECTORS.body });
    expect(vector.body.signature).to.equal(SIGNATURE_VECTORS.signature);
    const empty = await app.http.post('/sign').set('X-WX-Session', token).send({ body: '' });
    expect(empty.body.signature).to.equal(SIGNATURE_VECTORS.emptySignature);
  });

  it('session.decrypt() opens encryptedData made with the session key; a bad iv is WX_BAD_REQUEST', async () => {
    const openid = 'oDecrypt';
    const token = await app.login(openid);
    const payload = userPayload(app.mock.appId, { openId: openid, stepInfoList: [{ timestamp: 1, step: 100 }] });
    const sealed = encryptUserData(app.mock.sessionKeyOf(openid)!, payload);
    const res = await app.http.post('/decrypt').set('X-WX-Session', token).send(sealed);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.data).to.deep.equal(payload);
    const bad = await app.http.post('/decrypt').set('X-WX-Session', token).send({ ...sealed, iv: Buffer.alloc(12).toString('base64') });
    expect(bad.status).to.equal(400);
    expectErrorBody(bad.body, 'WX_BAD_REQUEST');
    const otherApp = encryptUserData(app.mock.sessionKeyOf(openid)!, userPayload('wxsomeotherapp000'));
    const foreign = await app.http.post('/decrypt').set('X-WX-Session', token).send(otherApp);
    expect(foreign.status).to.equal(400);
    expectErrorBody(foreign.body, 'WX_BAD_REQUEST');
  });

  it('session.verifyRawData() accepts sha1(rawData + session_key) only', async () => {
    const openid = 'oRaw';
    const token = await app.login(openid);
    const rawData = JSON.stringify({ nickName: 'Band', gender: 1 });
    const signature = sha1Hex(rawData + app.mock.sessionKeyOf(openid)!);
    const ok = await app.http.post('/raw').set('X-WX-Session', token).send({ rawData, signature });
    expect(ok.body).to.deep.equal({ valid: true });
    const tampered = await app.http.post('/raw').set('X-WX-Session', token).send({ rawData: `${rawData} `, signature });
    expect(tampered.body).to.deep.equal({ valid: false });
    const wrongKey = await app.http.post('/raw').set('X-WX-Session', token).send({ rawData, signature: sha1Hex(`${rawData}not-the-key`) });
    expect(wrongKey.body).to.deep.equal({ valid: false });
  });
});
