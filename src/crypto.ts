// session_key helpers: the login-state signature, encryptedData decryption, rawData checks.
// All synchronous and pure; the session object binds them to its own key.
import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { WxSessionError } from './errors.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The login-state signature WeChat expects on signed server APIs:
 * `hex(hmac_sha256(key = sessionKey as UTF-8, message = body))`.
 * The key is the session_key string itself, not its base64-decoded bytes.
 */
export function signPayload(body: string | Uint8Array, sessionKey: string): string {
  return createHmac('sha256', sessionKey).update(body).digest('hex');
}

/**
 * The `pay_sig` of WeChat's virtual payment APIs: `hex(hmac_sha256(key = appKey, message = uri +
 * '&' + body))`, `uri` the path without its query (`/wxa/game/pay`) and `body` the exact bytes
 * sent. The AppKey is the one of the payment's env (production or sandbox).
 */
export function signPayment(input: { uri: string; body: string | Uint8Array; appKey: string }): string {
  const { uri, body, appKey } = input;
  if (typeof uri !== 'string' || !uri.startsWith('/') || uri.includes('?')) {
    throw new TypeError('wx-session: signPayment uri must be a path without a query, such as /wxa/game/pay');
  }
  if (typeof appKey !== 'string' || appKey === '') throw new TypeError('wx-session: signPayment needs the AppKey');
  return createHmac('sha256', appKey).update(`${uri}&`).update(body).digest('hex');
}

/** Compares two strings in time that depends only on their lengths. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    // Still spend one comparison so a length mismatch is not measurably faster.
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** Checks `signature === hex(sha1(rawData + sessionKey))` in constant time. */
export function verifyRawData(rawData: string, signature: string, sessionKey: string): boolean {
  if (typeof rawData !== 'string' || typeof signature !== 'string' || typeof sessionKey !== 'string') return false;
  const expected = createHash('sha1').update(rawData + sessionKey, 'utf8').digest('hex');
  return safeEqual(expected, signature.toLowerCase());
}

export interface DecryptDataInput {
  appId: string;
  sessionKey: string;
  encryptedData: string;
  iv: string;
  /** Refuse data whose `watermark.timestamp` is older than this many seconds. Off by default. */
  maxAge?: number;
  /** Clock for `maxAge`, epoch ms. */
  now?: number;
}

function decodeBase64(value: unknown, what: string, length?: number): Buffer {
  if (typeof value !== 'string' || value.length === 0 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: `${what} is not valid base64` });
  }
  const bytes = Buffer.from(value, 'base64');
  if (length !== undefined && bytes.length !== length) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: `${what} must decode to ${length} bytes` });
  }
  return bytes;
}

/**
 * Decrypts WeChat `encryptedData` (AES-128-CBC, PKCS#7, key = base64-decoded session_key)
 * and checks that `watermark.appid` is this app. Throws `WX_BAD_REQUEST` on any failure.
 */
export function decryptData(input: DecryptDataInput): Record<string, unknown> {
  const key = decodeBase64(input.sessionKey, 'session key', 16);
  const iv = decodeBase64(input.iv, 'iv', 16);
  const data = decodeBase64(input.encryptedData, 'encryptedData');
  if (data.length === 0 || data.length % 16 !== 0) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData has a wrong length' });
  }
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    plain = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch {
    // Deliberately no cause: OpenSSL's message adds nothing and the key material stays out of it.
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData could not be decrypted' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain);
  } catch {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData did not decrypt to JSON' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData did not decrypt to an object' });
  }
  const result = parsed as Record<string, unknown>;
  const watermark = result.watermark as { appid?: unknown; timestamp?: unknown } | undefined;
  if (!watermark || typeof watermark !== 'object' || watermark.appid !== input.appId) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData watermark does not match this appId' });
  }
  if (input.maxAge !== undefined) {
    const now = input.now ?? Date.now();
    const stamp = typeof watermark.timestamp === 'number' ? watermark.timestamp * 1000 : NaN;
    if (!(stamp >= now - input.maxAge * 1000)) {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'encryptedData watermark is too old' });
    }
  }
  return result;
}
