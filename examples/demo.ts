// What `npm start` runs: the Express example (examples/express/server.ts) in front of an
// embedded mock WeChat, then a scripted game client that walks through the wire protocol with
// real HTTP requests: login, an authenticated call, saving session data, logout, and the
// refused token afterwards. It then keeps serving until Ctrl-C.
//
// With WX_APPID, WX_APPSECRET and WX_SESSION_SECRET all set it serves the same example against
// the real WeChat API instead (WX_API_BASE overrides the address) and skips the walk-through.
//
// Environment:
//   PORT              where the example listens on 127.0.0.1 (default 3000; 0 picks a free port)
//   DEMO_EXIT=1       stop right after the walk-through (or right after start-up, against WeChat)
//   DEMO_MOCK_SECRET  the mock WeChat's appSecret (default: random)
//
// The walk-through is a list of steps sharing one context; add a step to tell another story.
// It never prints a secret: tokens are shortened, session_key and appSecret are never shown.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { WxSessionOptions } from 'wx-session';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { createApp, optionsFromEnv } from './express/server.js';

/** The player of the walk-through, as the mock WeChat knows them. */
const OPENID = 'oDemoPlayer00000000000000001';
/** A second player, for the code printed to try the server by hand. */
const SECOND_OPENID = 'oDemoPlayer00000000000000002';

// ---------------------------------------------------------------------------------------------
// The walk-through

/** What the steps share: where the game server is, the mock WeChat, what earlier steps learned. */
export interface DemoContext {
  baseUrl: string;
  mock: MockWeChat;
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

/** A token as the demo prints it: enough to recognise, not enough to use. */
export function shorten(token: string): string {
  return `${token.slice(0, 8)}… (${token.length} chars)`;
}

function show(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (key === 'token' && typeof v === 'string' ? shorten(v) : v));
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function checkStatus(answer: Answer, status: number): void {
  check(answer.status === status, `expected HTTP ${status}, got ${answer.status} ${answer.text}`);
}

/** One HTTP request from the game, printed as `-> request` and `<- answer`. */
async function request(ctx: DemoContext, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['X-WX-Session'] = options.token;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  const sent = [`-> ${method} ${path}`];
  if (options.token !== undefined) sent.push(`X-WX-Session: ${shorten(options.token)}`);
  if (options.json !== undefined) sent.push(show(options.json));
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
  ctx.log(`<- ${response.status}${text === '' ? '' : `  ${parsed === undefined ? text : show(parsed)}`}`);
  return { status: response.status, headers: response.headers, text, json };
}

function loggedIn(ctx: DemoContext): string {
  check(ctx.token !== undefined, 'no token: the login step did not run');
  return ctx.token;
}

export const steps: readonly Step[] = [
  {
    title: 'Log in: the game gets a code from wx.login() and posts it to /wx/login',
    async run(ctx) {
      const code = ctx.mock.issueCode(OPENID);
      ctx.log(`wx.login() gave the game the one-time code ${code}`);
      const answer = await request(ctx, 'POST', '/wx/login', { json: { code } });
      checkStatus(answer, 200);
      const { token, openid } = answer.json;
      check(typeof token === 'string' && token.length > 0, 'the login answer has no token');
      check(openid === OPENID, `the login answer names openid ${String(openid)}, not ${OPENID}`);
      // WeChat gave the server a session_key for this player: it must not reach the game.
      const sessionKey = ctx.mock.sessionKeyOf(OPENID);
      check(sessionKey !== undefined && !answer.text.includes(sessionKey), 'the login answer leaked the session_key');
      check(!/session_?key/i.test(answer.text), 'the login answer mentions a session key');
      ctx.token = token;
      ctx.openid = openid;
      ctx.log('the game stores the token; the session_key stays on the server');
    },
  },
  {
    title: 'Who am I: GET /me with the token in the X-WX-Session header',
    async run(ctx) {
      const answer = await request(ctx, 'GET', '/me', { token: loggedIn(ctx) });
      checkStatus(answer, 200);
      check(answer.json.openid === ctx.openid, 'GET /me answered another openid');
      ctx.log(`the server knows the player: openid ${ctx.openid}`);
    },
  },
  {
    title: 'Save a score: POST /me/score stores it in session.data, GET /me shows it',
    async run(ctx) {
      const token = loggedIn(ctx);
      const saved = await request(ctx, 'POST', '/me/score', { token, json: { score: 4200 } });
      checkStatus(saved, 200);
      check(saved.json.score === 4200, 'POST /me/score did not answer the score');
      const me = await request(ctx, 'GET', '/me', { token });
      checkStatus(me, 200);
      const data = me.json.data as { score?: unknown } | undefined;
      check(data?.score === 4200, 'GET /me does not show the saved score');
      ctx.log('saved: session.data.score is 4200 in the session store');
    },
  },
  {
    title: 'Log out: POST /wx/logout with the token answers 204',
    async run(ctx) {
      const answer = await request(ctx, 'POST', '/wx/logout', { token: loggedIn(ctx) });
      checkStatus(answer, 204);
      ctx.log('the server destroyed the session');
    },
  },
  {
    title: 'The old token is refused: GET /me answers 401 WX_SESSION_EXPIRED',
    async run(ctx) {
      const answer = await request(ctx, 'GET', '/me', { token: loggedIn(ctx) });
      checkStatus(answer, 401);
      check(answer.json.code === 'WX_SESSION_EXPIRED', `expected WX_SESSION_EXPIRED, got ${String(answer.json.code)}`);
      const challenge = answer.headers.get('www-authenticate');
      check(challenge?.includes('error="invalid_token"'), `unexpected WWW-Authenticate: ${String(challenge)}`);
      ctx.log(`WWW-Authenticate: ${challenge}`);
      ctx.log('a game that gets 401 WX_SESSION_* calls wx.login() again and retries once');
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
    logger: console,
  };
  const baseUrl = await start(createApp(options), port);

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
  console.log(`Serving on ${baseUrl} — Ctrl-C to stop`);
  return null;
}

async function demoWithWeChat(env: NodeJS.ProcessEnv, port: number): Promise<number | null> {
  const options = optionsFromEnv(env);
  const app = createApp(options); // validates the options: a short secret fails here
  const baseUrl = await start(app, port);
  console.log(`wx-session demo: the Express example against WeChat at ${options.apiBase ?? 'https://api.weixin.qq.com'} (appId ${options.appId})`);
  console.log('No walk-through: logins need codes from a real wx.login(). The routes:');
  console.log('   POST /wx/login    {"code":"<from wx.login()>"}       -> {"token","expiresIn","openid"}');
  console.log('   GET  /me          header X-WX-Session: <token>       -> {"openid","data"}');
  console.log('   POST /me/score    {"score":100} with the token       -> {"score":100}');
  console.log('   POST /wx/logout   with the token                     -> 204');
  console.log('   GET  /health');
  console.log('From the mini game:');
  console.log(`   wx.login({ success: ({ code }) => wx.request({ url: '<this server>/wx/login', method: 'POST', data: { code } }) })`);
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
      const message = error instanceof DemoError || error instanceof TypeError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`wx-session demo: ${message}`);
      void stop(1);
    },
  );
}
