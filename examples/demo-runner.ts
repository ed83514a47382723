// The walk-through of the `npm start` demo (examples/demo.ts), as a runner and what its steps
// share: a list of steps run in order on one context, each printed as `N. title` with its detail
// lines under it, stopping at the first step that throws. The game is the player's fake `wx`
// (examples/demo-wx.ts), watched so that each wx.login() and each HTTP exchange of
// wx-session/client is printed, and the client on it; `request` sends one request by hand with
// fetch to show the server's own answer. Nothing printed is a secret: tokens, codes and
// signatures are shortened.
import { createSessionClient, type SessionClient } from 'wx-session/client';
import type { MockWeChat } from 'wx-session/testing';
import { demoWx, shorten, showJson, watchWx, type Exchange, type WatchedWx } from './demo-wx.js';

/** The player of the walk-through, as the mock WeChat knows them. */
export const OPENID = 'oDemoPlayer00000000000000001';
/** Where wx-session/client keeps its token in wx storage (its default storageKey). */
export const TOKEN_STORAGE_KEY = 'wx-session-token';

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

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function checkStatus(answer: Answer, status: number): void {
  check(answer.status === status, `expected HTTP ${status}, got ${answer.status} ${answer.text}`);
}

/**
 * One HTTP request sent by hand with fetch, not through the client (to show the server's own
 * answer), printed as `-> request` and `<- answer`.
 */
export async function request(ctx: DemoContext, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
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
export function game(ctx: DemoContext): { wx: WatchedWx; client: SessionClient } {
  if (!ctx.wx || !ctx.client) {
    ctx.wechatPrinted = ctx.mock.calls.length;
    ctx.wx = watchWx(demoWx(ctx.mock, OPENID), (line) => ctx.log(`   ${line}`), { beforeAnswer: () => logWeChatCalls(ctx) });
    ctx.client = createSessionClient({ baseUrl: ctx.baseUrl, wx: ctx.wx });
  }
  return { wx: ctx.wx, client: ctx.client };
}

/** The game, once the first step logged it in. */
export function loggedIn(ctx: DemoContext): { wx: WatchedWx; client: SessionClient; token: string } {
  check(ctx.token !== undefined && ctx.client !== undefined, 'no token: the first step did not run');
  return { ...game(ctx), token: ctx.token };
}

/** What one exchange was, for a failure message. */
export function describeExchange(exchange: Exchange | undefined): string {
  if (!exchange) return 'nothing';
  return `${exchange.method} ${exchange.path} -> ${exchange.status}${exchange.errorCode ? ` ${exchange.errorCode}` : ''}${exchange.sentCode ? ' (with X-WX-Code)' : ''}`;
}

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
