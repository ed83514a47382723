// For the wx-session/client tests: the Express example app (examples/express/server.ts) on a real
// HTTP server in front of the mock WeChat, with a few extra routes, and the fake `wx` of
// harness/fake-wx.ts for one user.
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { WxSessionOptions } from '../../src/index.js';
import { errorReply } from '../../src/http.js';
import { startMockWeChat, type MockWeChat } from '../../src/testing/index.js';
import { createApp } from '../../examples/express/server.js';
import { closeServer, coreOptions, listen } from '../../harness/apps.js';
import { mockWx, type MockWx } from '../../harness/fake-wx.js';

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

/** The client tests' fake `wx`: harness/fake-wx.ts's, for one user, with settable openid and code options. */
export type { MockWx as FakeWx } from '../../harness/fake-wx.js';

/** `x-wx-session-token` -> `X-Wx-Session-Token`: the client must read header names in any case. */
function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** A fake `wx` for one WeChat user (`openid`) on one device (`storage`); answer header names come in Title-Case. */
export function fakeWx(mock: MockWeChat, openid: string, storage = new Map<string, unknown>()): MockWx {
  return mockWx(mock, openid, { storage, headerName: titleCase });
}
