// Requests for the property tests: what a generated request is, sending it through fetch or byte
// for byte over a raw socket, the answer as the tests read it, and the crash check after a case.
import { expect } from 'chai';
import { ErrorCode } from '../../src/index.js';
import type { TestApp } from '../../harness/apps.js';
import { rawRequest } from './wire.js';

/** An answer slower than this is a hang. */
export const HANG_MS = 4000;

export interface Req {
  method: string;
  /** Path and query. */
  target: string;
  /** Header name -> value; values are byte strings (one char per byte, latin1). */
  headers: Record<string, string>;
  /** Bytes; absent: none. */
  body?: Uint8Array;
}

export interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  text: string;
  json: unknown;
  ms: number;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** One request over a kept-alive connection (Node's fetch). */
export async function send(url: string, req: Req): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${url}${req.target}`, {
    method: req.method,
    headers: req.headers,
    body: req.body === undefined ? undefined : new Uint8Array(req.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(HANG_MS),
  });
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => { headers[name] = value; });
  return { status: res.status, headers, text, json: parseJson(text), ms: performance.now() - started };
}

/** The same request written byte for byte on a fresh socket (headers fetch refuses to send). */
export async function sendRaw(url: string, req: Req): Promise<Answer> {
  const body = Buffer.from(req.body ?? new Uint8Array(0));
  let head = `${req.method} ${req.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(req.headers)) head += `${name}: ${value}\r\n`;
  if (req.body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  const started = performance.now();
  const res = await rawRequest(url, Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]), HANG_MS);
  const text = Buffer.from(res.body, 'latin1').toString('utf8');
  return { status: res.status, headers: res.headers, text, json: res.json, ms: performance.now() - started };
}

/** The server is alive and well: the crash check after each case. */
export async function expectHealthy(app: TestApp): Promise<void> {
  const res = await send(app.url, { method: 'GET', target: '/whoami', headers: {} });
  expect(res.status, 'health check').to.equal(200);
  expect(res.json).to.deep.equal({ session: false, openid: null, error: ErrorCode.WX_SESSION_MISSING });
}

/** HTTP strips optional whitespace (SP, HTAB) around a field value, and only that (RFC 9110 §5.5). */
export const ows = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

/** The methods fetch (undici) sends `Content-Length: 0` with when they carry no body. */
const EXPECTS_PAYLOAD = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Header values as the server sees them: names lower-cased, optional whitespace stripped; sent
 * through fetch, a POST, PUT or PATCH without a body also carries `Content-Length: 0`.
 */
export function seenHeaders(req: Req, via: 'fetch' | 'raw' = 'fetch'): Map<string, string> {
  const seen = new Map(Object.entries(req.headers).map(([name, value]) => [name.toLowerCase(), ows(value)]));
  if (via === 'fetch' && req.body === undefined && EXPECTS_PAYLOAD.has(req.method) && !seen.has('content-length')) seen.set('content-length', '0');
  return seen;
}

/** The ways a client may send its token. */
export type Form = 'x-wx-session' | 'bearer' | 'bearer-lower';

export function authHeaders(token: string, form: Form): Record<string, string> {
  if (form === 'x-wx-session') return { 'X-WX-Session': token };
  return { Authorization: `${form === 'bearer' ? 'Bearer' : 'bearer'} ${token}` };
}
