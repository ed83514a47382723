// Helpers for the wire tests: raw HTTP over a socket (for requests supertest refuses to send),
// stores that count or fail, and token forging with cookie-signature.
import { connect } from 'node:net';
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import signature from 'cookie-signature';
import { expect } from 'chai';
import { MemoryStore, type SessionRecord, type SessionStore } from '../src/index.js';

export interface RawResponse {
  /** 0 when the server closed the connection without an HTTP answer. */
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
  /** Parsed JSON body, or undefined. */
  json: unknown;
  /** Everything received, latin1-decoded. */
  text: string;
  /** A socket error the client saw (EPIPE, ECONNRESET...), if any. */
  error?: string;
}

/**
 * Writes `request` as it is to the server behind `url` and collects the answer until the server
 * closes the connection (send `Connection: close`) or `waitMs` passes.
 */
export function rawRequest(url: string, request: string | Buffer, waitMs = 3000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), error));
    });
    socket.write(request);
  });
}

function parseRaw(text: string, error?: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1];
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end < 0 ? '' : text.slice(end + 4);
  if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']));
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
  } catch {
    json = undefined;
  }
  const result: RawResponse = { status: status ? Number(status) : 0, headers, body, json, text };
  if (error !== undefined) result.error = error;
  return result;
}

/** A MemoryStore that counts the calls made to it. */
export class CountingStore implements SessionStore {
  readonly inner = new MemoryStore();
  counts = { get: 0, set: 0, destroy: 0, touch: 0 };
  /** Every record passed to set, in order. */
  readonly written: SessionRecord[] = [];
  /** The ttlMs passed with each set, in order. */
  readonly ttls: number[] = [];

  get(id: string) {
    this.counts.get++;
    return this.inner.get(id);
  }
  set(id: string, record: SessionRecord, ttlMs: number) {
    this.counts.set++;
    this.written.push(record);
    this.ttls.push(ttlMs);
    return this.inner.set(id, record, ttlMs);
  }
  destroy(id: string) {
    this.counts.destroy++;
    return this.inner.destroy(id);
  }
  touch(id: string, ttlMs: number) {
    this.counts.touch++;
    return this.inner.touch(id, ttlMs);
  }
  /** Writes of any kind (set and touch). */
  get writes(): number {
    return this.counts.set + this.counts.touch;
  }
  reset(): void {
    this.counts = { get: 0, set: 0, destroy: 0, touch: 0 };
    this.written.length = 0;
    this.ttls.length = 0;
  }
}

/** A store that works until `failing` is set (or an operation is listed in `failOn`), then rejects. */
export class SwitchableStore implements SessionStore {
  readonly inner = new MemoryStore();
  failing = false;
  readonly failOn = new Set<'get' | 'set' | 'destroy'>();
  readonly error = new Error('store is down (test)');

  #check(op: 'get' | 'set' | 'destroy'): Promise<void> {
    return this.failing || this.failOn.has(op) ? Promise.reject(this.error) : Promise.resolve();
  }
  async get(id: string) {
    await this.#check('get');
    return this.inner.get(id);
  }
  async set(id: string, record: SessionRecord, ttlMs: number) {
    await this.#check('set');
    return this.inner.set(id, record, ttlMs);
  }
  async destroy(id: string) {
    await this.#check('destroy');
    return this.inner.destroy(id);
  }
  heal(): void {
    this.failing = false;
    this.failOn.clear();
  }
}

/** A token for `id` signed under `secret`, as the package would make it. */
export function forgeToken(id: string, secret: string): string {
  return signature.sign(id, secret);
}

/** The session id inside `token` if signed under `secret`, else false. */
export function unsignToken(token: string, secret: string): string | false {
  return signature.unsign(token, secret);
}

/** WeChat's login-state signature, computed here independently of src/. */
export function hmacHex(sessionKey: string, body: string): string {
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(body).digest('hex');
}

export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** encryptedData as WeChat makes it: AES-128-CBC, PKCS#7, key = base64-decoded session_key. */
export function encryptForSession(sessionKey: string, payload: unknown, iv = Buffer.alloc(16, 7)): { encryptedData: string; iv: string } {
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

/** The shape every error answer has: `{code, message, errcode?}` and nothing else. */
export function expectErrorBody(body: unknown, code: string, errcode?: number): void {
  expect(body, 'error body').to.be.an('object');
  const b = body as Record<string, unknown>;
  expect(b.code).to.equal(code);
  expect(b.message).to.be.a('string').and.not.equal('');
  if (errcode === undefined) {
    expect(b, 'no errcode when WeChat gave none').to.not.have.property('errcode');
    expect(Object.keys(b).sort()).to.deep.equal(['code', 'message']);
  } else {
    expect(b.errcode).to.equal(errcode);
    expect(Object.keys(b).sort()).to.deep.equal(['code', 'errcode', 'message']);
  }
}

export const INVALID_REQUEST = 'Bearer realm="wx-session", error="invalid_request"';
export const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';
