// For the session_key tests (access tokens, checkSessionKey, signed APIs, user data): WeChat's
// signatures and encryptedData computed here independently of src/, session_keys and access tokens
// as the core seals them at rest, a clock moved ahead, a logger that keeps what it is told (and
// shows it to the secrets witness), and checks that no secret shows.
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { WxSessionError, type Logger, type SessionRecord } from '../../src/index.js';
import type { MockWeChat } from '../../src/testing/index.js';
import { accessTokenContext, Sealer, sessionKeyContext } from '../../src/seal.js';
import { SECRET } from '../../harness/apps.js';
import { witnessLog } from './witness.js';

// ---- crypto, computed here independently of src/

/** WeChat's login-state signature: hex(hmac_sha256(key = session_key string as UTF-8, message = body)). */
export function hmacHex(sessionKey: string, body: string | Buffer): string {
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(body).digest('hex');
}

/** rawData signature: hex(sha1(rawData + session_key)). */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** The official login-state signature vectors (docs/session-key.md). */
export const SIGNATURE_VECTORS = {
  sessionKey: 'o0q0otL8aEzpcZL/FT9WsQ==',
  body: '{"foo":"bar"}',
  signature: '654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b',
  emptySignature: '46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128',
  /** What signing with the base64-DECODED key gives: wrong. */
  wrongKeyFormSignature: 'bfa6883695fed51bb7e5897ce895842574a58f8a9cc5c4343f47c515ab337b89',
} as const;

/** A user object as wx.getUserInfo would encrypt it, with the watermark WeChat adds. */
export function userPayload(appId: string, fields: Record<string, unknown> = {}, timestamp = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  return { nickName: '微信用户 Band', gender: 1, language: 'zh_CN', city: 'Guangzhou', ...fields, watermark: { appid: appId, timestamp } };
}

/**
 * encryptedData as WeChat makes it: AES-128-CBC, PKCS#7, key = base64-decode(sessionKey), a random
 * 16-byte iv unless given. `plaintext` may be an object (JSON-encoded) or raw text.
 */
export function encryptUserData(sessionKey: string, plaintext: unknown, iv: Buffer = randomBytes(16)): { encryptedData: string; iv: string } {
  const key = Buffer.from(sessionKey, 'base64');
  if (key.length !== 16) throw new Error(`test/support/keys: a session_key decodes to 16 bytes, got ${key.length}`);
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  const text = typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext);
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

/** encryptUserData with a fixed iv, for answers that must come out the same each run. */
export function encryptForSession(sessionKey: string, payload: object, iv = Buffer.alloc(16, 7)): { encryptedData: string; iv: string } {
  return encryptUserData(sessionKey, payload, iv);
}

/**
 * The same ciphertext with its padding deliberately broken: flipping the high bit of the last byte
 * of the second-to-last block flips the same bit of the last plaintext byte, the padding length
 * (1..16), so it becomes >= 0x81 and PKCS#7 unpadding fails, always.
 */
export function breakPadding(encryptedData: string): string {
  const bytes = Buffer.from(encryptedData, 'base64');
  if (bytes.length < 32) throw new Error('test/support/keys: breakPadding needs at least two blocks');
  bytes[bytes.length - 17]! ^= 0x80;
  return bytes.toString('base64');
}

/** A login code for `openid` and the session_key the mock will hand out with it. */
export function codeWithKey(mock: MockWeChat, openid: string): { code: string; sessionKey: string } {
  const code = mock.issueCode(openid);
  const sessionKey = mock.sessionKeyOf(openid);
  if (sessionKey === undefined) throw new Error('test/support/keys: the mock did not create a session_key for the code');
  return { code, sessionKey };
}

// ---- session_keys at rest (SECURITY.md, "Store compromise")

/**
 * The plaintext session_key a stored record holds sealed, opened as the core would open it (the
 * record's session id and appId are the associated data); undefined when it does not open.
 */
export function openStoredKey(record: Pick<SessionRecord, 'sessionKey'> | undefined, sessionId: string, appId: string, secrets: readonly string[] = [SECRET]): string | undefined {
  if (!record) return undefined;
  return new Sealer(secrets).open(record.sessionKey, sessionKeyContext(appId, sessionId));
}

/** `sessionKey` sealed as the core seals it for session `sessionId` of `appId` (to plant into a record). */
export function sealKey(sessionKey: string, sessionId: string, appId: string, secrets: readonly string[] = [SECRET]): string {
  return new Sealer(secrets).seal(sessionKey, sessionKeyContext(appId, sessionId));
}

/**
 * Asserts the stored record holds `plain` sealed: the stored value is not the key itself, and it
 * opens to it. Compares without chai's diff, which would print the key.
 */
export function expectStoredKey(record: Pick<SessionRecord, 'sessionKey'> | undefined, sessionId: string, appId: string, plain: string | undefined, what = 'the stored session_key', secrets: readonly string[] = [SECRET]): void {
  expect(record !== undefined, `${what}: no record`).to.equal(true);
  expect(typeof plain === 'string' && plain !== '', `${what}: no key to compare with`).to.equal(true);
  expect(record!.sessionKey === plain, `${what} is held in clear`).to.equal(false);
  expect(record!.sessionKey.includes(plain!), `${what} contains the key in clear`).to.equal(false);
  expect(record!.sessionKey.startsWith('wxs1.'), `${what} is not in the sealed form`).to.equal(true);
  expect(openStoredKey(record, sessionId, appId, secrets) === plain, `${what} opens to the expected key`).to.equal(true);
}

/**
 * The plaintext access token a shared TokenCache entry holds sealed (the core seals it before the
 * store keeps it); undefined when there is none or it does not open.
 */
export function openSharedToken(held: { token: string } | undefined, appId: string, secrets: readonly string[] = [SECRET]): string | undefined {
  if (!held) return undefined;
  return new Sealer(secrets).open(held.token, accessTokenContext(appId));
}

// ---- loggers and secrets

/** A logger that keeps every call; `text` is all of it, serialised (errors with their stacks). */
export function captureLogger(): Logger & { lines: unknown[][]; readonly text: string } {
  const lines: unknown[][] = [];
  const serialise = (value: unknown): string =>
    value instanceof Error ? `${value.name}: ${value.message}\n${value.stack ?? ''} ${serialise((value as { cause?: unknown }).cause)}` : JSON.stringify(value) ?? String(value);
  return {
    lines,
    warn(message: string, ...rest: unknown[]) {
      lines.push(['warn', message, ...rest]);
      witnessLog('a logger line', [message, ...rest]);
    },
    error(message: string, ...rest: unknown[]) {
      lines.push(['error', message, ...rest]);
      witnessLog('a logger line', [message, ...rest]);
    },
    get text() {
      return lines.map((line) => line.map(serialise).join(' ')).join('\n');
    },
  };
}

/** Asserts none of `secrets` (empty/undefined ones skipped) occurs in `text`. */
export function expectNoSecrets(text: string, secrets: ReadonlyArray<string | undefined>, where = 'text'): void {
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    expect(text.includes(secret), `${where} must not contain a secret (${secret.slice(0, 4)}…)`).to.equal(false);
  }
}

/** Everything an error could show: message, stack, JSON, cause chain. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const json = error instanceof WxSessionError ? JSON.stringify(error.toJSON()) : '';
  return `${String(error)}\n${error.stack ?? ''}\n${json}\n${JSON.stringify(error)}\n${errorText((error as { cause?: unknown }).cause ?? '')}`;
}

/** Awaits `promise`, which must reject; returns the rejection. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, it resolved');
}

