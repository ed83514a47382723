// The session_key helpers against the official vectors in test/fixtures/wechat-vectors.json
// (docs/session-key.md, "The `session_key` helpers"): signPayload, decryptData, verifyRawData, and
// the same helpers bound to a session whose key came from (mock) WeChat. A missing vectors file
// fails this file.
import { readFileSync } from 'node:fs';
import { createCipheriv, createHmac } from 'node:crypto';
import { expect } from 'chai';
import { coreOptions } from '../harness/apps.js';
import { encryptForSession, hmacHex, sha1Hex } from './support/keys.js';
import { WxSessionError, createWxSession, decryptData, signPayload, verifyRawData } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';

interface Vectors {
  loginSignature: Array<{ sessionKey: string; body: string; signature: string }>;
  loginSignatureWrongKeyForm: { sessionKey: string; body: string; signatureWithBase64DecodedKey: string };
  decryptData: { appId: string; sessionKey: string; iv: string; encryptedData: string; plaintext: Record<string, unknown> };
  rawData: { sessionKey: string; rawData: string; signature: string };
}

const VECTORS_URL = new URL('./fixtures/wechat-vectors.json', import.meta.url);

/** The WxSessionError `fn` throws; fails if it throws nothing or something else. */
function thrown(fn: () => unknown): WxSessionError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.an.instanceOf(WxSessionError);
    return error as WxSessionError;
  }
  return expect.fail('expected a WxSessionError');
}

/** A copy of `bytes` with the byte at `at` xor-ed with `mask`. */
function flip(bytes: Buffer, at: number, mask: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ mask, at);
  return copy;
}

function expectBadRequest(fn: () => unknown, secret?: string): void {
  const error = thrown(fn);
  expect(error.code).to.equal('WX_BAD_REQUEST');
  expect(error.status).to.equal(400);
  if (secret) expect(`${error.message} ${error.stack}`).to.not.contain(secret);
}

