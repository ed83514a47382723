// The secrets witness: for the whole run of the suite, it sees everything wx-session could leak a
// secret through, and fails the test during which a secret showed up (issue 6, "Secrets and
// timing"; SECURITY.md, "Secrets in logs").
//
// What it sees:
//   - every HTTP answer any server in this process writes (status, headers, body), except the
//     mock WeChat's own answers, which is where secrets legitimately come from;
//   - every write to stdout and stderr (console.*, the reporter, anything a test prints), and
//     what every child process the tests spawn writes to a piped stdout or stderr (the app
//     instances of the multi-instance and soak tests, the examples, the demo);
//   - every line given to a test logger (captureLogger in test/support/keys.ts calls `witnessLog`);
//   - every WxSessionError constructed, by the src build and by the dist builds: message, cause
//     chain and JSON.
// Which secrets it looks for, harvested as they come into being:
//   - every session_key and access_token the mock WeChat answers with;
//   - every app secret sent to the mock (the `secret` query parameter of jscode2session);
//   - every payment AppKey (production and sandbox) of a mock started in this process, which the
//     mock publishes on the diagnostics channel SECRETS_CHANNEL (AppKeys never cross the wire);
//   - every token-signing secret, taken from cookie-signature's `sign` as the core calls it.
// Secrets are looked for as they are, JSON-escaped and URL-encoded (harness/secret-scan.ts). After
// each test the texts seen since the previous test are searched against every secret harvested so
// far, then dropped.
import { ServerResponse } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import { subscribe } from 'node:diagnostics_channel';
import { SECRETS_CHANNEL } from '../../src/testing/mock-wechat.js';
import { WxSessionError } from '../../src/errors.js';
import { SecretScanner, type SecretHit } from '../../harness/secret-scan.js';

const require = createRequire(import.meta.url);

/** What the API paths of WeChat, Douyin and QQ look like: answers on these are the mock's, and harvested. */
const WECHAT_PATH = /^\/(?:(?:sns|cgi-bin|wxa)\/|mgplatform\/api\/apps\/|api\/(?:getToken|openDataContext\/))/;
export type SecretKind = 'session_key' | 'access_token' | 'appSecret' | 'appKey' | 'signing secret';

interface Seen {
  where: string;
  text: string;
}

const scanner = new SecretScanner<SecretKind>();
let pending: Seen[] = [];
const counts = { answers: 0, wechatAnswers: 0, logWrites: 0, errors: 0, scans: 0 };

export function addSecret(value: unknown, kind: SecretKind): void {
  scanner.add(value, kind);
}

function see(where: string, text: string): void {
  if (text) pending.push({ where, text });
}

/** For test loggers: everything they are given is searched like a log line. */
export function witnessLog(where: string, parts: readonly unknown[]): void {
  counts.logWrites += 1;
  see(where, parts.map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 8, breakLength: Infinity }))).join(' '));
}

export type Leak = SecretHit<SecretKind>;

/** Searches `text` for every secret harvested so far (the secret masked in what it returns). */
export function findSecrets(text: string, where = 'text'): Leak[] {
  return scanner.find(text, where);
}

/** Searches what was seen since the last call, then forgets it. */
export function scanPending(): Leak[] {
  const batch = pending;
  pending = [];
  counts.scans += 1;
  const leaks: Leak[] = [];
  for (const { where, text } of batch) leaks.push(...findSecrets(text, where));
  return leaks;
}

export function witnessCounts(): Readonly<typeof counts & { secrets: Record<SecretKind, number> }> {
  const byKind = { session_key: 0, access_token: 0, appSecret: 0, appKey: 0, 'signing secret': 0 } as Record<SecretKind, number>;
  for (const [kind, count] of scanner.counts()) byKind[kind] = count;
  return { ...counts, secrets: byKind };
}

// ---- harvesting and capturing

function harvestWeChat(res: ServerResponse, body: string): void {
  counts.wechatAnswers += 1;
  const url = new URL(res.req?.url ?? '/', 'http://x');
  addSecret(url.searchParams.get('secret'), 'appSecret');
  try {
    const answer = JSON.parse(body) as { session_key?: unknown; access_token?: unknown; data?: { access_token?: unknown } };
    addSecret(answer?.session_key, 'session_key');
    addSecret(answer?.access_token, 'access_token');
    addSecret(answer?.data?.access_token, 'access_token'); // Douyin's token answers
  } catch {
    // a fault body (truncated, not JSON): nothing to harvest
  }
}

function chunkText(chunk: unknown, encoding?: unknown): string {
  if (typeof chunk === 'string') return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8');
  return '';
}

