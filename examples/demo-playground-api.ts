// What only the demo has, for the playground page's buttons (examples/demo-playground.ts), under
// /playground/api: the diagram's events (a long poll), a login code from the mock (the browser's
// wx.login), and the levers: rotate the player's session_key, expire the access tokens, rotate the
// signing secret, make WeChat slow or down. The demo listens on 127.0.0.1 only, and these answer
// only a request whose Host is this server by the name 127.0.0.1 or localhost: another site's
// page (even one whose name resolves to 127.0.0.1) can neither drive the mock nor read the events.
import express from 'express';
import type { MockWeChat } from 'wx-session/testing';
import type { NewEvent, PlaygroundEvent, WeChatMode } from './demo-playground-show.js';
import { shorten } from './demo-wx.js';

/** The player of the playground (both phones), as the mock WeChat knows them. */
export const PLAYER = 'oPlaygroundPlayer00000000001';
/** The phones of the page; only their requests are recorded. */
export const DEVICES: ReadonlySet<string> = new Set(['phone-1', 'phone-2']);

/** The events the page draws (kept, newest last, up to this many). */
const KEEP_EVENTS = 500;
/** How long an events request waits for something new before answering an empty list. */
const LONG_POLL_MS = 20_000;
/** The WeChat calls "slow" and "down" fault. */
const FAULTED_PATHS = ['/sns/jscode2session', '/wxa/checksession', '/cgi-bin/stable_token', '/wxa/set_user_storage'];

/** The events so far, and the page's long polls waiting for the next one. */
export class EventLog {
  readonly #events: PlaygroundEvent[] = [];
  readonly #waiting = new Set<() => void>();
  #seq = 0;

  publish(event: NewEvent): void {
    this.#events.push({ ...event, seq: ++this.#seq, at: Date.now() } as PlaygroundEvent);
    if (this.#events.length > KEEP_EVENTS) this.#events.splice(0, this.#events.length - KEEP_EVENTS);
    this.wakeAll();
  }

  /** Answers the waiting requests (what is new, or nothing), so the server can close. */
  wakeAll(): void {
    for (const wake of [...this.#waiting]) wake();
  }

  /** GET /events?after=<seq>: what came after, at once when there is some, else within LONG_POLL_MS. */
  handler(mode: () => WeChatMode): express.RequestHandler {
    return (req, res) => {
      const after = Number(req.query.after ?? 0);
      if (!Number.isInteger(after) || after < 0) {
        res.status(400).json({ message: 'after must be a whole number' });
        return;
      }
      const answer = () => res.json({ events: this.#events.filter((event) => event.seq > after), latest: this.#seq, wechat: mode() });
      // Something new, or a page that saw more than this run has (the demo was restarted): at once.
      if (this.#seq !== after) {
        answer();
        return;
      }
      const done = () => {
        this.#waiting.delete(wake);
        clearTimeout(timer);
      };
      const wake = () => {
        done();
        if (!res.writableEnded) answer();
      };
      const timer = setTimeout(wake, LONG_POLL_MS);
      this.#waiting.add(wake);
      res.once('close', done);
    };
  }
}

/** What the levers act on. */
export interface Levers {
  mock: MockWeChat;
  log: EventLog;
  /** The server's timeout for WeChat calls, in ms: "slow" answers later. */
  timeoutMs: number;
  /** Called before and after a lever moves, so the test hears of every new secret. */
  learnFromMock(): void;
  /** Starts signing with a new secret (keeping the old one accepted); the note to show. */
  rotateSigningSecret(): string;
}

/** The demo-only router of /playground/api. */
export function playgroundApi(levers: Levers): express.Router {
  const { mock, log } = levers;
  let mode: WeChatMode = 'normal';
  const note = (on: 'server' | 'wechat', text: string) => log.publish({ type: 'note', on, text });
  const api = express.Router();
  api.use(sameHostOnly);
  api.use(express.json({ limit: '1kb' }));
  api.get('/events', log.handler(() => mode));
  api.post('/code', (req, res) => {
    const device = (req.body as { device?: unknown } | undefined)?.device;
    if (typeof device !== 'string' || !DEVICES.has(device)) {
      res.status(400).json({ message: 'device must be phone-1 or phone-2' });
      return;
    }
    res.json({ code: issueCode(levers, device) });
  });
  // A lever moves, then its note goes to the page: after the test has heard of any new secret.
  const lever = (path: string, on: 'server' | 'wechat', move: () => string) =>
    api.post(path, (_req, res) => {
      levers.learnFromMock();
      const text = move();
      levers.learnFromMock();
      note(on, text);
      res.json(path === '/wechat' ? { ok: true, wechat: mode } : { ok: true });
    });
  lever('/rotate-session-key', 'wechat', () => {
    mock.rotateSessionKey(PLAYER);
    return 'mock.rotateSessionKey(openid): WeChat gave the player a new session_key; your server still holds the old one';
  });
  lever('/expire-access-token', 'wechat', () => {
    mock.expireAccessTokens();
    return 'mock.expireAccessTokens(): the access token your server holds now answers 42001';
  });
  lever('/rotate-signing-secret', 'server', () => levers.rotateSigningSecret());
  api.post('/wechat', (req, res, next) => {
    const wanted = (req.body as { mode?: unknown } | undefined)?.mode;
    if (wanted !== 'normal' && wanted !== 'slow' && wanted !== 'down') {
      res.status(400).json({ message: 'mode must be normal, slow or down' });
      return;
    }
    mode = wanted;
    next();
  });
  lever('/wechat', 'wechat', () => setWeChat(mock, mode, levers.timeoutMs));
  api.use((_req, res) => {
    res.status(404).json({ message: 'no such playground call' });
  });
  return api;
}

/** Only this server by its own name (127.0.0.1 or localhost, on its port); no caching. */
const sameHostOnly: express.RequestHandler = (req, res, next) => {
  const port = req.socket.localPort;
  const host = req.headers.host;
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    res.status(403).json({ message: 'the playground answers only http://localhost or http://127.0.0.1 on its own port' });
    return;
  }
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * The browser's wx.login: a one-time code from the mock, as WeChat gives the game. Each redeemed
 * code gives the player a new session_key, as a wx.login() may: a login on one phone leaves the
 * other phone's session with a stale key.
 */
function issueCode(levers: Levers, device: string): string {
  const code = levers.mock.issueCode(PLAYER, { rotate: true });
  levers.learnFromMock();
  levers.log.publish({ type: 'login', device, code: shorten(code) });
  return code;
}

/** Faults (or heals) the WeChat calls of the story; the note saying what changed. */
function setWeChat(mock: MockWeChat, mode: WeChatMode, timeoutMs: number): string {
  mock.clearFaults();
  if (mode === 'slow') {
    // Later than the server waits: each call times out (login 504, checksession fails open).
    for (const path of FAULTED_PATHS) mock.fault(path, { delay: timeoutMs + 1000 });
    return `WeChat is slow: each call answers after ${(timeoutMs + 1000) / 1000} s, past the server's timeout of ${timeoutMs / 1000} s (mock.fault(path, { delay }))`;
  }
  if (mode === 'down') {
    for (const path of FAULTED_PATHS) mock.fault(path, { status: 502, body: 'Bad Gateway' });
    return 'WeChat is down: each call answers HTTP 502 (mock.fault(path, { status: 502 }))';
  }
  return 'WeChat is back to normal (mock.clearFaults())';
}
