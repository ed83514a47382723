// Secrets at rest (SECURITY.md, "Store compromise"): what the core hands a store in place of
// a session_key or an access token. AES-256-GCM under a key derived from each signing secret
// with HKDF-SHA256; the sealed form names its version and which secret's key sealed it:
//
//   wxs1.<key id: 8 hex>.<base64url(iv 12 bytes | ciphertext | tag 16 bytes)>
//
// The associated data binds a sealed value to where it belongs (a session id, an appId), so a
// store writer cannot move one session's key into another record.
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { withRandomBytes } from './random-pool.js';

const VERSION = 'wxs1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface SealingKey {
  id: string;
  key: Buffer;
}

function deriveKey(secret: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'wx-session', 'wx-session at-rest encryption v1', 32));
  // The id names the key, not the secret: a hash of the derived key, which reveals nothing usable.
  const id = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return { id, key };
}

/** Seals with the first secret's key, opens with any secret's key (so rotation keeps records readable). */
/**
 * `text` as one flat string. Joined with `+` or a template, a string is a rope of pieces, each a
 * heap object of its own; a stored session holds its sealed key for days, so it is kept in one.
 */
const flat = (text: string): string => Buffer.from(text, 'latin1').toString('latin1');

export class Sealer {
  readonly #keys: readonly SealingKey[];
  /** `wxs1.<id of the first secret's key>.`: what a value sealed under the current secret starts with. */
  readonly #current: string;

  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map(deriveKey);
    this.#current = flat(`${VERSION}.${this.#keys[0]!.id}.`);
  }

  seal(plain: string, context: string): string {
    const { id, key } = this.#keys[0]!;
    // A fresh IV from the random pool (copied into the cipher and the body before it is wiped).
    const body = withRandomBytes(IV_BYTES, (iv) => {
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    });
    return flat(`${VERSION}.${id}.${body.toString('base64url')}`);
  }

  /** The plain text, or undefined when the value is not ours, was changed, or no secret in force sealed it. */
  open(sealed: unknown, context: string): string | undefined {
    if (typeof sealed !== 'string') return undefined;
    const [version, id, data, extra] = sealed.split('.');
    if (version !== VERSION || data === undefined || extra !== undefined) return undefined;
    const entry = this.#keys.find((k) => k.id === id);
    if (!entry) return undefined;
    const body = Buffer.from(data, 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, body.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** True when `sealed` was sealed with the current (first) secret's key. */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(this.#current);
  }
}

/** The associated data of a session's sealed session_key. */
export const sessionKeyContext = (appId: string, id: string): string => `session_key ${appId} ${id}`;
/** The associated data of a shared access token. */
export const accessTokenContext = (appId: string): string => `access_token ${appId}`;
