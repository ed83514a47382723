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
// With WX_APPID, WX_APPSECRET and WX_SESSION_SECRET all set it serves the same example against
// the real WeChat API instead (WX_API_BASE overrides the address) and skips the walk-through. It
// checks the credentials with WeChat first: a wrong AppID or AppSecret exits 1 with WeChat's reason.
//
// Environment:
//   PORT              where the example listens on 127.0.0.1 (default 3000; 0 picks a free port)
//   DEMO_EXIT=1       stop right after the walk-through (or right after start-up, against WeChat)
//   DEMO_MOCK_SECRET  the mock WeChat's appSecret (default: random)
//
// The walk-through is a list of steps sharing one context; add a step to tell another story.
// It never prints a secret: tokens, codes and signatures are shortened, session_key and appSecret
// are never shown.
//
// wx-session/client is imported by name: it resolves to dist/ (package exports), so the demo runs
// after `npm run build`, as `npm start` does.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { signPayload, WxSessionError, type WxSessionOptions } from 'wx-session';
import { createSessionClient, type SessionClient } from 'wx-session/client';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { demoWx, shorten, showJson, watchWx, type Exchange, type WatchedWx } from './demo-wx.js';
import { createApp, optionsFromEnv, verifiedCore } from './express/server.js';

export { shorten } from './demo-wx.js';

/** The player of the walk-through, as the mock WeChat knows them. */
const OPENID = 'oDemoPlayer00000000000000001';
/** A second player, for the code printed to try the server by hand. */
const SECOND_OPENID = 'oDemoPlayer00000000000000002';
/** Where wx-session/client keeps its token in wx storage (its default storageKey). */
const TOKEN_STORAGE_KEY = 'wx-session-token';

// ---------------------------------------------------------------------------------------------
// The walk-through

/** What the steps share: where the game server is, the mock WeChat, what earlier steps learned. */
export interface DemoContext {
  baseUrl: string;
  mock: MockWeChat;
  /** The game's `wx` (fake, watched) and its wx-session/client, made on first use. */
  wx?: WatchedWx;
  client?: SessionClient;
  /** How many of mock.calls (the game server's calls to WeChat) were printed. */
  wechatPrinted?: number;
  /** The session token the game holds, once logged in. */
  token?: string;
  openid?: string;
  /** Prints one detail line under the current step. */
  log(line: string): void;
}

