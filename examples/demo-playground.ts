// The playground of the `npm start` demo (examples/demo.ts): a page at http://localhost:<PORT>/
// where a phone-shaped game runs the real wx-session/client in the browser, over a small browser
// `wx` (examples/playground/wx.js), against the Express example (examples/express/server.ts) and
// the demo's embedded mock WeChat, beside a live sequence diagram of every exchange.
//
// This file is the server side of it, a request listener in front of the example app:
//
// - GET / and /playground/*: the page (examples/playground/), and the compiled client
//   (dist/esm/src/client/index.js, as `npm run build` made it) at /playground/client/index.js.
// - /playground/api/*: what only the demo has, for the page's buttons: a login code from the mock
//   (the browser's wx.login), the mock's levers (rotate the player's session_key, expire the
//   access tokens, make WeChat slow or down), a signing-secret rotation, and the diagram's events
//   (a long poll). The demo listens on 127.0.0.1 only, and these answer only a request whose Host
//   is this server by the name 127.0.0.1 or localhost (no other site's page can drive them).
// - Everything else goes to the example app, unchanged. A request the page's game sent (it names
//   its device in X-Playground-Device) is recorded on the way: method, path, headers and body each
//   way, and the calls the server made to WeChat meanwhile, read from the mock's own call log.
//
// Nothing secret reaches the page: the mock's log already reads `[redacted]` for the AppSecret and
// the access token, and what is left that could be replayed (tokens, login codes, signatures) is
// shortened as the terminal walk-through prints it (examples/demo-wx.ts). The session_key is never
// in any answer of the example app, and the playground sends none.
//
// When a test starts the demo with an IPC channel (test/playground.test.ts), the playground sends
// it each secret it comes to know (the AppSecret, the signing secrets, the player's session_keys,
// the access tokens), so the test can look for them in everything the browser saw.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { MockCall, MockWeChat } from 'wx-session/testing';
import { shorten } from './demo-wx.js';

/** The player of the playground (both phones), as the mock WeChat knows them. */
export const PLAYER = 'oPlaygroundPlayer00000000001';
/** The header the page's `wx.request` names its device in; only such requests are recorded. */
export const DEVICE_HEADER = 'x-playground-device';
const DEVICES = new Set(['phone-1', 'phone-2']);

