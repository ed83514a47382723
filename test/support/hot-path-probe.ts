// Counts what the authenticated `GET /me` does per request, on each framework, for wx-session and
// for the floor (harness/hot-path-apps.ts): run as a child of test/hot-path.test.ts,
//   node --expose-gc --min-semi-space-size=128 --max-semi-space-size=128 --import tsx test/support/hot-path-probe.ts
// (`npm run hot-path`: a young generation of 128 MB from the start, so no GC interrupts a run)
// and prints one line `RESULT {json}`. Counted over REQUESTS requests, after a warmup, on one
// keep-alive connection over loopback:
//   - bytes: the JS heap allocated (used heap after minus before, with no GC in between: a run
//     that saw one is measured again), by the server and this probe's client alike;
//   - promises: promises created (an async_hooks PROMISE init each);
//   - store calls (peek, get, set, update, touch, destroy) and HMACs computed (crypto.createHmac).
// The client and Node's HTTP server cost the same in both ways, so wx minus floor is ours.
import crypto from 'node:crypto';
import { createHook } from 'node:async_hooks';
import { syncBuiltinESMExports } from 'node:module';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { createWxSession, MemoryStore, type SessionRecord } from '../../src/index.js';
import { startMockWeChat } from '../../src/testing/index.js';
import { wxSession as express } from '../../adapters/express.js';
import { wxSession as koa } from '../../adapters/koa.js';
import { wxSession as fastify } from '../../adapters/fastify.js';
import { wxSession as hono } from '../../adapters/hono.js';
import { FRAMEWORKS, floorToken, hotPathServer, type Framework } from '../../harness/hot-path-apps.js';

export const REQUESTS = Number(process.env.HOT_PATH_REQUESTS) || 3000;
const WARMUP = 10_000;
const OPENID = 'oHotPath00000000000000000000';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('hot-path-probe needs node --expose-gc');

// ---- counters

const calls = { peek: 0, get: 0, set: 0, update: 0, touch: 0, destroy: 0, hmac: 0, promise: 0 };
type Calls = typeof calls;
const zero = () => {
  for (const key of Object.keys(calls) as Array<keyof Calls>) calls[key] = 0;
};

const createHmac = crypto.createHmac;
crypto.createHmac = ((...args: Parameters<typeof createHmac>) => {
  calls.hmac++;
  return createHmac(...args);
}) as typeof createHmac;
syncBuiltinESMExports(); // `import { createHmac } from 'node:crypto'` sees the counting one too

const promises = createHook({
  init(_id, type) {
    if (type === 'PROMISE') calls.promise++;
  },
});

class CountingStore extends MemoryStore {
  override peek(id: string) {
    calls.peek++;
    return super.peek(id);
  }
  override get(id: string) {
    calls.get++;
    return super.get(id);
  }
  override set(id: string, record: SessionRecord, ttlMs: number) {
    calls.set++;
    return super.set(id, record, ttlMs);
  }
  override update(id: string, record: SessionRecord, ttlMs: number) {
    calls.update++;
    return super.update(id, record, ttlMs);
  }
  override touch(id: string, ttlMs: number) {
    calls.touch++;
    return super.touch(id, ttlMs);
  }
  override destroy(id: string) {
    calls.destroy++;
    return super.destroy(id);
  }
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

const heapUsed = () => v8.getHeapSpaceStatistics().reduce((sum, space) => sum + space.space_used_size, 0);

// ---- a client that costs the same whatever answers

/** GET /me with `token`, over and over on one connection; each answer read whole before the next. */
class Client {
  readonly #socket: Socket;
  readonly #request: Buffer;
  #pending: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;
  #buffered = '';

  constructor(port: number, token: string) {
    this.#request = Buffer.from(`GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-WX-Session: ${token}\r\n\r\n`, 'latin1');
    this.#socket = connect(port, '127.0.0.1');
    this.#socket.setEncoding('latin1');
    this.#socket.on('data', (chunk: string) => this.#read(chunk));
    this.#socket.on('error', (error) => this.#pending?.reject(error));
  }

