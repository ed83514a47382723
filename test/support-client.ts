// Harness for the wx-session/client tests: the Express example app (examples/express/server.ts)
// on a real HTTP server in front of the mock WeChat, and a fake `wx` whose request/uploadFile do
// real HTTP (fetch, a hand-built multipart body), whose login takes codes from the mock, and whose
// storage is an in-memory Map.
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { WxApi, WxRequestOptions, WxUploadFileOptions } from 'wx-session/client';
import type { WxSessionOptions } from '../src/index.js';
import { errorReply } from '../src/http.js';
import { startMockWeChat, type MockIssueCodeOptions, type MockWeChat } from '../src/testing/index.js';
import { failOf, requestOverFetch } from '../examples/demo-wx.js';
import { createApp } from '../examples/express/server.js';
import { closeServer, coreOptions, listen } from './helpers.js';

/** One request the game server received, as it arrived. */
export interface ServerHit {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface GameServer {
  url: string;
  mock: MockWeChat;
  server: Server;
  /** Every request the game server received, in order. */
  hits: ServerHit[];
  hitsTo(method: string, path: string): ServerHit[];
  close(): Promise<void>;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** The parts of a multipart/form-data body: name -> { filename?, content }. */
export function parseMultipart(body: Buffer, contentType: string): Record<string, { filename?: string; content: string }> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error('no multipart boundary');
  const parts: Record<string, { filename?: string; content: string }> = {};
  const text = body.toString('latin1');
  for (const raw of text.split(`--${boundary[1] ?? boundary[2]}`).slice(1)) {
    if (raw.startsWith('--')) break;
    const split = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, split);
    const content = raw.slice(split + 4, raw.length - 2); // minus the CRLF before the next boundary
    const name = /name="([^"]*)"/.exec(head)?.[1];
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (name !== undefined) parts[name] = { ...(filename !== undefined ? { filename } : {}), content: Buffer.from(content, 'latin1').toString('utf8') };
  }
  return parts;
}

/**
 * createApp(options) from the Express example, plus a few routes for the tests, added after
 * createApp returned (they run after its routes; its error handler only sees errors):
 *   POST /upload             the session's openid and the multipart parts
 *   GET  /boom               500
 *   GET  /always-401         401 WX_SESSION_EXPIRED whatever the token
 *   GET  /reset              destroys the socket (a network failure)
 */
export async function startGameServer(extra: Partial<WxSessionOptions> = {}, mockGiven?: MockWeChat): Promise<GameServer> {
  const mock = mockGiven ?? (await startMockWeChat());
  const app = createApp(coreOptions(mock, extra));
  app.post('/upload', (req, res, next) => {
    if (!req.wxSession) {
      const reply = errorReply(req.wxSessionError ?? 'WX_SESSION_MISSING');
      res.status(reply.status).set(reply.headers).json(reply.body);
      return;
    }
    const openid = req.wxSession.openid;
    readAll(req).then((body) => {
      res.json({ openid, parts: parseMultipart(body, String(req.headers['content-type'])) });
    }, next);
  });
  app.get('/boom', (_req, res) => {
    res.status(500).json({ code: 'INTERNAL_ERROR', message: 'boom' });
  });
  app.get('/always-401', (_req, res) => {
    res.status(401).json({ code: 'WX_SESSION_EXPIRED', message: 'always' });
  });
  app.get('/reset', (req) => {
    req.socket.destroy();
  });
  const hits: ServerHit[] = [];
  const { server, url } = await listen((req, res) => {
    hits.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, headers: { ...req.headers } });
    app(req, res);
  });
  return {
    url, mock, server, hits,
    hitsTo: (method, path) => hits.filter((hit) => hit.method === method && hit.path === path),
    async close() {
      await closeServer(server);
      if (!mockGiven) await mock.close();
    },
  };
}

export interface FakeWx extends WxApi {
  /** wx storage, in memory. */
  storage: Map<string, unknown>;
  /** Files `uploadFile` can send, by `filePath`. */
  files: Map<string, Buffer>;
  /** The WeChat user whose codes `login` returns. */
  openid: string;
  /** Options for the codes `login` issues next (e.g. `{ errcode: 45011 }`). */
  codeOptions?: MockIssueCodeOptions;
  /** When set, `login` fails with this errMsg. */
  loginFails?: string;
  /** How many times `login` was called. */
  loginCalls: number;
}

/** `x-wx-session-token` -> `X-Wx-Session-Token`: the client must read header names in any case. */
function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** A fake `wx` for one WeChat user (`openid`) on one device (`storage`). */
export function fakeWx(mock: MockWeChat, openid: string, storage = new Map<string, unknown>()): FakeWx {
  const fake: FakeWx = {
    storage,
    files: new Map(),
    openid,
    loginCalls: 0,

    login(options) {
      fake.loginCalls += 1;
      setImmediate(() => {
        if (fake.loginFails) options.fail?.({ errMsg: fake.loginFails });
        else options.success?.({ code: mock.issueCode(fake.openid, fake.codeOptions) });
      });
    },

    request(options: WxRequestOptions) {
      requestOverFetch(options, titleCase);
    },

    uploadFile(options: WxUploadFileOptions) {
      const file = fake.files.get(options.filePath);
      if (!file) {
        setImmediate(() => options.fail?.({ errMsg: `uploadFile:fail file not found ${options.filePath}` }));
        return;
      }
      const boundary = `----WxFakeBoundary${randomBytes(8).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const [name, value] of Object.entries(options.formData ?? {})) {
        chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${String(value)}\r\n`));
      }
      const filename = options.filePath.split('/').pop();
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.name}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
      chunks.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
      const headers = { ...options.header, 'content-type': `multipart/form-data; boundary=${boundary}` };
      fetch(options.url, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
        // WeChat's uploadFile answer: the body as text, and (per minigame-api-typings) no header.
        async (response) => options.success?.({ statusCode: response.status, data: await response.text() }),
        (error: unknown) => options.fail?.(failOf('uploadFile', error)),
      );
    },

    getStorageSync(key) {
      return storage.has(key) ? storage.get(key) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, value);
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };
  return fake;
}
