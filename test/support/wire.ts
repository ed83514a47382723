// For the wire tests: raw HTTP over a socket (for requests supertest refuses to send), tokens
// forged and read with cookie-signature, and the shape of error answers.
import { connect } from 'node:net';
import signature from 'cookie-signature';
import { expect } from 'chai';

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

/** A token for `id` signed under `secret`, as the package would make it. */
export function forgeToken(id: string, secret: string): string {
  return signature.sign(id, secret);
}

/** The session id inside `token` if signed under `secret`, else false. */
export function unsignToken(token: string, secret: string): string | false {
  return signature.unsign(token, secret);
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
