// One app instance for the multi-instance tests and the soak, run as a child process:
//
//   node --import tsx harness/instance.ts
//
// Environment: PORT (0 = any free port), REDIS_PORT, MOCK_URL, WX_APPID, WX_APPSECRET, and optional
// CHECK_INTERVAL (checkSessionKey interval in seconds), PREFIX (RedisStore key prefix),
// STORE_TIMEOUT (RedisStore timeout in ms; the store's default otherwise), WX_SESSION_SECRET,
// WX_TIMEOUT (ms per WeChat call; default 1000, so the fault tests' upstream hangs end quickly),
// WX_OFFER_ID with WX_PAY_APPKEY and WX_PAY_SANDBOX_APPKEY (the `payment` option, env 0; without
// them the payment routes answer WX_CONFIG_ERROR).
// REDIS_CLUSTER_NODES=127.0.0.1:p1,127.0.0.1:p2,... instead of REDIS_PORT: the store runs on an
// ioredis Cluster made for failovers (the slot map re-read every second, so a failed-over or paused
// master is left within a second; one retry per command).
// The app has the routes of examples/express/server.ts (GET /health, GET /me, POST /me/score,
// POST /wx/login, POST /wx/logout) and the test apps' GET /me/balance and POST /me/buy
// (harness/player-routes.ts), built from the sources so it does not need dist/.
// Prints one line `{"ready":true,"port":N}` once listening; SIGTERM closes the server, the store
// and the Redis client and exits 0 (1 when that cleanup hangs). Exits when its stdin closes (the
// test process died).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { Cluster, Redis } from 'ioredis';
import { createWxSession, type WxSessionOptions } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { wxSession } from '../adapters/express.js';
import { jsonBody, playerRoute } from './player-routes.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`instance: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const clusterNodes = process.env.REDIS_CLUSTER_NODES
  ?.split(',')
  .map((address) => address.trim())
  .filter(Boolean)
  .map((address) => {
    const colon = address.lastIndexOf(':');
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  });
const redisPort = clusterNodes?.length ? 0 : Number(required('REDIS_PORT'));
const mockUrl = required('MOCK_URL');
const appId = required('WX_APPID');
const appSecret = required('WX_APPSECRET');
const secret = process.env.WX_SESSION_SECRET || 'test-signing-secret-0123456789abcdef';
const checkInterval = process.env.CHECK_INTERVAL;
const prefix = process.env.PREFIX || undefined;
const storeTimeout = process.env.STORE_TIMEOUT ? Number(process.env.STORE_TIMEOUT) : undefined;
const wechatTimeout = process.env.WX_TIMEOUT ? Number(process.env.WX_TIMEOUT) : 1000;
const offerId = process.env.WX_OFFER_ID;
const payment: WxSessionOptions['payment'] = offerId
  ? { offerId, appKey: { production: required('WX_PAY_APPKEY'), sandbox: required('WX_PAY_SANDBOX_APPKEY') }, env: 0 }
  : undefined;

// One retry per command and a quick reconnect: an outage surfaces at once; the store's own
// timeout bounds every operation anyway.
// On a Cluster: ioredis re-reads the slot map only on MOVED, CLUSTERDOWN or a closed connection
// unless told to on a timer, and would keep waiting on a paused master; slotsRefreshInterval ends that.
const client: Redis | Cluster = clusterNodes?.length
  ? new Cluster(clusterNodes, {
      slotsRefreshInterval: 1000,
      clusterRetryStrategy: (times) => Math.min(50 * times, 500),
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
    })
  : new Redis({ host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
client.on('error', () => {}); // connection errors are the store's to report (WX_STORE_UNAVAILABLE)

const store = new RedisStore({ client, ...(prefix ? { prefix } : {}), ...(storeTimeout ? { timeout: storeTimeout } : {}) });

const options: WxSessionOptions = {
  appId,
  appSecret,
  secret,
  apiBase: mockUrl,
  timeout: wechatTimeout,
  store,
  ...(payment ? { payment } : {}),
  ...(checkInterval !== undefined ? { checkSessionKey: { interval: Number(checkInterval) } } : {}),
  // The failure's message (no secret in it: SECURITY.md) follows in brackets when the core gives one.
  logger: {
    warn: (message: string, context?: { error?: unknown }) =>
      process.stderr.write(`warn: ${message}${typeof context?.error === 'string' ? ` [${context.error}]` : ''}\n`),
  },
};

const app = express();
const core = createWxSession(options);
const wx = wxSession(core);
app.use(wx);
app.get('/health', (_req, res) => {
  res.json({ ok: true, pid: process.pid });
});
app.get('/me', wx.required, (req, res) => {
  const session = req.wxSession!;
  res.json({ openid: session.openid, data: session.data });
});
app.post('/me/score', wx.required, express.json({ limit: '1kb' }), (req, res) => {
  const score: unknown = (req.body as { score?: unknown } | undefined)?.score;
  if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
    res.status(400).json({ code: 'BAD_SCORE', message: 'score must be a whole number >= 0' });
    return;
  }
  (req.wxSession!.data as { score?: number }).score = score;
  res.json({ score });
});
// The balance and the purchase, as the test apps mount them: a WxSessionError (e.g. 504
// WX_UPSTREAM_TIMEOUT, or 502 WX_UPSTREAM_ERROR with WeChat's errcode) is answered by wx.errors.
for (const [method, path] of [['GET', '/me/balance'], ['POST', '/me/buy']] as const) {
  const route = playerRoute(method, path)!;
  const handler: RequestHandler = (req, res, next) => {
    const answer = async () => {
      const body = method === 'GET' ? {} : await jsonBody(req, req.body);
      return route.run({ session: req.wxSession!, core, body, query: req.query as Record<string, unknown>, ip: req.ip ?? '' });
    };
    answer().then(({ status, body }) => res.status(status).json(body), next);
  };
  if (method === 'GET') app.get(path, wx.required, handler, wx.errors);
  else app.post(path, wx.required, handler, wx.errors);
}
const onError: ErrorRequestHandler = (error, _req, res, _next) => {
  const status = error?.expose && typeof error.status === 'number' ? error.status : 500;
  if (status === 500) console.error(error);
  res.status(status).json(status === 500 ? { code: 'INTERNAL_ERROR', message: 'internal error' } : { code: 'BAD_REQUEST', message: String(error.message) });
};
app.use(onError);

// Start once Redis answered (or after 5 s regardless: the store copes with a Redis that is down).
await new Promise<void>((resolve) => {
  if (client.status === 'ready') return resolve();
  const timer = setTimeout(resolve, 5000);
  client.once('ready', () => {
    clearTimeout(timer);
    resolve();
  });
});

const server = createServer(app);
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => resolve());
});
process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);

// The test holds our stdin open: should it die without stopping us, stdin ends and so do we.
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();

process.once('SIGTERM', () => {
  const hung = setTimeout(() => {
    console.error('instance: cleanup did not finish within 3 s');
    process.exit(1);
  }, 3000);
  hung.unref();
  void (async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await store.close();
    await client.quit();
    clearTimeout(hung);
    process.exit(0);
  })().catch((error: unknown) => {
    console.error('instance: cleanup failed', error);
    process.exit(1);
  });
});
