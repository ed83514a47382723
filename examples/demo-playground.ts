// The playground of the `npm start` demo (examples/demo.ts): a page at http://localhost:<PORT>/
// where a phone-shaped game runs the real wx-session/client in the browser, over a small browser
// `wx` (examples/playground/wx.js), against the Express example (examples/express/server.ts) and
// the demo's embedded mock WeChat, beside a live sequence diagram of every exchange.
//
// This file is the server side of it, a request listener in front of the example app:
//
// - GET / and /playground/*: the page (examples/playground/), and the compiled client
//   (dist/esm/src/client/index.js, as `npm run build` made it) at /playground/client/index.js.
// - /playground/api/*: what only the demo has, for the page's buttons (demo-playground-api.ts).
// - Everything else goes to the example app, unchanged. A request the page's game sent (it names
//   its device in X-Playground-Device) is recorded on the way: method, path, headers and body each
//   way, and the calls the server made to WeChat meanwhile, read from the mock's own call log.
//
// Nothing secret reaches the page (demo-playground-show.ts says how).
//
// When a test starts the demo with an IPC channel (test/playground.test.ts), the playground sends
// it each secret it comes to know (the AppSecret, the signing secrets, the player's session_keys,
// the access tokens), so the test can look for them in everything the browser saw.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { MockWeChat } from 'wx-session/testing';
import { DEVICES, EventLog, PLAYER, playgroundApi } from './demo-playground-api.js';
import { BROWSER_HEADERS, errorCodeOf, showBody, showCall, showHeaders, tap } from './demo-playground-show.js';


/** The header the page's `wx.request` names its device in; only such requests are recorded. */
export const DEVICE_HEADER = 'x-playground-device';

const PAGE_DIR = fileURLToPath(new URL('./playground/', import.meta.url));
const CLIENT_DIR = fileURLToPath(new URL('../dist/esm/src/client/', import.meta.url));

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

type SecretKind = 'appSecret' | 'signing secret' | 'session_key' | 'access_token';

/** Tells a test that started the demo with an IPC channel each secret the playground comes to know. */
function secretReporter(mock: MockWeChat): { learn(kind: SecretKind, value: string | undefined): void; learnFromMock(): void } {
  const known = new Set<string>();
  const learn = (kind: SecretKind, value: string | undefined) => {
    if (value === undefined || known.has(value)) return;
    known.add(value);
    if (process.send && process.connected) process.send({ playgroundSecret: { kind, value } });
  };
  return {
    learn,
    learnFromMock() {
      learn('session_key', mock.sessionKeyOf(PLAYER));
      learn('access_token', mock.currentAccessToken());
    },
  };
}

/**
 * Records the game's requests, with the mock's calls made while they were under way: the calls
 * before a recorded request began are not the page's.
 */
function exchangeRecorder(mock: MockWeChat, log: EventLog, learnFromMock: () => void): (req: IncomingMessage, res: ServerResponse, device: string) => void {
  let nextId = 0;
  let underWay = 0;
  let cursor = mock.calls.length;
  return (req, res, device) => {
    const id = ++nextId;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    if (underWay++ === 0) cursor = mock.calls.length;
    log.publish({ type: 'request', id, device, method, path, headers: showHeaders(req.headers, BROWSER_HEADERS) });
    const bodies = tap(req, res);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      underWay -= 1;
      const calls = mock.calls;
      for (const call of calls.slice(cursor)) log.publish(showCall(call, id));
      cursor = calls.length;
      learnFromMock();
      const answer = bodies.answerBody();
      const declared = Number(req.headers['content-length'] ?? 0);
      const read = bodies.requestBody();
      // A body the server never read (a request refused before its body parser ran) was still sent.
      const requestBody = read.length === 0 && declared > 0 ? `(${declared} bytes, not read: the server answered first)` : showBody(read, 'request');
      const body = showBody(answer, 'answer');
      const errorCode = errorCodeOf(answer);
      log.publish({
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
  };
}

/** The page, its API, and the compiled client; anything else is a 404. */
function pageRoutes(api: express.Router): express.Express {
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
  return ui;
}

export function createPlayground(settings: PlaygroundSettings): Playground {
  const { mock } = settings;
  let app = settings.app;
  let secrets: readonly string[] = [settings.secret];
  const log = new EventLog();
  const { learn, learnFromMock } = secretReporter(mock);
  learn('appSecret', mock.appSecret);
  learn('signing secret', settings.secret);
  learnFromMock();
  const record = exchangeRecorder(mock, log, learnFromMock);

  const rotateSigningSecret = () => {
    const next = randomBytes(32).toString('base64url');
    learn('signing secret', next);
    // The same app on a new core with secret: [new, old], over the same session store: as a
    // deploy with the new secret first. Tokens signed with the old one are still accepted, and
    // re-issued in X-WX-Session-Token.
    secrets = [next, secrets[0]!];
    app = settings.appWithSecrets(secrets);
    return 'New signing secret: the server now runs with secret: [new, old]; a token signed with the old one is accepted and re-issued';
  };
  const ui = pageRoutes(playgroundApi({ mock, log, timeoutMs: settings.timeoutMs, learnFromMock, rotateSigningSecret }));

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
  return { listener, close: () => log.wakeAll() };
}
