// Session ids and the signed tokens that carry them: `<id>.<hmac>` via cookie-signature.
import { withRandomBytes } from './random-pool.js';
import signature from 'cookie-signature';

const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;
const MAX_TOKEN_LENGTH = 512;

const ID_BYTES = 32;

/** 32 random bytes, base64url: 43 characters, never a '.'. */
export function newSessionId(): string {
  return withRandomBytes(ID_BYTES, (bytes) => bytes.toString('base64url'));
}

/** Shape only: length, alphabet and the '.' before the signature (SECURITY.md, "A forged token"). */
export function isWellFormedToken(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && token.includes('.') && TOKEN_CHARS.test(token);
}

export function signToken(id: string, secret: string): string {
  return signature.sign(id, secret);
}

/**
 * The session id inside a token, trying every secret (timing-safe in cookie-signature).
 * `index` is the secret that matched: above 0 means the token should be re-issued.
 */
export function verifyToken(token: string, secrets: readonly string[]): { id: string; index: number } | undefined {
  for (let index = 0; index < secrets.length; index++) {
    const id = signature.unsign(token, secrets[index]!);
    if (id !== false && id.length > 0) return { id, index };
  }
  return undefined;
}