const bodies = new WeakMap<ServerResponse, string[]>();
const headLines = new WeakMap<ServerResponse, string>();

/** Every HTTP answer written in this process: the mock WeChat's harvested, the others seen. */
function captureAnswers(): void {
  const proto = ServerResponse.prototype;
  const { writeHead, write, end } = proto;
  proto.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    headLines.set(this, inspect(args.slice(1), { depth: 4, breakLength: Infinity }));
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof proto.writeHead;
  proto.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    (bodies.get(this) ?? bodies.set(this, []).get(this)!).push(chunkText(chunk, rest[0]));
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof proto.write;
  proto.end = function (this: ServerResponse, ...args: unknown[]) {
    const parts = bodies.get(this) ?? [];
    bodies.delete(this);
    if (typeof args[0] !== 'function') parts.push(chunkText(args[0], args[1]));
    const body = parts.join('');
    const path = this.req?.url ?? '';
    if (WECHAT_PATH.test(path)) {
      harvestWeChat(this, body);
    } else {
      counts.answers += 1;
      see(`an HTTP answer to ${this.req?.method} ${path.slice(0, 80)}`, `${this.statusCode} ${headLines.get(this) ?? ''} ${JSON.stringify(this.getHeaders())}\n${body}`);
    }
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof proto.end;
}

/** Every write to stdout and stderr, and what child processes print on piped streams. */
function captureOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    const name = stream === process.stdout ? 'stdout' : 'stderr';
    stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      counts.logWrites += 1;
      see(name, chunkText(chunk, rest[0]));
      return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
  }

  // Child processes: whatever they print is searched too (a tap; the test still reads it).
  const childProcess = require('node:child_process') as typeof import('node:child_process');
  const spawn = childProcess.spawn;
  childProcess.spawn = function (this: unknown, ...args: unknown[]) {
    const child = (spawn as (...a: unknown[]) => ChildProcess).apply(this, args);
    // A child started through setpriv (harness/process.ts) is named by the program setpriv runs.
    const argv = Array.isArray(args[1]) ? (args[1] as unknown[]).map(String) : [];
    const program = String(args[0]).endsWith('setpriv') && argv.includes('--') ? argv[argv.indexOf('--') + 1] : String(args[0]);
    const command = String(program).split('/').pop();
    for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      stream?.on('data', (chunk: Buffer) => {
        counts.logWrites += 1;
        see(`the ${name} of a child process (${command})`, chunkText(chunk));
      });
    }
    return child;
  } as typeof childProcess.spawn;
  syncBuiltinESMExports();
}

function install(): void {
  captureAnswers();
  captureOutput();

  subscribe(SECRETS_CHANNEL, (message) => {
    const secrets = message as { appSecret?: unknown; appKey?: unknown; sandboxAppKey?: unknown };
    addSecret(secrets.appSecret, 'appSecret');
    addSecret(secrets.appKey, 'appKey');
    addSecret(secrets.sandboxAppKey, 'appKey');
  });

  // cookie-signature's sign() is called with every signing secret the core signs or verifies with.
  const signature = require('cookie-signature') as { sign: (value: string, secret: string) => string };
  const sign = signature.sign;
  signature.sign = (value: string, secret: string) => {
    addSecret(secret, 'signing secret');
    return sign(value, secret);
  };

  // Every WxSessionError, from src and from the builds the packaging and example tests load: the
  // class's `super()` goes through this constructor, which keeps the new error for the search.
  const errorClasses: Array<typeof WxSessionError> = [WxSessionError];
  const cjs = new URL('../../dist/cjs/src/errors.js', import.meta.url);
  if (existsSync(cjs)) errorClasses.push((require(cjs.pathname) as typeof import('../../src/errors.js')).WxSessionError);
  for (const errorClass of errorClasses) Object.setPrototypeOf(errorClass, WitnessedError);
}

/**
 * The ESM build's WxSessionError, witnessed too. Asynchronous (an import), so the root hooks call
 * it before the first test: a top-level await here would make mocha load every test file that
 * imports this one twice (require fails on it, import follows), and coverage with it.
 */
export async function witnessEsmBuild(): Promise<void> {
  const esm = new URL('../../dist/esm/src/errors.js', import.meta.url);
  if (!existsSync(esm)) return;
  const built = ((await import(esm.href)) as typeof import('../../src/errors.js')).WxSessionError;
  Object.setPrototypeOf(built, WitnessedError);
}

class WitnessedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    counts.errors += 1;
    const error = this;
    // Read after the subclass constructor has run (code, errcode are set by then).
    queueMicrotask(() => see('a WxSessionError', `${inspect(error, { depth: 8, breakLength: Infinity })}\n${JSON.stringify(error)}`));
  }
}

install();
