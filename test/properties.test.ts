// Property-based tests (fast-check) of the wire protocol, DESIGN.md §4 and §7, through every
// adapter against a real mock WeChat: no generated header, token, body or code ever yields a 500,
// a hang, a crash or an authenticated session; a token with any one character changed is
// refused with the exact code and WWW-Authenticate of §7; a valid token is accepted exactly until
// logout or expiry (a model-based test over several sessions); login bodies of any shape get a
// table error or succeed, and succeed whenever they carry a valid code and nothing invalid.
//
// `npm test` runs 100 cases per property and adapter. The big run: `npm run test:fuzz` (10,000
// cases), or `FUZZ_RUNS=10000 npx mocha test/properties.test.ts`; FUZZ_ADAPTERS=express5,koa3
// limits it to some adapters. fast-check picks a seed and prints it with the counterexample;
// replay a failure with `FUZZ_SEED=<seed> FUZZ_PATH=<path> npx mocha test/properties.test.ts`.
import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode, MemoryStore, errorStatus } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters, SECRET, sleep, startApp, type AdapterName, type TestApp } from './helpers.js';
import { INVALID_REQUEST, INVALID_TOKEN, encryptForSession, expectErrorBody, forgeToken, rawRequest, unsignToken } from './support-wire.js';
import { sessionIdOf } from './support-keys.js';

const RUNS = Number(process.env.FUZZ_RUNS) || 100;
const BIG = RUNS >= 1000;
/** Mocha's limit per property: generous, the 10k run takes minutes. */
const TEST_TIMEOUT = Math.max(60_000, RUNS * 60);
/** An answer slower than this is a hang. */
const HANG_MS = 4000;
const OTHER_SECRET = 'someone-elses-secret-0123456789abcdef';
const TTL_S = 7 * 24 * 3600;
const LIMIT = 8 * 1024;

/** Every adapter, or those named in FUZZ_ADAPTERS (e.g. `express5,koa3`) to shorten a big run. */
const ADAPTERS: readonly AdapterName[] = (() => {
  const wanted = process.env.FUZZ_ADAPTERS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted?.length) return adapters;
  const unknown = wanted.filter((w) => !(adapters as readonly string[]).includes(w));
  if (unknown.length > 0) throw new Error(`FUZZ_ADAPTERS: unknown adapter(s) ${unknown.join(', ')}; known: ${adapters.join(', ')}`);
  return adapters.filter((a) => wanted.includes(a));
})();

/** fast-check parameters: a fixed seed only when FUZZ_SEED is set (FUZZ_PATH replays one case). */
function params<T>(numRuns = RUNS): fc.Parameters<T> {
  const p: fc.Parameters<T> = { numRuns };
  if (process.env.FUZZ_SEED !== undefined) p.seed = Number(process.env.FUZZ_SEED);
  if (process.env.FUZZ_PATH !== undefined) p.path = process.env.FUZZ_PATH;
  return p;
}

// ---- the contract, as the tests read it

/** DESIGN.md §4's table, from the package's exports. */
const TABLE: ReadonlyMap<string, number> = new Map(Object.values(ErrorCode).map((code) => [code, errorStatus[code]]));
/** DESIGN.md §7: the token alphabet; longer than 512 or without a '.' is malformed too. */
const TOKEN_SHAPE = /^[A-Za-z0-9._~+/=-]+$/;
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-';