const PAGE_DIR = fileURLToPath(new URL('./playground/', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('../dist/esm/src/client/', import.meta.url));

/** The events the page draws (kept, newest last, up to this many). */
const KEEP_EVENTS = 500;
/** How long an events request waits for something new before answering an empty list. */
const LONG_POLL_MS = 20_000;
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
type NewEvent = PlaygroundEvent extends infer E ? (E extends PlaygroundEvent ? Omit<E, 'seq' | 'at'> : never) : never;

export interface PlaygroundSettings {
  mock: MockWeChat;
  /** The signing secret the example app was started with. */
  secret: string;
  /** The example app, as it is served now. */
  app: RequestListener;
  /** The same app on a new core signing with `secrets[0]` and accepting all (a signing-secret rotation). */
  appWithSecrets(secrets: readonly string[]): RequestListener;
  /** The core's `timeout` for WeChat calls, in ms: "slow" WeChat answers later than that. */
  timeoutMs: number;
}

export interface Playground {
  /** The demo server's request listener: the page, its API, and the example app behind. */
  listener: RequestListener;
  /** Answers the waiting event requests, so the server can close. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Showing an exchange without its secrets

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
const BROWSER_HEADERS = /^(host|connection|user-agent|accept(-.*)?|origin|referer|sec-.*|pragma|cache-control|dnt|priority|x-playground-device)$/;
/** Query parameters of WeChat calls that could be replayed (a login code) or are made with the session_key. */
const SHORTENED_PARAMS = new Set(['js_code', 'signature']);

function showHeader(name: string, value: string): string {
  if (TOKEN_HEADERS.has(name)) return shortToken(value);
  if (name === 'x-wx-code') return shorten(value);
  if (name === 'authorization') return value.replace(/^(\S+\s+)(\S+)$/, (_m, scheme: string, token: string) => scheme + shortToken(token));
  return value;
}

function showHeaders(headers: Record<string, unknown>, skip: RegExp): Array<[string, string]> {
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
function showBody(bytes: Buffer, sent: 'request' | 'answer'): string | undefined {
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

function errorCodeOf(body: Buffer): string | undefined {
  try {
    const code: unknown = (JSON.parse(body.toString('utf8')) as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** A call from the mock's log, which reads `[redacted]` for the AppSecret and the access token already. */
function showCall(call: MockCall, parent: number): NewEvent {
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

// ---------------------------------------------------------------------------------------------
// Watching one exchange

/** Keeps a copy of the bytes read from `req` and written to `res`, as their readers and writers go. */
function tap(req: IncomingMessage, res: ServerResponse): { requestBody(): Buffer; answerBody(): Buffer } {
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

// ---------------------------------------------------------------------------------------------
// The playground

export function createPlayground(settings: PlaygroundSettings): Playground {
  const { mock } = settings;
  let app = settings.app;
  let secrets: readonly string[] = [settings.secret];
  let mode: WeChatMode = 'normal';

  // ---- the events, and the page's long polls waiting for the next one

  const events: PlaygroundEvent[] = [];
  let seq = 0;
  const waiting = new Set<() => void>();
  function publish(event: NewEvent): void {
    events.push({ ...event, seq: ++seq, at: Date.now() } as PlaygroundEvent);
    if (events.length > KEEP_EVENTS) events.splice(0, events.length - KEEP_EVENTS);
    for (const wake of [...waiting]) wake();
  }

  // ---- secrets, told to a test that started the demo with an IPC channel

  const known = new Set<string>();
  function learn(kind: 'appSecret' | 'signing secret' | 'session_key' | 'access_token', value: string | undefined): void {
    if (value === undefined || known.has(value)) return;
    known.add(value);
    if (process.send && process.connected) process.send({ playgroundSecret: { kind, value } });
  }
  function learnFromMock(): void {
    learn('session_key', mock.sessionKeyOf(PLAYER));
    learn('access_token', mock.currentAccessToken());
  }
  learn('appSecret', mock.appSecret);
  learn('signing secret', settings.secret);
  learnFromMock();

  // ---- the game's requests, recorded with the mock's calls made while they were under way

  let nextId = 0;
  let underWay = 0;
  /** How many of the mock's calls are accounted for: those before a recorded request began are not the page's. */
  let cursor = mock.calls.length;

  function record(req: IncomingMessage, res: ServerResponse, device: string): void {
    const id = ++nextId;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    if (underWay++ === 0) cursor = mock.calls.length;
    publish({ type: 'request', id, device, method, path, headers: showHeaders(req.headers, BROWSER_HEADERS) });
    const bodies = tap(req, res);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      underWay -= 1;
      const calls = mock.calls;
      for (const call of calls.slice(cursor)) publish(showCall(call, id));
      cursor = calls.length;
      learnFromMock();
      const answer = bodies.answerBody();
      const declared = Number(req.headers['content-length'] ?? 0);
      const read = bodies.requestBody();
      // A body the server never read (a request refused before its body parser ran) was still sent.
      const requestBody = read.length === 0 && declared > 0 ? `(${declared} bytes, not read: the server answered first)` : showBody(read, 'request');
      const body = showBody(answer, 'answer');
      const errorCode = errorCodeOf(answer);
      publish({
        type: 'answer',
        id,
        device,
        method,
        path,
        status: res.headersSent ? res.statusCode : 0,
        ...(errorCode !== undefined ? { errorCode } : {}),
        headers: showHeaders(res.getHeaders(), /^(date|connection|keep-alive)$/),
        ...(body !== undefined ? { body } : {}),
        ...(requestBody !== undefined ? { requestBody } : {}),
        ms: Math.round(performance.now() - started),
      });
    };
    res.once('finish', finish);
    res.once('close', finish);
  }

  // ---- the page's API

  const FAULTED_PATHS = ['/sns/jscode2session', '/wxa/checksession', '/cgi-bin/stable_token', '/wxa/set_user_storage'];
  function setMode(next: WeChatMode): string {
    mode = next;
    mock.clearFaults();
    if (next === 'slow') {
      // Later than the server waits: each call times out (login 504, checksession fails open).
      for (const path of FAULTED_PATHS) mock.fault(path, { delay: settings.timeoutMs + 1000 });
      return `WeChat is slow: each call answers after ${(settings.timeoutMs + 1000) / 1000} s, past the server's timeout of ${settings.timeoutMs / 1000} s (mock.fault(path, { delay }))`;
    }
    if (next === 'down') {
      for (const path of FAULTED_PATHS) mock.fault(path, { status: 502, body: 'Bad Gateway' });
      return "WeChat is down: each call answers HTTP 502 (mock.fault(path, { status: 502 }))";
    }
    return 'WeChat is back to normal (mock.clearFaults())';
  }

  const api = express.Router();
  // Only this server, by its own name: another site's page (even one whose name resolves to
  // 127.0.0.1) cannot drive the mock or read the events.
  api.use((req, res, next) => {
    const port = req.socket.localPort;
    const host = req.headers.host;
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      res.status(403).json({ message: 'the playground answers only http://localhost or http://127.0.0.1 on its own port' });
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.use(express.json({ limit: '1kb' }));

  api.get('/events', (req, res) => {
    const after = Number(req.query.after ?? 0);
    const answer = () => res.json({ events: events.filter((event) => event.seq > after), latest: seq, wechat: mode });
    if (!Number.isInteger(after) || after < 0) {
      res.status(400).json({ message: 'after must be a whole number' });
      return;
    }
    // Something new, or a page that saw more than this run has (the demo was restarted): at once.
    if (seq !== after) {
      answer();
      return;
    }
    const wake = () => {
      waiting.delete(wake);
      clearTimeout(timer);
      if (!res.writableEnded) answer();
    };
    const timer = setTimeout(wake, LONG_POLL_MS);
    waiting.add(wake);
    res.once('close', () => {
      waiting.delete(wake);
      clearTimeout(timer);
    });
  });

  // The browser's wx.login: a one-time code from the mock, as WeChat gives the game. Each redeemed
  // code gives the player a new session_key, as a wx.login() may: a login on one phone leaves the
  // other phone's session with a stale key.
  api.post('/code', (req, res) => {
    const device = (req.body as { device?: unknown } | undefined)?.device;
    if (typeof device !== 'string' || !DEVICES.has(device)) {
      res.status(400).json({ message: 'device must be phone-1 or phone-2' });
      return;
    }
    const code = mock.issueCode(PLAYER, { rotate: true });
    learnFromMock();
    publish({ type: 'login', device, code: shorten(code) });
    res.json({ code });
  });

  api.post('/rotate-session-key', (_req, res) => {
    learnFromMock();
    mock.rotateSessionKey(PLAYER);
    learnFromMock();
    publish({ type: 'note', on: 'wechat', text: "mock.rotateSessionKey(openid): WeChat gave the player a new session_key; your server still holds the old one" });
    res.json({ ok: true });
  });

  api.post('/expire-access-token', (_req, res) => {
    learnFromMock();
    mock.expireAccessTokens();
    publish({ type: 'note', on: 'wechat', text: 'mock.expireAccessTokens(): the access token your server holds now answers 42001' });
    res.json({ ok: true });
  });

  api.post('/rotate-signing-secret', (_req, res) => {
    const next = randomBytes(32).toString('base64url');
    learn('signing secret', next);
    // The same app on a new core with secret: [new, old], over the same session store: as a
    // deploy with the new secret first. Tokens signed with the old one are still accepted, and
    // re-issued in X-WX-Session-Token.
    secrets = [next, secrets[0]!];
    app = settings.appWithSecrets(secrets);
    publish({ type: 'note', on: 'server', text: 'New signing secret: the server now runs with secret: [new, old]; a token signed with the old one is accepted and re-issued' });
    res.json({ ok: true });
  });

  api.post('/wechat', (req, res) => {
    const wanted = (req.body as { mode?: unknown } | undefined)?.mode;
    if (wanted !== 'normal' && wanted !== 'slow' && wanted !== 'down') {
      res.status(400).json({ message: 'mode must be normal, slow or down' });
      return;
    }
    learnFromMock();
    publish({ type: 'note', on: 'wechat', text: setMode(wanted) });
    res.json({ ok: true, wechat: mode });
  });

  api.use((_req, res) => {
    res.status(404).json({ message: 'no such playground call' });
  });

  const ui = express();
  ui.disable('x-powered-by');
  ui.get('/', (_req, res) => res.sendFile('index.html', { root: PAGE_DIR }));
  ui.use('/playground/api', api);
  ui.get(['/playground/client/index.js', '/playground/client/index.js.map'], (req, res) => {
    const file = req.path.slice('/playground/client/'.length);
    if (!existsSync(CLIENT_DIR + file)) {
      res.status(503).type('text/plain').send('wx-session/client is not built: run `npm run build` (npm start does)');
      return;
    }
    res.sendFile(file, { root: CLIENT_DIR });
  });
  ui.use('/playground', express.static(PAGE_DIR, { index: false, redirect: false }));
  ui.use((_req, res) => {
    res.status(404).type('text/plain').send('not found');
  });

  const listener: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    if (url === '/' || url.startsWith('/?') || url === '/playground' || url.startsWith('/playground/')) {
      ui(req, res);
      return;
    }
    const device = req.headers[DEVICE_HEADER];
    if (typeof device === 'string' && DEVICES.has(device)) record(req, res, device);
    app(req, res);
  };

  return {
    listener,
    close() {
      for (const wake of [...waiting]) wake();
    },
  };
}