  #read(chunk: string): void {
    this.#buffered += chunk;
    const head = this.#buffered.indexOf('\r\n\r\n');
    if (head < 0) return;
    const length = /content-length: (\d+)/i.exec(this.#buffered.slice(0, head));
    if (!length || this.#buffered.length < head + 4 + Number(length[1])) return;
    const status = Number(this.#buffered.slice(9, 12));
    this.#buffered = '';
    const pending = this.#pending!;
    this.#pending = undefined;
    pending.resolve(status);
  }

  get(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(this.#request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

async function run(client: Client, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const status = await client.get();
    if (status !== 200) throw new Error(`GET /me answered ${status}`);
  }
}

export interface Counts extends Calls {
  /** Heap bytes allocated per request. */
  bytes: number;
}

/** Per-request counts over REQUESTS requests, measured again (up to 5 times) when a GC interrupted. */
async function measure(client: Client): Promise<Counts> {
  for (let attempt = 0; ; attempt++) {
    gc!();
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
    const seen = gcs;
    zero();
    const before = heapUsed();
    promises.enable();
    await run(client, REQUESTS);
    promises.disable();
    const bytes = heapUsed() - before;
    // GC entries reach the observer a turn or two later.
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    if (gcs === seen || attempt === 4) {
      const per = Object.fromEntries(Object.entries(calls).map(([key, n]) => [key, n / REQUESTS])) as Calls;
      return { ...per, bytes: Math.round(bytes / REQUESTS) };
    }
  }
}

/** The middle of three measures, key by key: what a run costs without the noise of JIT or GC timing. */
function middle(runs: Counts[]): Counts {
  const keys = Object.keys(runs[0]!) as Array<keyof Counts>;
  return Object.fromEntries(keys.map((key) => [key, runs.map((run) => run[key]).sort((a, b) => a - b)[1]!])) as unknown as Counts;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function probe(framework: Framework): Promise<Record<'floor' | 'wx', Counts>> {
  const mock = await startMockWeChat();
  try {
    const core = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret: 'hot-path-signing-secret-0123456789', checkSessionKey: false, store: new CountingStore() });
    const { token } = await core.login(mock.issueCode(OPENID));
    const floorTokenValue = floorToken();
    const floor = new Map([[floorTokenValue, { openid: OPENID }]]);
    const clients: Partial<Record<'floor' | 'wx', Client>> = {};
    const servers: Server[] = [];
    try {
      for (const way of ['floor', 'wx'] as const) {
        const server = await hotPathServer(framework, way, { openid: OPENID, floor, core, adapters: { express, koa, fastify, hono } });
        servers.push(server);
        clients[way] = new Client(await listen(server), way === 'wx' ? token : floorTokenValue);
        await run(clients[way], WARMUP);
      }
      // Floor and wx in turn, three times, so both see the same state of the process.
      const runs: { floor: Counts[]; wx: Counts[] } = { floor: [], wx: [] };
      for (let round = 0; round < 3; round++) {
        runs.floor.push(await measure(clients.floor!));
        runs.wx.push(await measure(clients.wx!));
      }
      return { floor: middle(runs.floor), wx: middle(runs.wx) };
    } finally {
      for (const client of Object.values(clients)) client.close();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  } finally {
    await mock.close();
  }
}

const wanted = process.env.HOT_PATH_FRAMEWORKS?.split(',') ?? FRAMEWORKS;
const results: Record<string, Record<'floor' | 'wx', Counts>> = {};
for (const framework of FRAMEWORKS.filter((f) => wanted.includes(f))) results[framework] = await probe(framework);
console.log(`per request, over ${REQUESTS} requests (the middle of three runs each); "over" is wx-session minus the floor:`);
console.log('framework  store reads  writes  HMACs  promises (floor, over)  heap bytes (floor, over)');
for (const [framework, { floor, wx }] of Object.entries(results)) {
  const writes = wx.set + wx.update + wx.touch + wx.destroy;
  console.log(`${framework.padEnd(9)}  ${String(wx.peek + wx.get).padStart(11)}  ${String(writes).padStart(6)}  ${String(wx.hmac).padStart(5)}  ${`${floor.promise.toFixed(1)}, +${(wx.promise - floor.promise).toFixed(1)}`.padStart(22)}  ${`${floor.bytes}, +${wx.bytes - floor.bytes}`.padStart(24)}`);
}
console.log(`RESULT ${JSON.stringify({ requests: REQUESTS, node: process.version, results })}`);
process.exit(0);