/** A string with every byte outside printable ASCII escaped, for messages. */
const show = (s: string) => `"${s.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;

/** HTTP strips optional whitespace (SP, HTAB) around a field value, and only that (RFC 9110 §5.5). */
const ows = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

interface Verdict {
  code: ErrorCode;
  challenge: string;
}

/** What §7 says of a token no live session stands behind. */
function judgeToken(token: string | undefined): Verdict[] {
  if (token === undefined || token === '') return [{ code: ErrorCode.WX_SESSION_MISSING, challenge: INVALID_REQUEST }];
  if (token.length > 512 || !TOKEN_SHAPE.test(token) || !token.includes('.')) return [{ code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_REQUEST }];
  const id = unsignToken(token, SECRET);
  if (id === false) return [{ code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_TOKEN }];
  const expired = { code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN };
  // A signed empty id: "bad" or "unknown", §7 does not say which.
  return id === '' ? [expired, { code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_TOKEN }] : [expired];
}

/**
 * The token(s) a request carries, from the header values as the server sees them. More than one
 * where DESIGN.md leaves the choice open (both headers sent; a tab after "Bearer").
 */
function tokensSent(headers: ReadonlyMap<string, string>): Array<string | undefined> {
  const direct = headers.get('x-wx-session');
  const auth = headers.get('authorization');
  const bearer = auth === undefined ? [undefined] : (() => {
    const match = /^bearer([ \t]+)(.*)$/i.exec(auth);
    if (!match) return [undefined]; // not Bearer: not ours, no token
    return /^ +$/.test(match[1]!) ? [match[2]] : [match[2], undefined];
  })();
  if (direct === undefined || direct === '') return bearer;
  return auth === undefined ? [direct] : [direct, ...bearer];
}

function verdictsFor(headers: ReadonlyMap<string, string>): Verdict[] {
  return tokensSent(headers).flatMap(judgeToken);
}

// ---- answers and what may be answered

interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  text: string;
  json: unknown;
  ms: number;
}

type Outcome =
  /** A table error: the table's status, `{code, message, errcode?}`, and on 401 this challenge. */
  | { kind: 'error'; code: ErrorCode; challenge?: string; errcode?: number }
  /** GET /whoami without a session: 200 and the reason. */
  | { kind: 'whoami'; error: ErrorCode }
  /** 204, nothing else (logout). */
  | { kind: 'empty' }
  /** Not a wx-session route: the framework's own answer with this status. */
  | { kind: 'status'; status: number }
  /** The app's own body parser refused the body before wx-session saw it. */
  | { kind: 'parser' }
  /** A login that worked. */
  | { kind: 'login'; openid: string; userInfo?: unknown };

function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'error': return `${errorStatus[o.code]} ${o.code}${o.errcode === undefined ? '' : ` errcode ${o.errcode}`}${o.challenge ? ` [${o.challenge}]` : ''}`;
    case 'whoami': return `200 whoami error=${o.error}`;
    case 'empty': return '204';
    case 'status': return `${o.status} (framework)`;
    case 'parser': return '400/415 from the body parser';
    case 'login': return `200 login openid=${o.openid}${o.userInfo === undefined ? '' : ' +userInfo'}`;
  }
}

function isTableError(json: unknown): boolean {
  return typeof json === 'object' && json !== null && TABLE.has((json as { code?: unknown }).code as string);
}

/** Why `answer` is not `outcome`, or undefined when it is. */
function mismatch(answer: Answer, outcome: Outcome): string | undefined {
  try {
    switch (outcome.kind) {
      case 'error':
        expect(answer.status, 'status').to.equal(errorStatus[outcome.code]);
        expectErrorBody(answer.json, outcome.code, outcome.errcode);
        if (answer.status === 401 && answer.headers['www-authenticate'] !== outcome.challenge) {
          return `WWW-Authenticate ${answer.headers['www-authenticate']}, expected ${outcome.challenge}`;
        }
        return undefined;
      case 'whoami':
        expect(answer.status, 'status').to.equal(200);
        expect(answer.json).to.deep.equal({ session: false, openid: null, error: outcome.error });
        expect(answer.headers, 'no challenge on an optional route').to.not.have.property('www-authenticate');
        return undefined;
      case 'empty':
        expect(answer.status, 'status').to.equal(204);
        expect(answer.text).to.equal('');
        return undefined;
      case 'status':
        expect(answer.status, 'status').to.equal(outcome.status);
        return undefined;
      case 'parser':
        expect(answer.status, 'status').to.be.oneOf([400, 415]);
        expect(isTableError(answer.json), 'a parser error, not one of ours').to.equal(false);
        return undefined;
      case 'login': {
        expect(answer.status, 'status').to.equal(200);
        const body = answer.json as Record<string, unknown>;
        const keys = ['expiresIn', 'openid', 'token', ...(outcome.userInfo === undefined ? [] : ['userInfo'])];
        expect(Object.keys(body).sort()).to.deep.equal(keys.sort());
        expect(body.openid).to.equal(outcome.openid);
        expect(body.expiresIn).to.equal(TTL_S);
        expect(body.token).to.be.a('string').and.match(TOKEN_SHAPE);
        expect((body.token as string).length).to.be.at.most(512);
        if (outcome.userInfo !== undefined) expect(body.userInfo).to.deep.equal(outcome.userInfo);
        return undefined;
      }
    }
  } catch (error) {
    return (error as Error).message;
  }
}

/** Asserts `answer` is one of `outcomes`, naming them all when it is none. */
function expectOneOf(answer: Answer, outcomes: Outcome[], what: string): Outcome {
  const reasons: string[] = [];
  for (const outcome of outcomes) {
    const why = mismatch(answer, outcome);
    if (why === undefined) return outcome;
    reasons.push(`  ${describeOutcome(outcome)}: ${why}`);
  }
  throw new Error(`${what}: answered ${answer.status} ${answer.text.slice(0, 300)}\nexpected one of:\n${reasons.join('\n')}`);
}

/** What holds for every answer, whatever was asked: no 5xx, no hang, table statuses, no session handed out. */
function expectSafe(answer: Answer, what: string): void {
  expect(answer.status, `${what}: answered at all`).to.not.equal(0);
  expect(answer.ms, `${what}: answered within ${HANG_MS} ms`).to.be.below(HANG_MS);
  expect(answer.status, `${what}: no 5xx (WeChat and the store are healthy here)`).to.be.below(500);
  if (isTableError(answer.json)) {
    const code = (answer.json as { code: string }).code;
    expect(answer.status, `${what}: ${code} with the table's status`).to.equal(TABLE.get(code));
    if (answer.status === 401) expect(answer.headers['www-authenticate'], `${what}: 401 carries a challenge`).to.be.oneOf([INVALID_REQUEST, INVALID_TOKEN]);
  }
  expect(answer.headers, `${what}: no token re-issued`).to.not.have.property('x-wx-session-token');
}

// ---- sending

interface Req {
  method: string;
  /** Path and query. */
  target: string;
  /** Header name -> value; values are byte strings (one char per byte, latin1). */
  headers: Record<string, string>;
  /** Bytes; absent: none. */
  body?: Uint8Array;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One request over a kept-alive connection (Node's fetch). */
async function send(url: string, req: Req): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${url}${req.target}`, {
    method: req.method,
    headers: req.headers,
    body: req.body === undefined ? undefined : new Uint8Array(req.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(HANG_MS),
  });
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => { headers[name] = value; });
  return { status: res.status, headers, text, json: parseJson(text), ms: performance.now() - started };
}

/** The same request written byte for byte on a fresh socket (headers fetch refuses to send). */
async function sendRaw(url: string, req: Req): Promise<Answer> {
  const body = Buffer.from(req.body ?? new Uint8Array(0));
  let head = `${req.method} ${req.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(req.headers)) head += `${name}: ${value}\r\n`;
  if (req.body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  const started = performance.now();
  const res = await rawRequest(url, Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]), HANG_MS);
  const text = Buffer.from(res.body, 'latin1').toString('utf8');
  return { status: res.status, headers: res.headers, text, json: res.json, ms: performance.now() - started };
}

/** The server is alive and well: the crash check after each case. */
async function expectHealthy(app: TestApp): Promise<void> {
  const res = await send(app.url, { method: 'GET', target: '/whoami', headers: {} });
  expect(res.status, 'health check').to.equal(200);
  expect(res.json).to.deep.equal({ session: false, openid: null, error: ErrorCode.WX_SESSION_MISSING });
}