describe('crypto vectors', () => {
  let v: Vectors;
  before(() => {
    // readFileSync throws if the file is missing: the hook, and so this file, fails.
    v = JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as Vectors;
    expect(v.loginSignature, 'loginSignature vectors').to.be.an('array').with.length.at.least(2);
    expect(v.decryptData?.encryptedData).to.be.a('string');
    expect(v.rawData?.signature).to.be.a('string');
  });

  describe('signPayload', () => {
    it('matches every official login-state signature vector (string and Buffer bodies)', () => {
      for (const { sessionKey, body, signature } of v.loginSignature) {
        expect(signPayload(body, sessionKey), JSON.stringify(body)).to.equal(signature);
        expect(signPayload(Buffer.from(body, 'utf8'), sessionKey)).to.equal(signature);
      }
      expect(v.loginSignature.map((x) => x.body)).to.include('').and.include('{"foo":"bar"}');
    });

    it('answers lowercase hex of 64 characters', () => {
      expect(signPayload('anything', v.loginSignature[0]!.sessionKey)).to.match(/^[0-9a-f]{64}$/);
    });

    it('does not key the HMAC with the base64-decoded session_key (the wrong-key-form vector)', () => {
      const { sessionKey, body, signatureWithBase64DecodedKey } = v.loginSignatureWrongKeyForm;
      // The negative vector is indeed what the wrong form gives...
      expect(createHmac('sha256', Buffer.from(sessionKey, 'base64')).update(body).digest('hex')).to.equal(signatureWithBase64DecodedKey);
      // ...and signPayload does not produce it.
      expect(signPayload(body, sessionKey)).to.not.equal(signatureWithBase64DecodedKey);
    });
  });

  describe('decryptData', () => {
    const input = () => ({ appId: v.decryptData.appId, sessionKey: v.decryptData.sessionKey, iv: v.decryptData.iv, encryptedData: v.decryptData.encryptedData });

    it('decrypts the official vector to the official plaintext', () => {
      const plain = decryptData(input());
      expect(plain).to.deep.equal(v.decryptData.plaintext);
      expect(plain.openId).to.equal('oGZUI0egBJY1zhBYw2KhdUfwVJJE');
      expect((plain.watermark as { timestamp: number }).timestamp).to.equal(1477314187);
    });

    it('has no freshness limit by default, and accepts a generous maxAge', () => {
      expect(decryptData({ ...input(), maxAge: 100 * 365 * 24 * 3600 })).to.deep.equal(v.decryptData.plaintext);
    });

    it('refuses a watermark older than maxAge: WX_BAD_REQUEST', () => {
      expectBadRequest(() => decryptData({ ...input(), maxAge: 60 }));
    });

    it('refuses a wrong appId (watermark mismatch): WX_BAD_REQUEST', () => {
      expectBadRequest(() => decryptData({ ...input(), appId: 'wx0000000000000000' }));
    });

    it('refuses bad base64 in encryptedData, iv or sessionKey: WX_BAD_REQUEST', () => {
      expectBadRequest(() => decryptData({ ...input(), encryptedData: '@@@@not base64@@@@' }));
      expectBadRequest(() => decryptData({ ...input(), encryptedData: v.decryptData.encryptedData.slice(0, -1) }));
      expectBadRequest(() => decryptData({ ...input(), encryptedData: '' }));
      expectBadRequest(() => decryptData({ ...input(), iv: 'r7BXXKkLb8qrSNn05n0q!A==' }));
      expectBadRequest(() => decryptData({ ...input(), sessionKey: 'tiihtNczf5v6AKRy*wEUhQ==' }), 'tiihtNczf5v6AKRy*wEUhQ==');
    });

    it('refuses an iv or a key of the wrong length: WX_BAD_REQUEST', () => {
      expectBadRequest(() => decryptData({ ...input(), iv: Buffer.alloc(8).toString('base64') }));
      expectBadRequest(() => decryptData({ ...input(), iv: Buffer.alloc(32).toString('base64') }));
      expectBadRequest(() => decryptData({ ...input(), sessionKey: Buffer.alloc(24, 1).toString('base64') }));
    });

    it('refuses tampered ciphertext (bad padding) and a wrong key: WX_BAD_REQUEST', () => {
      const bytes = Buffer.from(v.decryptData.encryptedData, 'base64');
      const lastFlipped = flip(bytes, bytes.length - 1, 0x55);
      expectBadRequest(() => decryptData({ ...input(), encryptedData: lastFlipped.toString('base64') }));
      const oneBlockShort = bytes.subarray(0, bytes.length - 16);
      expectBadRequest(() => decryptData({ ...input(), encryptedData: oneBlockShort.toString('base64') }));
      const notBlockSized = bytes.subarray(0, bytes.length - 3);
      expectBadRequest(() => decryptData({ ...input(), encryptedData: notBlockSized.toString('base64') }));
      // Garbling the first block breaks the JSON. (CBC carries no MAC: a flip that only lands inside
      // a string value still decrypts, which is WeChat's scheme, not ours to fix.)
      const firstFlipped = flip(bytes, 0, 0xff);
      expectBadRequest(() => decryptData({ ...input(), encryptedData: firstFlipped.toString('base64') }));
      const otherKey = Buffer.alloc(16, 9).toString('base64');
      expectBadRequest(() => decryptData({ ...input(), sessionKey: otherKey }), otherKey);
    });

    it('refuses plaintext that is not a JSON object with a watermark: WX_BAD_REQUEST', () => {
      const { sessionKey, iv, appId } = v.decryptData;
      const seal = (plain: string) => {
        const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), Buffer.from(iv, 'base64'));
        return Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
      };
      const wm = { appid: appId, timestamp: 1477314187 };
      // (control) the same sealing of a good object decrypts.
      expect(decryptData({ appId, sessionKey, iv, encryptedData: seal(JSON.stringify({ a: 1, watermark: wm })) })).to.deep.equal({ a: 1, watermark: wm });
      for (const plain of ['not json at all', '[1,2,3]', '"a string"', 'null', JSON.stringify({ a: 1 }), JSON.stringify({ watermark: 'wx4f4bc4dec97d474b' })]) {
        expectBadRequest(() => decryptData({ appId, sessionKey, iv, encryptedData: seal(plain) }), sessionKey);
      }
    });

    it('never names the session key in its errors', () => {
      const { sessionKey } = v.decryptData;
      for (const bad of [{ appId: 'wxnope' }, { iv: 'AAAA' }, { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==' }, { maxAge: 1 }]) {
        expectBadRequest(() => decryptData({ ...input(), ...bad }), sessionKey);
      }
    });
  });

  describe('verifyRawData', () => {
    it('accepts the official vector', () => {
      const { rawData, signature, sessionKey } = v.rawData;
      expect(verifyRawData(rawData, signature, sessionKey)).to.equal(true);
      expect(sha1Hex(rawData + sessionKey), 'the vector itself is sha1(rawData + key)').to.equal(signature);
    });

    it('accepts an uppercase signature', () => {
      const { rawData, signature, sessionKey } = v.rawData;
      expect(verifyRawData(rawData, signature.toUpperCase(), sessionKey)).to.equal(true);
    });

    it('refuses altered rawData, an altered signature or another key', () => {
      const { rawData, signature, sessionKey } = v.rawData;
      expect(verifyRawData(rawData.replace('Band', 'Bond'), signature, sessionKey)).to.equal(false);
      expect(verifyRawData(`${rawData} `, signature, sessionKey)).to.equal(false);
      const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
      expect(verifyRawData(rawData, flipped, sessionKey)).to.equal(false);
      expect(verifyRawData(rawData, signature.slice(0, -1), sessionKey)).to.equal(false);
      expect(verifyRawData(rawData, `${signature}0`, sessionKey)).to.equal(false);
      expect(verifyRawData(rawData, '', sessionKey)).to.equal(false);
      expect(verifyRawData(rawData, signature, v.decryptData.sessionKey)).to.equal(false);
    });
  });

  describe('session helpers bound to a key WeChat issued', () => {
    let mock: MockWeChat;
    before(async () => { mock = await startMockWeChat(); });
    after(async () => { await mock.close(); });

    it('session.sign / verifyRawData / decrypt use the session_key from code2Session', async () => {
      const openid = 'oCryptoSession';
      const core = createWxSession(coreOptions(mock));
      const { session, token } = await core.login(mock.issueCode(openid));
      const key = mock.sessionKeyOf(openid)!;

      for (const { body } of v.loginSignature) {
        expect(session.sign(body)).to.equal(signPayload(body, key));
        expect(session.sign(body)).to.equal(hmacHex(key, body));
      }
      const kv = '{"kv_list":[{"key":"score","value":"100"}]}';
      expect(session.sign(Buffer.from(kv))).to.equal(hmacHex(key, kv));

      const raw = v.rawData.rawData;
      expect(session.verifyRawData(raw, sha1Hex(raw + key))).to.equal(true);
      expect(session.verifyRawData(raw, v.rawData.signature)).to.equal(false);

      const payload = { openId: openid, nickName: 'n', watermark: { appid: mock.appId, timestamp: Math.floor(Date.now() / 1000) } };
      const pair = encryptForSession(key, payload);
      expect(session.decrypt(pair.encryptedData, pair.iv)).to.deep.equal(payload);
      const foreign = encryptForSession(key, { ...payload, watermark: { appid: v.decryptData.appId, timestamp: 1 } });
      expectBadRequest(() => session.decrypt(foreign.encryptedData, foreign.iv), key);
      expectBadRequest(() => session.decrypt(v.decryptData.encryptedData, v.decryptData.iv), key);

      // A session read back from the store has the same key.
      const again = await core.authenticate(token);
      expect(again.session!.sign('{"foo":"bar"}')).to.equal(hmacHex(key, '{"foo":"bar"}'));
    });
  });
});
