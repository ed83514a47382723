// What `npm start` runs: the Express example (examples/express/server.ts) in front of an
// embedded mock WeChat, then a scripted game that walks through the wire protocol with
// wx-session/client, the library's own client for mini-game code, on a fake `wx`
// (examples/demo-wx.ts: codes from the mock, real HTTP with fetch, in-memory storage). Each step
// prints what the client did under the hood: each wx.login() and each HTTP exchange.
//
// The story: the first request logs in by itself; a score is saved in the session; WeChat user
// storage is written with a call signed with the session_key; the player logs in on a second
// device, so the session_key goes stale and the client repairs the session with X-WX-Code,
// keeping its token; logout, and the refused token afterwards. It then keeps serving until Ctrl-C.
//
// The same server also serves the playground (examples/demo-playground.ts, the page in
// examples/playground/): its address is the first line printed. In a browser, a game runs
// wx-session/client against this server and the same mock, with buttons for each part of the
// story and a live sequence diagram of every exchange.
//
// With WX_APPID, WX_APPSECRET and WX_SESSION_SECRET all set it serves the same example against
// the real WeChat API instead (WX_API_BASE overrides the address) and skips the walk-through. It
// checks the credentials with WeChat first: a wrong AppID or AppSecret exits 1 with WeChat's reason.
//
// Environment:
//   PORT              where the example and the playground listen on 127.0.0.1 (default 3000; 0 picks a free port)
//   DEMO_EXIT=1       stop right after the walk-through (or right after start-up, against WeChat)
//   DEMO_MOCK_SECRET  the mock WeChat's appSecret (default: random)
//
// The walk-through is examples/demo-steps.ts (the story, step by step), run by
// examples/demo-runner.ts (numbering, printing, stopping at the first failure); this file starts
// the servers, runs it and keeps serving. It never prints a secret: tokens, codes and signatures
// are shortened, session_key and appSecret are never shown.
//
// wx-session is imported by name, as a user's program does (inside this repository tsx maps the
// name to src/ through tsconfig.json's paths).
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createWxSession, MemoryStore, WxSessionError, type WxSessionOptions } from 'wx-session';
import { startMockWeChat } from 'wx-session/testing';
import { createPlayground } from './demo-playground.js';
import { runSteps } from './demo-runner.js';
import { steps } from './demo-steps.js';
import { createApp, optionsFromEnv, verifiedCore } from './express/server.js';

/** A second player, for the code printed to try the server by hand. */
const SECOND_OPENID = 'oDemoPlayer00000000000000002';
/**
 * How long the server waits for WeChat, in ms: shorter than the default 5 s so the playground's
 * slow WeChat shows its 504 (and checksession failing open) without a long wait.
 */
const WECHAT_TIMEOUT_MS = 1500;

/** A start-up problem worth one clear line, not a stack trace. */
class DemoError extends Error {}

function parsePort(value: string | undefined): number {
  const port = value === undefined || value === '' ? 3000 : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DemoError(`PORT must be a whole number from 0 to 65535, not "${value}"`);
  return port;
}

async function listen(server: Server, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new DemoError(`port ${port} is already in use. Stop what is using it, or choose another port: PORT=3001 npm start (PORT=0 picks a free one)`));
      } else if (error.code === 'EACCES') {
        reject(new DemoError(`no permission to listen on port ${port}; choose a port above 1023, e.g. PORT=3000 npm start`));
      } else reject(error);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Closers of what is running, newest last. */
const running: Array<() => Promise<void>> = [];

async function stop(exitCode: number): Promise<void> {
  process.exitCode = exitCode;
  for (const close of running.splice(0).reverse()) await close().catch(() => {});
  // Everything is closed, so the process ends by itself; this only guards against a stray handle.
  setTimeout(() => process.exit(exitCode), 1000).unref();
}

async function start(listener: RequestListener, port: number): Promise<string> {
  const server = createServer(listener);
  running.push(() => closeServer(server));
  return listen(server, port);
}