/** Header values as the server sees them: names lower-cased, optional whitespace stripped. */
function seenHeaders(req: Req): Map<string, string> {
  return new Map(Object.entries(req.headers).map(([name, value]) => [name.toLowerCase(), ows(value)]));
}

// ---- the login oracle (DESIGN.md §4 login, §7 "Login body", src/http.ts for what §4 leaves open)

interface LoginContext {
  /** The one-time code issued for this case, its openid, and a matching encryptedData/iv. */
  valid?: { code: string; openid: string; pair?: { encryptedData: string; iv: string }; userInfo?: unknown };
  /** Which body parser ran before wx-session, if any. */
  parser: false | 'express' | 'koa';
}

const EMPTY_JSON = /^[ \t\r\n]*$/;

/** From the login body (raw text, or what a parser produced) to the outcomes §4 allows. */
function loginFromValue(value: unknown, headers: ReadonlyMap<string, string>, ctx: LoginContext): Outcome[] {
  if (typeof value === 'string') {
    if (EMPTY_JSON.test(value)) return loginFromObject({}, headers, ctx);
    // Unicode-only whitespace (NBSP, BOM...): "empty" or "not JSON", §4 does not say which.
    if (value.trim() === '') return [...loginFromObject({}, headers, ctx), { kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
    const parsed = parseJson(value);
    if (parsed === undefined) return [{ kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
    value = parsed;
  }
  if (value === undefined || value === null) return loginFromObject({}, headers, ctx);
  if (typeof value !== 'object' || Array.isArray(value)) return [{ kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
  return loginFromObject(value as Record<string, unknown>, headers, ctx);
}

function loginFromObject(body: Record<string, unknown>, headers: ReadonlyMap<string, string>, ctx: LoginContext): Outcome[] {
  const own = (key: string) => (Object.hasOwn(body, key) ? body[key] : undefined);
  const headerCode = headers.get('x-wx-code') || undefined;
  const code = own('code') ?? headerCode;
  if (code === undefined || code === null || code === '') return [{ kind: 'error', code: ErrorCode.WX_CODE_MISSING }];
  if (typeof code !== 'string') return [{ kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
  const tooLong: Outcome = { kind: 'error', code: ErrorCode.WX_BAD_REQUEST };
  if ([...code].length > 256) return [tooLong];
  const encryptedData = own('encryptedData');
  const iv = own('iv');
  const wantsUserInfo = encryptedData !== undefined || iv !== undefined;
  if (wantsUserInfo && (typeof encryptedData !== 'string' || typeof iv !== 'string')) return [{ kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
  // "over 256 chars": code units or code points? Either reading is accepted for astral characters.
  const alsoTooLong: Outcome[] = code.length > 256 ? [tooLong] : [];
  if (ctx.valid === undefined || code !== ctx.valid.code) {
    // Any other code is unknown to WeChat (the mock): 40029.
    return [{ kind: 'error', code: ErrorCode.WX_CODE_INVALID, errcode: 40029, challenge: INVALID_TOKEN }, ...alsoTooLong];
  }
  if (wantsUserInfo) {
    const pair = ctx.valid.pair;
    if (pair && encryptedData === pair.encryptedData && iv === pair.iv) return [{ kind: 'login', openid: ctx.valid.openid, userInfo: ctx.valid.userInfo }];
    return [{ kind: 'error', code: ErrorCode.WX_BAD_REQUEST }];
  }
  return [{ kind: 'login', openid: ctx.valid.openid }];
}

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

/** Every outcome §4 allows for POST /wx/login with these headers and body bytes. */
function loginOutcomes(headers: ReadonlyMap<string, string>, body: Uint8Array | undefined, ctx: LoginContext): Outcome[] {
  const bytes = Buffer.from(body ?? new Uint8Array(0));
  const text = bytes.toString('utf8');
  const contentType = headers.get('content-type');
  const raw = (): Outcome[] => (bytes.length > LIMIT ? [{ kind: 'error', code: ErrorCode.WX_PAYLOAD_TOO_LARGE }] : loginFromValue(text, headers, ctx));
  if (!ctx.parser || contentType === undefined) return raw();
  if (!JSON_TYPES.has(contentType) && contentType !== 'application/json; charset=latin1') {
    // A type no JSON parser takes: wx-session reads the body itself. An odd one: either.
    return /json/i.test(contentType) ? [...raw(), { kind: 'parser' }, ...parsed()] : raw();
  }
  if (ctx.parser === 'express' && contentType.includes('latin1')) return [{ kind: 'parser' }];
  return parsed();

  /** The parser ran: wx-session takes what it produced as it is. */
  function parsed(): Outcome[] {
    if (bytes.length === 0) return loginFromObject({}, headers, ctx);
    // A BOM: one parser strips it, the other does not.
    const value = parseJson(text.replace(/^\ufeff/, ''));
    if (value === undefined) return [{ kind: 'parser' }, ...(text.startsWith('\ufeff') ? loginFromValue(text, headers, ctx) : [])];
    // express.json is strict: only objects and arrays.
    if (ctx.parser === 'express' && (value === null || typeof value !== 'object')) return [{ kind: 'parser' }];
    return loginFromValue(value, headers, ctx);
  }
}

// ---- routes

type Route = 'login' | 'logout' | 'required' | 'whoami' | 'other';

const ROUTES: Record<string, Route> = {
  'POST /wx/login': 'login',
  'POST /wx/logout': 'logout',
  'GET /me': 'required',
  'POST /me/coins': 'required',
  'GET /me/json': 'required',
  'POST /me/destroy': 'required',
  'GET /whoami': 'whoami',
};
const KNOWN_PATHS = ['/wx/login', '/wx/logout', '/me', '/me/coins', '/me/json', '/me/destroy', '/whoami'];

function routeOf(method: string, target: string): Route {
  return ROUTES[`${method} ${target.split('?')[0]}`] ?? 'other';
}

/** What a request without any live session behind it may be answered. */
function outcomesFor(adapter: AdapterName, req: Req, headers: ReadonlyMap<string, string>, ctx: LoginContext): Outcome[] {
  const route = routeOf(req.method, req.target);
  switch (route) {
    case 'login': return loginOutcomes(headers, req.body, ctx);
    case 'logout': return [{ kind: 'empty' }];
    case 'required': return verdictsFor(headers).map((v) => ({ kind: 'error', code: v.code, challenge: v.challenge }));
    case 'whoami': return verdictsFor(headers).map((v) => ({ kind: 'whoami', error: v.code }));
    case 'other': {
      const outcomes: Outcome[] = [{ kind: 'status', status: 404 }];
      const path = req.target.split('?')[0]!;
      if (adapter.startsWith('express')) {
        // Express answers HEAD with its GET route, and OPTIONS for any path that has routes.
        if (req.method === 'HEAD' && routeOf('GET', path) !== 'other') outcomes.push({ kind: 'status', status: routeOf('GET', path) === 'whoami' ? 200 : 401 });
        if (req.method === 'OPTIONS' && KNOWN_PATHS.includes(path) && !path.startsWith('/wx/')) outcomes.push({ kind: 'status', status: 200 });
      }
      return outcomes;
    }
  }
}

/** Never a session: /me never 200, /whoami session:false, login never 200 without a valid code. */
function expectNoSession(req: Req, answer: Answer, what: string): void {
  const route = routeOf(req.method, req.target);
  if (route === 'required') expect(answer.status, `${what}: a required route without a session`).to.not.equal(200);
  if (route === 'whoami') expect((answer.json as { session?: unknown } | undefined)?.session, `${what}: whoami`).to.equal(false);
  if (route === 'login') expect(answer.status, `${what}: login without a valid code`).to.not.equal(200);
  expect(answer.text, `${what}: no token handed out`).to.not.match(/"token"/);
}

// ---- generators

const tokenChar = fc.constantFrom(...TOKEN_CHARS);
const asciiPrintable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const latin1Printable = fc.oneof(asciiPrintable, fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)));
/** Characters around which trimming and splitting go wrong. */
const edgyChar = fc.constantFrom(' ', '\t', '\xa0', '\x85', '.', ',', ';', '"', '=', '%', '\xff');
/** Any byte fetch can put in a header value (no NUL, CR, LF, or other control bytes Node refuses). */
const headerChar = fc.oneof({ weight: 4, arbitrary: latin1Printable }, edgyChar, fc.integer({ min: 0x80, max: 0x9f }).map((c) => String.fromCharCode(c)));
/** Any byte but CR and LF: control bytes too, which Node itself refuses with 400. */
const rawHeaderChar = fc.oneof({ weight: 6, arbitrary: headerChar }, fc.integer({ min: 0, max: 0x1f }).filter((c) => c !== 10 && c !== 13).map((c) => String.fromCharCode(c)), fc.constant('\x7f'));
/** A unicode string as the UTF-8 bytes a raw header carries (one char per byte). */
const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

function tokenArb(dead: readonly string[], char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const alphabet = fc.string({ unit: tokenChar, maxLength: 80 });
  const deadToken = fc.constantFrom(...dead);
  return fc.oneof(
    fc.string({ unit: char, maxLength: 100 }),
    alphabet,
    fc.tuple(alphabet, alphabet).map(([a, b]) => `${a}.${b}`),
    fc.string({ unit: tokenChar, minLength: 505, maxLength: 600 }).map((s) => `${s.slice(0, 300)}.${s.slice(300)}`),
    fc.string({ unit: tokenChar, maxLength: 500 }).map((id) => forgeToken(id, SECRET)),
    fc.string({ unit: char, maxLength: 60 }).map((id) => forgeToken(id, SECRET)),
    fc.string({ unit: tokenChar, maxLength: 60 }).map((id) => forgeToken(id, OTHER_SECRET)),
    deadToken,
    fc.tuple(deadToken, fc.nat(), fc.oneof(tokenChar, char)).map(([t, at, c]) => t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1)),
    fc.tuple(deadToken, fc.nat(), fc.nat()).map(([t, a, b]) => t.slice(a % t.length, t.length - (b % t.length))),
    fc.tuple(fc.string({ unit: char, maxLength: 3 }), deadToken, fc.string({ unit: char, maxLength: 3 })).map(([a, t, b]) => a + t + b),
  );
}

function authArb(token: fc.Arbitrary<string>, char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    token.map((t) => `Bearer ${t}`),
    fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), fc.string({ unit: fc.constantFrom(' ', '\t'), minLength: 1, maxLength: 3 }), token).map(([s, sep, t]) => s + sep + t),
    token.map((t) => `Basic ${t}`),
    token,
    fc.string({ unit: char, maxLength: 60 }),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer\t', ''),
  );
}

/** Codes that can never be a valid one (the mock's are 32 fresh alphanumerics). */
function codeArb(char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: char, maxLength: 40 }),
    fc.stringMatching(/^[A-Za-z0-9]{32}$/),
    fc.string({ unit: fc.constantFrom('c', 'é', '\xa0'), minLength: 250, maxLength: 262 }),
    fc.constant(''),
  );
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=latin1'];
const contentTypeArb = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, fc.string({ unit: asciiPrintable, maxLength: 30 }));

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
/** A login body padded inside the JSON to exactly `bytes` bytes. */
const paddedBody = (bytes: number) => {
  const head = '{"code":"x","pad":"';
  return `${head}${'p'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
};

/** Bodies of every shape: any JSON, any text, any bytes, objects with `code` of every JSON type, big ones. */
const anyBody: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.json().map(utf8),
  fc.uint8Array({ maxLength: 200 }),
  fc.record({ code: fc.jsonValue() }, { requiredKeys: [] }).map((o) => utf8(JSON.stringify(o))),
  fc.tuple(fc.record({ code: fc.jsonValue(), encryptedData: fc.jsonValue(), iv: fc.jsonValue() }, { requiredKeys: [] }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 })).map(([o, extra]) => utf8(JSON.stringify({ ...extra, ...o }))),
  fc.string({ unit: 'binary', maxLength: 60 }).map(utf8),
  fc.constantFrom('', ' \n\t', '\xa0', '\ufeff', '\ufeff{"code":"x"}', 'null', '[]', '"x"', '{"code":', '{"__proto__":{"code":"x"}}').map(utf8),
  fc.constantFrom(LIMIT, LIMIT + 1).map((n) => utf8(paddedBody(n))),
  fc.integer({ min: LIMIT - 200, max: LIMIT + 4000 }).map((n) => utf8(paddedBody(n))),
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

function requestArb(dead: readonly string[], char: fc.Arbitrary<string>): fc.Arbitrary<Req> {
  const token = tokenArb(dead, char);
  const path = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_PATHS) }, fc.webSegment().map((s) => `/r/${s}`));
  const query = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, fc.webQueryParameters().map((q) => `?${q}`), token.map((t) => `?token=${encodeURIComponent(t)}`));
  const method = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('GET', 'POST') }, fc.constantFrom(...METHODS));
  return fc
    .record({
      method,
      path,
      query,
      session: fc.option(token, { nil: undefined }),
      auth: fc.option(authArb(token, char), { nil: undefined }),
      code: fc.option(codeArb(char), { nil: undefined }),
      contentType: fc.option(contentTypeArb, { nil: undefined }),
      body: anyBody,
    })
    .map(({ method, path, query, session, auth, code, contentType, body }) => {
      const headers: Record<string, string> = {};
      if (session !== undefined) headers['X-WX-Session'] = session;
      if (auth !== undefined) headers.Authorization = auth;
      if (code !== undefined) headers['X-WX-Code'] = code;
      if (contentType !== undefined) headers['Content-Type'] = contentType;
      const req: Req = { method, target: path + query, headers };
      // fetch sends no body with GET or HEAD.
      if (body !== undefined && method !== 'GET' && method !== 'HEAD') req.body = body;
      return req;
    });
}

// ---- one mock for the file; per adapter, one app without and one behind a body parser

let mock: MockWeChat;
before(async () => {
  mock = await startMockWeChat();
});
after(async () => {
  await mock.close();
});

for (const name of ADAPTERS) describe(`properties (${name})`, () => {
  let app: TestApp;
  let store: MemoryStore;
  let parsing: TestApp;
  let parsingStore: MemoryStore;
  /** Tokens of sessions that were logged out: signed by us, dead. */
  const dead: string[] = [];

  before(async () => {
    store = new MemoryStore();
    parsingStore = new MemoryStore();
    // WeChat's timeout is raised so a busy machine cannot turn a slow mock into a 504.
    app = await startApp(name, { mock, core: { store, timeout: 10_000 } });
    // Express logs every error its parser raises unless its env is 'test' (read when the app is made).
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'test';
    try {
      parsing = await startApp(name, { mock, bodyParser: true, core: { store: parsingStore, timeout: 10_000 } });
    } finally {
      if (env === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = env;
    }
    for (let i = 0; i < 3; i++) {
      const { token } = await app.login();
      dead.push(token);
      const out = await send(app.url, { method: 'POST', target: '/wx/logout', headers: { 'X-WX-Session': token } });
      expect(out.status).to.equal(204);
    }
  });
  after(async () => {
    await app?.close();
    await parsing?.close();
  });

  // ---- 1. arbitrary requests

  it('no generated request yields a 5xx, a hang, a crash or a session, and each gets its exact answer (fetch)', async function () {
    this.timeout(TEST_TIMEOUT);
    await fc.assert(
      fc.asyncProperty(requestArb(dead, headerChar), async (req) => {
        const answer = await send(app.url, req);
        const what = `${req.method} ${req.target}`;
        expectSafe(answer, what);
        expectNoSession(req, answer, what);
        expectOneOf(answer, outcomesFor(name, req, seenHeaders(req), { parser: false }), what);
        await expectHealthy(app);
      }),
      params(),
    );
  });

  it('the same over a raw socket: control bytes, UTF-8 in headers, bodies on GET', async function () {
    this.timeout(TEST_TIMEOUT);
    const rawChar = fc.oneof({ weight: 3, arbitrary: rawHeaderChar }, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).map(utf8Bytes));
    const arb = fc.tuple(requestArb(dead, rawChar), fc.option(anyBody, { nil: undefined })).map(([req, body]) => {
      // Unlike fetch, a raw request can carry a body with any method.
      if (req.body === undefined && body !== undefined) req.body = body;
      return req;
    });
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        const answer = await sendRaw(app.url, req);
        const what = `raw ${req.method} ${req.target}`;
        expectSafe(answer, what);
        // llhttp refuses control bytes (but HTAB) in a header value with a bare 400, before any app code.
        const refusedByNode = Object.values(req.headers).some((v) => /[\x00-\x08\x0a-\x1f\x7f]/.test(v));
        if (refusedByNode) {
          expect(answer.status, `${what}: Node's own 400`).to.equal(400);
          expect(answer.text, `${what}: Node's own 400 has no body`).to.equal('');
        } else {
          expectNoSession(req, answer, what);
          const outcomes = outcomesFor(name, req, seenHeaders(req), { parser: false });
          // HEAD answers carry no body to check.
          if (req.method === 'HEAD') expect(answer.status, what).to.be.oneOf([...new Set(outcomes.map(statusOf)), 404]);
          else expectOneOf(answer, outcomes, what);
        }
        await expectHealthy(app);
      }),
      params(Math.ceil(RUNS / 4)),
    );
  });

  // ---- 2. one character changed

  it('a token with any one character changed is refused with §7\'s exact code and challenge; the original still works', async function () {
    this.timeout(TEST_TIMEOUT);
    const owners = ['oMutantA', 'oMutantB', 'oMutantC'];
    const tokens: string[] = [];
    for (const openid of owners) tokens.push((await app.login(openid)).token);
    const where = fc.oneof(fc.constantFrom('first', 'last', 'dot', 'after-dot'), fc.nat());
    // Printable replacements: the token's own alphabet, any latin1, and the separators and
    // whitespace-like characters where parsing and trimming go wrong.
    const replacement = fc.oneof(tokenChar, latin1Printable, edgyChar.filter((c) => c !== '\t' && c !== '\x85'));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: tokens.length - 1 }), where, replacement,
        fc.constantFrom('x-wx-session', 'bearer'), fc.constantFrom('/me', '/whoami', 'logout'),
        async (which, at, char, form, route) => {
          const token = tokens[which]!;
          const dot = token.lastIndexOf('.');
          const index = at === 'first' ? 0 : at === 'last' ? token.length - 1 : at === 'dot' ? dot : at === 'after-dot' ? dot + 1 : at % token.length;
          fc.pre(token[index] !== char);
          const mutated = token.slice(0, index) + char + token.slice(index + 1);
          const headers: Record<string, string> = form === 'x-wx-session' ? { 'X-WX-Session': mutated } : { Authorization: `Bearer ${mutated}` };
          // What the server receives: the value without the whitespace HTTP strips at its ends.
          const [verdict, ...others] = judgeToken(ows(mutated));
          expect(others, 'one verdict for a mutated token').to.have.length(0);
          expect(verdict!.code, 'a one-character change is never a validly signed token').to.not.equal(ErrorCode.WX_SESSION_EXPIRED);
          const what = `${form} ${show(mutated)}`;
          if (route === 'logout') {
            expectOneOf(await send(app.url, { method: 'POST', target: '/wx/logout', headers }), [{ kind: 'empty' }], what);
          } else if (route === '/me') {
            expectOneOf(await send(app.url, { method: 'GET', target: '/me', headers }), [{ kind: 'error', code: verdict!.code, challenge: verdict!.challenge }], what);
          } else {
            expectOneOf(await send(app.url, { method: 'GET', target: '/whoami', headers }), [{ kind: 'whoami', error: verdict!.code }], what);
          }
          const original = await send(app.url, { method: 'GET', target: '/me', headers: { 'X-WX-Session': token } });
          expect(original.status, 'the original token still works').to.equal(200);
          expect((original.json as { openid: string }).openid).to.equal(owners[which]);
        },
      ),
      params(),
    );
  });

  // ---- 3. accepted exactly until logout or expiry

  it('a token is accepted exactly until logout or expiry, and only for its own session (model-based)', async function () {
    this.timeout(TEST_TIMEOUT);
    // Its own app and store: the test rewrites records behind the core's back.
    const modelStore = new MemoryStore();
    const modelApp = await startApp(name, { mock, core: { store: modelStore, timeout: 10_000 } });
    const real: Real = { app: modelApp, store: modelStore };
    const commands = [
      fc.option(fc.nat({ max: 2 }), { nil: undefined }).map((user) => new LoginCommand(user)),
      fc.tuple(fc.nat(), fc.constantFrom<UseRoute>('/me', '/whoami', '/me/coins'), fc.constantFrom<Form>('x-wx-session', 'bearer', 'bearer-lower')).map(([pick, route, form]) => new UseCommand(pick, route, form)),
      fc.tuple(fc.nat(), fc.constantFrom<Form>('x-wx-session', 'bearer', 'bearer-lower')).map(([pick, form]) => new LogoutCommand(pick, form)),
      fc.tuple(fc.nat(), fc.constantFrom<'past' | 'evicted'>('past', 'evicted')).map(([pick, how]) => new ExpireCommand(pick, how)),
      fc.nat().map((pick) => new AgeCommand(pick)),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 15, size: 'medium' }), async (cmds) => {
        await fc.asyncModelRun(() => ({ model: { sessions: [] }, real }), cmds);
        await expectHealthy(modelApp);
      }),
      params(),
    ).finally(() => modelApp.close());
  });

  it('with a real short TTL, a token is accepted until it runs out, then refused as expired', async function () {
    this.timeout(TEST_TIMEOUT);
    const ttl = 1; // second
    const short = await startApp(name, { mock, core: { ttl, timeout: 10_000 } });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.constantFrom<Form>('x-wx-session', 'bearer')), { minLength: 1, maxLength: 4 }), async (plan) => {
          const sessions: Array<{ token: string; openid: string; form: Form; out: boolean; at: number }> = [];
          for (const [out, form] of plan) {
            const at = Date.now();
            const { token, openid } = await short.login();
            sessions.push({ token, openid, form, out, at });
          }
          for (const s of sessions) {
            const res = await send(short.url, { method: 'GET', target: '/me', headers: authHeaders(s.token, s.form) });
            if (Date.now() - s.at < ttl * 1000 - 200) {
              expect(res.status, 'accepted before its TTL').to.equal(200);
              expect((res.json as { openid: string }).openid).to.equal(s.openid);
            } else {
              // A stalled machine: the session may have run out already; it must not be anything else.
              expect(res.status).to.be.oneOf([200, 401]);
            }
            if (s.out) expect((await send(short.url, { method: 'POST', target: '/wx/logout', headers: authHeaders(s.token, s.form) })).status).to.equal(204);
          }
          // The last accepted request may have renewed a session to a full TTL from then on.
          await sleep(ttl * 1000 + 150);
          for (const s of sessions) {
            const res = await send(short.url, { method: 'GET', target: '/me', headers: authHeaders(s.token, s.form) });
            expectOneOf(res, [{ kind: 'error', code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN }], `after the TTL (${s.out ? 'logged out' : 'expired'})`);
          }
        }),
        params(BIG ? 3 : 1),
      );
    } finally {
      await short.close();
    }
  });

  // ---- 4. login bodies of any shape

  for (const withParser of [false, true]) {
    it(`login bodies of any shape get a table error or succeed, and succeed when valid${withParser ? ' (behind a JSON body parser)' : ''}`, async function () {
      this.timeout(TEST_TIMEOUT);
      const target = withParser ? parsing : app;
      const targetStore = withParser ? parsingStore : store;
      const parser: LoginContext['parser'] = withParser ? (name.startsWith('express') ? 'express' : 'koa') : false;
      await fc.assert(
        fc.asyncProperty(loginCaseArb, async (c) => {
          const openid = `oLogin${Math.random().toString(36).slice(2, 12)}`;
          const code = mock.issueCode(openid);
          const sessionKey = mock.sessionKeyOf(openid)!;
          const userInfo = { nickName: 'Band', watermark: { appid: mock.appId, timestamp: 1 } };
          const pair = encryptForSession(sessionKey, userInfo);
          const { req, mustSucceed } = buildLogin(c, code, pair, parser);
          const before = targetStore.size;
          const answer = await send(target.url, req);
          const what = `login ${JSON.stringify(c)}`;
          expectSafe(answer, what);
          expect(answer.text, `${what}: never the session_key`).to.not.include(sessionKey);
          const outcome = expectOneOf(answer, loginOutcomes(seenHeaders(req), req.body, { parser, valid: { code, openid, pair, userInfo } }), what);
          if (mustSucceed) expect(outcome.kind, `${what}: a valid code and nothing invalid must log in`).to.equal('login');
          if (outcome.kind === 'login') {
            expect(targetStore.size, 'one session created').to.equal(before + 1);
            const token = (answer.json as { token: string }).token;
            const me = await send(target.url, { method: 'GET', target: '/me', headers: { 'X-WX-Session': token } });
            expect(me.status, 'the new token works').to.equal(200);
            expect((me.json as { openid: string }).openid).to.equal(openid);
          } else {
            expect(targetStore.size, 'no session created by a refused login').to.equal(before);
          }
        }),
        params(),
      );
      await expectHealthy(target);
    });
  }
});

