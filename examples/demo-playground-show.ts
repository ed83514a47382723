// What the playground's page is shown of an exchange (examples/demo-playground.ts): the events it
// draws, and each exchange without its secrets. The mock's call log already reads `[redacted]`
// for the AppSecret and the access token; what is left that could be replayed (session tokens,
// login codes, signatures) is shortened as the terminal walk-through prints it
// (examples/demo-wx.ts), tokens with their last four characters too. The session_key is in no
// answer of the example app, and nothing here adds one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockCall } from 'wx-session/testing';
import { shorten } from './demo-wx.js';

/** Bodies are shown up to this many bytes. */
const SHOWN_BODY_BYTES = 4096;

export type WeChatMode = 'normal' | 'slow' | 'down';

/** What the page draws: one arrow (or a pair of them), or a note on a lifeline. */
export type PlaygroundEvent = { seq: number; at: number } & (
  | { type: 'login'; device: string; code: string }
  | { type: 'request'; id: number; device: string; method: string; path: string; headers: Array<[string, string]> }
  | { type: 'wechat'; parent: number; method: string; path: string; query: Array<[string, string]>; body?: string; status: number; errcode?: number }
  | { type: 'answer'; id: number; device: string; method: string; path: string; status: number; errorCode?: string; headers: Array<[string, string]>; body?: string; requestBody?: string; ms: number }
  | { type: 'note'; on: 'server' | 'wechat'; text: string }
);
export type NewEvent = PlaygroundEvent extends infer E ? (E extends PlaygroundEvent ? Omit<E, 'seq' | 'at'> : never) : never;

/**
 * A session token as the page shows it: shortened as the terminal prints it, plus its last four
 * characters, so that a re-issued token (the same session id, a new signature) looks different.
 */
export function shortToken(token: string): string {
  return token.length > 16 ? `${token.slice(0, 8)}…${token.slice(-4)} (${token.length} chars)` : shorten(token);
}

/** Headers whose values are session tokens: shown shortened. */
const TOKEN_HEADERS = new Set(['x-wx-session', 'x-wx-session-token']);
/** Request headers of the browser's own that say nothing about the protocol. */
export const BROWSER_HEADERS = /^(host|connection|user-agent|accept(-.*)?|origin|referer|sec-.*|pragma|cache-control|dnt|priority|x-playground-device)$/;
/** Query parameters of WeChat calls that could be replayed (a login code) or are made with the session_key. */
const SHORTENED_PARAMS = new Set(['js_code', 'signature']);

function showHeader(name: string, value: string): string {
  if (TOKEN_HEADERS.has(name)) return shortToken(value);
  if (name === 'x-wx-code') return shorten(value);
  if (name === 'authorization') return value.replace(/^(\S+\s+)(\S+)$/, (_m, scheme: string, token: string) => scheme + shortToken(token));
  return value;
}

export function showHeaders(headers: Record<string, unknown>, skip: RegExp): Array<[string, string]> {
  const shown: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || skip.test(lower)) continue;
    shown.push([lower, showHeader(lower, Array.isArray(value) ? value.join(', ') : String(value))]);
  }
  return shown;
}

/**
 * A body as the page shows it: JSON with its `token` shortened (and, in a request, the login
 * `code`; in an answer `code` is wx-session's error code), or the text.
 */
export function showBody(bytes: Buffer, sent: 'request' | 'answer'): string | undefined {
  if (bytes.length === 0) return undefined;
  const text = bytes.subarray(0, SHOWN_BODY_BYTES).toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text), (key, value: unknown) => {
      if (typeof value !== 'string') return value;
      if (key === 'token') return shortToken(value);
      return key === 'code' && sent === 'request' ? shorten(value) : value;
    });
  } catch {
    return bytes.length > SHOWN_BODY_BYTES ? `${text}…` : text;
  }
}

export function errorCodeOf(body: Buffer): string | undefined {
  try {
    const code: unknown = (JSON.parse(body.toString('utf8')) as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** A call from the mock's log, which reads `[redacted]` for the AppSecret and the access token already. */
export function showCall(call: MockCall, parent: number): NewEvent {
  const query = Object.entries(call.query).map(([name, value]): [string, string] => [name, SHORTENED_PARAMS.has(name) ? shorten(value) : value]);
  return {
    type: 'wechat',
    parent,
    method: call.method,
    path: call.path,
    query,
    ...(call.body !== undefined ? { body: call.body } : {}),
    status: call.status,
    ...(call.errcode !== undefined ? { errcode: call.errcode } : {}),
  };
}

/** Keeps a copy of the bytes read from `req` and written to `res`, as their readers and writers go. */
export function tap(req: IncomingMessage, res: ServerResponse): { requestBody(): Buffer; answerBody(): Buffer } {
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  let sentBytes = 0;
  let receivedBytes = 0;
  const keep = (into: Buffer[], chunk: unknown, size: number): number => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function' || size >= SHOWN_BODY_BYTES + 1) return 0;
    const bytes = Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk) : Buffer.from(String(chunk));
    into.push(bytes);
    return bytes.length;
  };
  // Whoever reads the body (wx-session's login route, express.json) gets each chunk through 'data'.
  const emit = req.emit;
  req.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]) {
    if (event === 'data') receivedBytes += keep(received, args[0], receivedBytes);
    return emit.call(this, event, ...args);
  } as typeof req.emit;
  const write = res.write;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    sentBytes += keep(sent, chunk, sentBytes);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  const end = res.end;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    sentBytes += keep(sent, chunk, sentBytes);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  return { requestBody: () => Buffer.concat(received), answerBody: () => Buffer.concat(sent) };
}