async function demoWithMock(env: NodeJS.ProcessEnv, port: number): Promise<number | null> {
  const mock = await startMockWeChat(env.DEMO_MOCK_SECRET ? { appSecret: env.DEMO_MOCK_SECRET } : {});
  running.push(() => mock.close());
  const secret = randomBytes(32).toString('base64url'); // a new one per run: old tokens die with the demo
  const options: WxSessionOptions = {
    appId: mock.appId,
    appSecret: mock.appSecret,
    secret,
    apiBase: mock.url,
    // Check the session_key with WeChat on every request, so the walk-through shows the check
    // (and the stale key right after the rotation). Production keeps the default, 1800 s between
    // checks of one session: each check is a call to WeChat.
    checkSessionKey: { interval: 0 },
    timeout: WECHAT_TIMEOUT_MS,
    // Its own store, so the playground's signing-secret rotation can start a second core on it.
    store: new MemoryStore(),
    logger: console,
  };
  // As the example's main() does: the credentials are checked with (the mock) WeChat first.
  const playground = createPlayground({
    mock,
    secret,
    app: createApp(await verifiedCore(options)),
    appWithSecrets: (secrets) => createApp(createWxSession({ ...options, secret: secrets })),
    timeoutMs: WECHAT_TIMEOUT_MS,
  });
  running.push(async () => playground.close());
  const baseUrl = await start(playground.listener, port);

  console.log(`Playground: http://localhost:${new URL(baseUrl).port}/  (open it in a browser: the login dance, drawn live)`);
  console.log('wx-session demo: the Express example with an embedded mock WeChat');
  console.log(`   mock WeChat   ${mock.url}   (appId ${mock.appId})`);
  console.log(`   game server   ${baseUrl}   (examples/express/server.ts)`);
  const passed = await runSteps(steps, { baseUrl, mock }, (line) => console.log(line));
  if (!passed) {
    console.error('\nwx-session demo: the walk-through failed (see the step above)');
    return 1;
  }
  console.log(`\nAll ${steps.length} steps passed.`);
  if (env.DEMO_EXIT === '1') return 0;
  // The mock only redeems codes it issued, so hand the reader one to try by hand.
  const code = mock.issueCode(SECOND_OPENID);
  console.log('Try it by hand (the code below is valid for 5 minutes, once):');
  console.log(`   curl -s -X POST -H 'Content-Type: application/json' -d '{"code":"${code}"}' ${baseUrl}/wx/login`);
  console.log(`   curl -s -H 'X-WX-Session: <token>' ${baseUrl}/me`);
  console.log(`   curl -s -X POST -H 'X-WX-Session: <token>' -H 'Content-Type: application/json' -d '{"key":"level","value":3}' ${baseUrl}/me/storage`);
  console.log(`Serving on ${baseUrl} — Ctrl-C to stop`);
  return null;
}

async function demoWithWeChat(env: NodeJS.ProcessEnv, port: number): Promise<number | null> {
  const options = optionsFromEnv(env);
  // Fails fast, as the example's main() does: a short secret throws here, and a wrong AppID or
  // AppSecret rejects with WeChat's reason (one stable_token call) before anything listens.
  const app = createApp(await verifiedCore(options));
  const baseUrl = await start(app, port);
  console.log(`wx-session demo: the Express example against WeChat at ${options.apiBase ?? 'https://api.weixin.qq.com'} (appId ${options.appId})`);
  console.log('WeChat accepted the AppID and AppSecret (core.verify()).');
  console.log('No walk-through: logins need codes from a real wx.login(). The routes:');
  console.log('   POST /wx/login    {"code":"<from wx.login()>"}       -> {"token","expiresIn","openid"}');
  console.log('   GET  /me          header X-WX-Session: <token>       -> {"openid","data"}');
  console.log('   POST /me/score    {"score":100} with the token       -> {"score":100}');
  console.log('   POST /me/storage  {"key":"level","value":3} with the token -> 204 (WeChat user storage, signed call)');
  console.log('   POST /wx/logout   with the token                     -> 204');
  console.log('   GET  /health');
  console.log('From the mini game:');
  console.log(`   import { createSessionClient } from 'wx-session/client';`);
  console.log(`   const client = createSessionClient({ baseUrl: '<this server>' });`);
  console.log(`   const { statusCode, data } = await client.request({ url: '/me' }); // logs in first when needed`);
  console.log('   wx.request only reaches the HTTPS domains configured for the mini game; while developing,');
  console.log('   turn off domain checking in the WeChat DevTools project settings. This demo listens on');
  console.log('   127.0.0.1 only; to reach it from a phone, run examples/express/server.ts (all interfaces).');
  if (env.DEMO_EXIT === '1') return 0;
  console.log(`Serving on ${baseUrl} — Ctrl-C to stop`);
  return null;
}

/** Resolves to an exit code, or null to keep serving until a signal. */
async function main(env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  const port = parsePort(env.PORT);
  const wanted = ['WX_APPID', 'WX_APPSECRET', 'WX_SESSION_SECRET'] as const;
  const set = wanted.filter((name) => env[name]);
  if (set.length === wanted.length) return demoWithWeChat(env, port);
  if (set.length > 0) {
    const missing = wanted.filter((name) => !env[name]);
    console.log(`${set.join(' and ')} set, but not ${missing.join(' and ')}: using the embedded mock WeChat.\n`);
  }
  return demoWithMock(env, port);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log('\nStopping.');
      void stop(0);
    });
  }
  main().then(
    (code) => {
      if (code !== null) void stop(code);
    },
    (error: unknown) => {
      const message = error instanceof DemoError || error instanceof TypeError || error instanceof WxSessionError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`wx-session demo: ${message}`);
      void stop(1);
    },
  );
}