function statusOf(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'error': return errorStatus[outcome.code];
    case 'whoami': case 'login': return 200;
    case 'empty': return 204;
    case 'status': return outcome.status;
    case 'parser': return 400;
  }
}

// ---- the model-based test's commands

type Form = 'x-wx-session' | 'bearer' | 'bearer-lower';
type UseRoute = '/me' | '/whoami' | '/me/coins';

function authHeaders(token: string, form: Form): Record<string, string> {
  if (form === 'x-wx-session') return { 'X-WX-Session': token };
  return { Authorization: `${form === 'bearer' ? 'Bearer' : 'bearer'} ${token}` };
}

interface ModelSession {
  token: string;
  openid: string;
  /** Issued, not logged out, not expired. */
  live: boolean;
  coins: number;
}
interface Model {
  sessions: ModelSession[];
}
interface Real {
  app: TestApp;
  store: MemoryStore;
}

const MAX_SESSIONS = 6;

class LoginCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: number | undefined) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length < MAX_SESSIONS;
  }
  async run(m: Model, r: Real): Promise<void> {
    // A few shared openids: one user's sessions must not disturb each other either.
    const openid = this.user === undefined ? undefined : `oModelUser${this.user}`;
    const res = await send(r.app.url, { method: 'POST', target: '/wx/login', headers: { 'Content-Type': 'application/json' }, body: utf8(JSON.stringify({ code: mock.issueCode(openid) })) });
    expect(res.status, 'login').to.equal(200);
    const body = res.json as { token: string; openid: string };
    if (openid !== undefined) expect(body.openid).to.equal(openid);
    expect(m.sessions.map((s) => s.token), 'a login always creates a new session').to.not.include(body.token);
    m.sessions.push({ token: body.token, openid: body.openid, live: true, coins: 0 });
  }
  toString(): string {
    return `login(${this.user ?? 'new user'})`;
  }
}