export interface Step {
  /** Printed as `N. title`. */
  title: string;
  /** Throws (anything) when the server did not answer as the protocol says. */
  run(ctx: DemoContext): Promise<void>;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON body when it is an object, else `{}`. */
  json: Record<string, unknown>;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function checkStatus(answer: Answer, status: number): void {
  check(answer.status === status, `expected HTTP ${status}, got ${answer.status} ${answer.text}`);
}

/**
 * One HTTP request sent by hand with fetch, not through the client (to show the server's own
 * answer), printed as `-> request` and `<- answer`.
 */
async function request(ctx: DemoContext, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['X-WX-Session'] = options.token;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  const sent = [`-> ${method} ${path}`];
  if (options.token !== undefined) sent.push(`X-WX-Session: ${shorten(options.token)}`);
  if (options.json !== undefined) sent.push(showJson(options.json));
  ctx.log(sent.join('  '));

  const response = await fetch(ctx.baseUrl + path, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const json = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  logWeChatCalls(ctx);
  ctx.log(`<- ${response.status}${text === '' ? '' : `  ${parsed === undefined ? text : showJson(parsed)}`}`);
  return { status: response.status, headers: response.headers, text, json };
}

/** Prints the calls the game server made to WeChat since the last ones printed. */
function logWeChatCalls(ctx: DemoContext): void {
  const calls = ctx.mock.calls;
  for (const call of calls.slice(ctx.wechatPrinted ?? 0)) {
    ctx.log(`      server -> WeChat: ${call.method} ${call.path}  errcode ${call.errcode ?? '(none)'}`);
  }
  ctx.wechatPrinted = calls.length;
}

/**
 * The game: the player's fake `wx`, watched (its lines indented under the step's, with the
 * server's calls to WeChat printed before each answer), and the client on it.
 */
function game(ctx: DemoContext): { wx: WatchedWx; client: SessionClient } {
  if (!ctx.wx || !ctx.client) {
    ctx.wechatPrinted = ctx.mock.calls.length;
    ctx.wx = watchWx(demoWx(ctx.mock, OPENID), (line) => ctx.log(`   ${line}`), { beforeAnswer: () => logWeChatCalls(ctx) });
    ctx.client = createSessionClient({ baseUrl: ctx.baseUrl, wx: ctx.wx });
  }
  return { wx: ctx.wx, client: ctx.client };
}

/** The game, once the first step logged it in. */
function loggedIn(ctx: DemoContext): { wx: WatchedWx; client: SessionClient; token: string } {
  check(ctx.token !== undefined && ctx.client !== undefined, 'no token: the first step did not run');
  return { ...game(ctx), token: ctx.token };
}

/** What one exchange was, for a failure message. */
function describe(exchange: Exchange | undefined): string {
  if (!exchange) return 'nothing';
  return `${exchange.method} ${exchange.path} -> ${exchange.status}${exchange.errorCode ? ` ${exchange.errorCode}` : ''}${exchange.sentCode ? ' (with X-WX-Code)' : ''}`;
}

export const steps: readonly Step[] = [
  {
    title: 'The first request logs in by itself: client.request GET /me runs wx.login() and POST /wx/login first',
    async run(ctx) {
      const { wx, client } = game(ctx);
      check(client.token() === undefined, 'the game already holds a token');
      ctx.log("client.request({ url: '/me' }) with no token stored; under the hood:");
      const res = await client.request<{ openid?: unknown }>({ url: '/me' });
      const [login, me, ...more] = wx.exchanges;
      check(wx.logins === 1, `expected one wx.login(), got ${wx.logins}`);
      check(login?.method === 'POST' && login.path === '/wx/login' && login.status === 200, `expected POST /wx/login -> 200 first, got ${describe(login)}`);
      check(me?.method === 'GET' && me.path === '/me' && me.status === 200 && !me.sentCode, `expected GET /me -> 200 next, got ${describe(me)}`);
      check(more.length === 0, `unexpected requests: ${more.map(describe).join(', ')}`);
      check(res.statusCode === 200, `client.request resolved ${res.statusCode}, not 200`);
      check(res.data.openid === OPENID, `GET /me answered openid ${String(res.data.openid)}, not ${OPENID}`);
      const token = client.token();
      check(token !== undefined && me.token === token, 'GET /me did not carry the token the login gave');
      check(wx.getStorageSync(TOKEN_STORAGE_KEY) === token, 'the client did not keep the token in wx storage');
      // WeChat gave the server a session_key for this player: it must not reach the game.
      const sessionKey = ctx.mock.sessionKeyOf(OPENID);
      const loginAnswer = JSON.stringify(login.data);
      check(sessionKey !== undefined && !loginAnswer.includes(sessionKey), 'the login answer leaked the session_key');
      check(!/session_?key/i.test(loginAnswer), 'the login answer mentions a session key');
      ctx.token = token;
      ctx.openid = OPENID;
      ctx.log(`client.request resolved 200: the server knows the player as openid ${OPENID}`);
      ctx.log('the client keeps the token in wx storage for the next requests; the session_key stays on the server');
    },
  },
  {
    title: 'Save a score: POST /me/score stores it in session.data, GET /me shows it',
    async run(ctx) {
      const { client } = loggedIn(ctx);
      ctx.log("client.request({ url: '/me/score', method: 'POST', data: { score: 4200 } })");
      const saved = await client.request<{ score?: unknown }>({ url: '/me/score', method: 'POST', data: { score: 4200 } });
      check(saved.statusCode === 200, `POST /me/score answered ${saved.statusCode}`);
      check(saved.data.score === 4200, 'POST /me/score did not answer the score');
      ctx.log("client.request({ url: '/me' })");
      const me = await client.request<{ data?: { score?: unknown } }>({ url: '/me' });
      check(me.statusCode === 200, `GET /me answered ${me.statusCode}`);
      check(me.data.data?.score === 4200, 'GET /me does not show the saved score');
      ctx.log('saved: session.data.score is 4200 in the session store; no new login was needed');
    },
  },
  {
    title: "Write WeChat user storage: POST /me/storage makes a call to WeChat signed with the session_key",
    async run(ctx) {
      const { client } = loggedIn(ctx);
      ctx.log("client.request({ url: '/me/storage', method: 'POST', data: { key: 'best', value: 4200 } })");
      const res = await client.request({ url: '/me/storage', method: 'POST', data: { key: 'best', value: 4200 } });
      check(res.statusCode === 204, `POST /me/storage answered ${res.statusCode} ${showJson(res.data)}`);
      const stored = ctx.mock.userStorage(OPENID);
      check(stored.best === '4200', `WeChat's user storage holds ${JSON.stringify(stored)}`);
      ctx.log(`WeChat's user storage for the player, mock.userStorage(openid): ${JSON.stringify(stored)}`);

      const signed = ctx.mock.callsTo('/wxa/set_user_storage').at(-1);
      check(signed !== undefined && signed.errcode === 0, 'WeChat got no successful set_user_storage call');
      const { openid, sig_method: sigMethod, signature } = signed.query;
      check(signed.body !== undefined, 'the set_user_storage call has no body');
      check(openid === OPENID, `the signed call names openid ${String(openid)}`);
      check(sigMethod === 'hmac_sha256', `the signed call has sig_method ${String(sigMethod)}`);
      check(typeof signature === 'string' && /^[0-9a-f]{64}$/.test(signature), 'the signed call has no hex signature');
      // The demo can check the signature because the mock knows the key; it does not print it.
      const sessionKey = ctx.mock.sessionKeyOf(OPENID);
      check(sessionKey !== undefined && signature === signPayload(signed.body, sessionKey), 'the signature is not hmac_sha256(session_key, body)');
      ctx.log(`the call in the mock's log: POST /wxa/set_user_storage  ${signed.body}`);
      ctx.log(`   query: openid=${openid}  sig_method=${sigMethod}  signature=${shorten(signature)}  (access_token not shown)`);
      ctx.log('signature = hex(hmac_sha256(session_key, body)), made on the server: checked; the session_key never left it');
    },
  },
  {
    title: 'The game logs in on a second device: the stale session_key is repaired with X-WX-Code, and the token stays the same',
    async run(ctx) {
      const { wx, client, token } = loggedIn(ctx);
      const before = client.token();
      check(before === token, 'the client holds another token than the one it logged in with');
      ctx.mock.rotateSessionKey(OPENID);
      ctx.log("mock.rotateSessionKey(openid): WeChat gave the player a new session_key, as a wx.login() on another device does;");
      ctx.log('the server still holds the old one, and checks it with WeChat on every request in this demo');
      const seen = wx.exchanges.length;
      const logins = wx.logins;
      ctx.log("client.request({ url: '/me' }); under the hood:");
      const res = await client.request<{ data?: { score?: unknown } }>({ url: '/me' });
      const [refused, retried, ...more] = wx.exchanges.slice(seen);
      check(
        refused?.path === '/me' && refused.status === 401 && refused.errorCode === 'WX_SESSION_KEY_EXPIRED' && !refused.sentCode,
        `expected GET /me -> 401 WX_SESSION_KEY_EXPIRED first, got ${describe(refused)}`,
      );
      check(wx.logins === logins + 1, `expected one wx.login() for a fresh code, got ${wx.logins - logins}`);
      check(retried?.path === '/me' && retried.sentCode && retried.status === 200, `expected the retry GET /me with X-WX-Code -> 200, got ${describe(retried)}`);
      check(more.length === 0, `expected one retry only, also got ${more.map(describe).join(', ')}`);
      check(res.statusCode === 200, `client.request resolved ${res.statusCode}, not 200`);
      check(res.data.data?.score === 4200, 'the repaired session lost its data');
      const after = client.token();
      check(after !== undefined && after === before && retried.token === before, 'the token changed: the session was not repaired in place');
      ctx.log(`same token: before ${shorten(before)}, after ${shorten(after)}`);
      ctx.log('the server redeemed the code, found the same openid and swapped in the new session_key:');
      ctx.log('no new login, same session, session.data kept (score 4200)');
    },
  },
  {
    title: 'Log out with client.logout(), then the old token is refused: 401 WX_SESSION_EXPIRED',
    async run(ctx) {
      const { wx, client, token } = loggedIn(ctx);
      const seen = wx.exchanges.length;
      ctx.log('client.logout(); under the hood:');
      await client.logout();
      const [out, ...more] = wx.exchanges.slice(seen);
      check(out?.method === 'POST' && out.path === '/wx/logout' && out.status === 204 && out.token === token, `expected POST /wx/logout with the token -> 204, got ${describe(out)}`);
      check(more.length === 0, `unexpected requests: ${more.map(describe).join(', ')}`);
      check(client.token() === undefined && wx.getStorageSync(TOKEN_STORAGE_KEY) === '', 'the client still holds the token');
      ctx.log('the server destroyed the session; the client forgot the token (wx storage cleared)');
      ctx.log('the old token, sent by hand with fetch (the client no longer has it):');
      const answer = await request(ctx, 'GET', '/me', { token });
      checkStatus(answer, 401);
      check(answer.json.code === 'WX_SESSION_EXPIRED', `expected WX_SESSION_EXPIRED, got ${String(answer.json.code)}`);
      const challenge = answer.headers.get('www-authenticate');
      check(challenge?.includes('error="invalid_token"'), `unexpected WWW-Authenticate: ${String(challenge)}`);
      ctx.log(`WWW-Authenticate: ${challenge}`);
      ctx.log('on a 401 WX_SESSION_* answer, client.request calls wx.login() again and retries once');
      ctx.token = undefined;
    },
  },
];

/** Runs the steps in order, printing each; stops at the first failure. True when all passed. */
export async function runSteps(list: readonly Step[], ctx: Omit<DemoContext, 'log'>, print: (line: string) => void): Promise<boolean> {
  const context: DemoContext = { ...ctx, log: (line) => print(`   ${line}`) };
  for (const [index, step] of list.entries()) {
    print('');
    print(`${index + 1}. ${step.title}`);
    try {
      await step.run(context);
    } catch (error) {
      print(`   FAILED: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Start-up and shutdown

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

async function start(app: ReturnType<typeof createApp>, port: number): Promise<string> {
  const server = createServer(app);
  running.push(() => closeServer(server));
  return listen(server, port);
}

async function demoWithMock(env: NodeJS.ProcessEnv, port: number): Promise<number | null> {
  const mock = await startMockWeChat(env.DEMO_MOCK_SECRET ? { appSecret: env.DEMO_MOCK_SECRET } : {});
  running.push(() => mock.close());
  const options: WxSessionOptions = {
    appId: mock.appId,
    appSecret: mock.appSecret,
    secret: randomBytes(32).toString('base64url'), // a new one per run: old tokens die with the demo
    apiBase: mock.url,
    // Check the session_key with WeChat on every request, so the walk-through shows the check
    // (and the stale key right after the rotation). Production keeps the default, 1800 s between
    // checks of one session: each check is a call to WeChat.
    checkSessionKey: { interval: 0 },
    logger: console,
  };
  // As the example's main() does: the credentials are checked with (the mock) WeChat first.
  const baseUrl = await start(createApp(await verifiedCore(options)), port);

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