/** Picks one of the model's sessions by a generated number (commands are generated before the model exists). */
const pick = (m: Readonly<Model>, n: number) => m.sessions[n % m.sessions.length]!;

class UseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly route: UseRoute, readonly form: Form) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const method = this.route === '/me/coins' ? 'POST' : 'GET';
    const res = await send(r.app.url, { method, target: this.route, headers: authHeaders(s.token, this.form) });
    const what = `${this} on session ${m.sessions.indexOf(s)} (${s.live ? 'live' : 'dead'})`;
    if (!s.live) {
      const outcome: Outcome = this.route === '/whoami'
        ? { kind: 'whoami', error: ErrorCode.WX_SESSION_EXPIRED }
        : { kind: 'error', code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN };
      expectOneOf(res, [outcome], what);
      return;
    }
    expect(res.status, what).to.equal(200);
    if (this.route === '/whoami') expect(res.json, what).to.deep.equal({ session: true, openid: s.openid, error: null });
    else if (this.route === '/me') expect(res.json, what).to.deep.equal({ openid: s.openid, unionid: null, data: s.coins === 0 ? {} : { coins: s.coins } });
    else {
      s.coins += 1;
      expect(res.json, what).to.deep.equal({ coins: s.coins });
    }
    // Rolling: after an accepted request at least half the TTL is left.
    const record = await r.store.get(sessionIdOf(s.token));
    expect(record, `${what}: stored`).to.not.equal(undefined);
    expect(record!.expiresAt - Date.now(), `${what}: renewed when less than half the TTL was left`).to.be.above((TTL_S * 1000) / 2 - 60_000);
  }
  toString(): string {
    return `${this.route === '/me/coins' ? 'POST' : 'GET'} ${this.route} #${this.n} via ${this.form}`;
  }
}

class LogoutCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly form: Form) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const res = await send(r.app.url, { method: 'POST', target: '/wx/logout', headers: authHeaders(s.token, this.form) });
    expectOneOf(res, [{ kind: 'empty' }], `${this}`);
    s.live = false;
  }
  toString(): string {
    return `logout #${this.n} via ${this.form}`;
  }
}

/** The session's time runs out: its record says so ('past', kept by a store that ignores TTLs), or the store dropped it. */
class ExpireCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number, readonly how: 'past' | 'evicted') {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    const id = sessionIdOf(s.token);
    const record = await r.store.get(id);
    if (s.live) expect(record, `${this}: a live session is stored`).to.not.equal(undefined);
    if (this.how === 'evicted') await r.store.destroy(id);
    else if (record) await r.store.set(id, { ...record, expiresAt: Date.now() - 1 }, 60_000);
    s.live = false;
  }
  toString(): string {
    return `expire #${this.n} (${this.how})`;
  }
}

/** Moves a live session close to its end (a quarter of the TTL left): still accepted, and renewed on use. */
class AgeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number) {}
  check(m: Readonly<Model>): boolean {
    return m.sessions.length > 0;
  }
  async run(m: Model, r: Real): Promise<void> {
    const s = pick(m, this.n);
    if (!s.live) return;
    const id = sessionIdOf(s.token);
    const record = await r.store.get(id);
    expect(record, `${this}: a live session is stored`).to.not.equal(undefined);
    const left = (TTL_S * 1000) / 4;
    await r.store.set(id, { ...record!, expiresAt: Date.now() + left }, left);
  }
  toString(): string {
    return `age #${this.n}`;
  }
}

// ---- login cases

type Json = fc.JsonValue;
interface LoginCase {
  /** Where the case's valid code goes: in the body's `code`, in X-WX-Code, both, or nowhere. */
  codeIn: 'body' | 'header' | 'both' | 'none';
  body:
    | { kind: 'none' }
    | { kind: 'object'; extra: Record<string, Json>; code?: Json; userData: 'none' | 'valid' | { encryptedData?: Json; iv?: Json }; pad: number; indent: number }
    | { kind: 'json'; value: Json }
    | { kind: 'text'; text: string }
    | { kind: 'bytes'; bytes: Uint8Array };
  /** A random X-WX-Code where the valid one is not in the header. */
  headerCode?: string;
  contentType?: string;
}

const extraFields = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((extra) => {
  const clean: Record<string, Json> = {};
  for (const [key, value] of Object.entries(extra)) if (key !== 'code' && key !== 'encryptedData' && key !== 'iv') clean[key] = value;
  return clean;
});
const pairShape = fc.record({ encryptedData: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.base64String({ maxLength: 64 })), iv: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.base64String({ maxLength: 24 })) }, { requiredKeys: [] });

const loginCaseArb: fc.Arbitrary<LoginCase> = fc.record(
  {
    codeIn: fc.constantFrom<LoginCase['codeIn']>('body', 'body', 'header', 'both', 'none'),
    body: fc.oneof(
      { weight: 5, arbitrary: fc.record({
        kind: fc.constant('object' as const),
        extra: extraFields,
        code: fc.oneof(fc.jsonValue({ maxDepth: 1 }), codeArb(latin1Printable)),
        userData: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, fc.constant('valid' as const), pairShape),
        pad: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: LIMIT - 300, max: LIMIT + 300 })),
        indent: fc.constantFrom(0, 0, 2, 7),
      }, { requiredKeys: ['kind', 'extra', 'userData', 'pad', 'indent'] }) },
      fc.constant({ kind: 'none' as const }),
      fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'json' as const, value })),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '  ', '\n', '\xa0', '\ufeff', 'null', '{', '{"code":1,}')).map((text) => ({ kind: 'text' as const, text })),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    ),
    headerCode: codeArb(latin1Printable),
    contentType: contentTypeArb,
  },
  { requiredKeys: ['codeIn', 'body'] },
);

/** The request for a case, with the case's fresh code and encrypted user data put in. */
function buildLogin(c: LoginCase, code: string, pair: { encryptedData: string; iv: string }, parser: LoginContext['parser']): { req: Req; mustSucceed: boolean } {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['Content-Type'] = c.contentType;
  const codeInHeader = c.codeIn === 'header' || c.codeIn === 'both';
  if (codeInHeader) headers['X-WX-Code'] = code;
  else if (c.headerCode !== undefined) headers['X-WX-Code'] = c.headerCode;
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  let validObject = false;
  switch (c.body.kind) {
    case 'none': break;
    case 'object': {
      const o: Record<string, unknown> = { ...c.body.extra };
      const codeInBody = c.codeIn === 'body' || c.codeIn === 'both';
      if (codeInBody) o.code = code;
      else if (c.body.code !== undefined) o.code = c.body.code;
      if (c.body.userData === 'valid') Object.assign(o, pair);
      else if (c.body.userData !== 'none') Object.assign(o, c.body.userData);
      if (c.body.pad > 0) o.pad = 'p'.repeat(Math.max(0, c.body.pad - JSON.stringify(o).length));
      text = JSON.stringify(o, null, c.body.indent);
      validObject = codeInBody && (c.body.userData === 'none' || c.body.userData === 'valid');
      break;
    }
    case 'json': text = JSON.stringify(c.body.value); break;
    case 'text': text = c.body.text; break;
    case 'bytes': bytes = c.body.bytes; break;
  }
  const body = text === undefined ? bytes : utf8(text);
  const req: Req = { method: 'POST', target: '/wx/login', headers };
  if (body !== undefined) req.body = body;
  const size = body?.length ?? 0;
  // Content types every parser and the adapters' own reader take as the JSON it is.
  const plainType = c.contentType === undefined || CONTENT_TYPES.slice(0, 5).includes(c.contentType);
  // §4: `{"code": ...}` (other fields are nobody's business) within 8 KiB, or the code in
  // X-WX-Code with an empty body. A parser that ran may take more than 8 KiB (§7).
  const mustSucceed = plainType && (
    (validObject && !codeInHeader && c.headerCode === undefined && (size <= LIMIT || (parser !== false && JSON_TYPES.has(c.contentType ?? '')))) ||
    (c.codeIn === 'header' && size === 0)
  );
  return { req, mustSucceed };
}
