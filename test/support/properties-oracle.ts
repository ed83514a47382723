// The property tests' oracle: every answer the documented protocol (README.md, "The wire protocol
// in brief" and "Errors") allows for a request that has no live session behind it, src/http.ts
// where the protocol leaves a choice open, and the frameworks' own answers on routes that are not
// wx-session's.
import { expect } from 'chai';
import { ErrorCode } from '../../src/index.js';
import { SECRET, type AdapterName } from '../../harness/apps.js';
import { INVALID_REQUEST, INVALID_TOKEN, unsignToken } from './wire.js';
import { parseJson, type Answer, type Req } from './properties-http.js';
import { LIMIT, TOKEN_SHAPE, type Outcome } from './properties-outcomes.js';

// ---- tokens

interface Verdict {
  code: ErrorCode;
  challenge: string;
}

/** What the error table says of a token no live session stands behind. */
export function judgeToken(token: string | undefined): Verdict[] {
  if (token === undefined || token === '') return [{ code: ErrorCode.WX_SESSION_MISSING, challenge: INVALID_REQUEST }];
  if (token.length > 512 || !TOKEN_SHAPE.test(token) || !token.includes('.')) return [{ code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_REQUEST }];
  const id = unsignToken(token, SECRET);
  if (id === false) return [{ code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_TOKEN }];
  const expired = { code: ErrorCode.WX_SESSION_EXPIRED, challenge: INVALID_TOKEN };
  // A signed empty id: "bad" or "unknown", the protocol does not say which.
  return id === '' ? [expired, { code: ErrorCode.WX_SESSION_INVALID, challenge: INVALID_TOKEN }] : [expired];
}

/**
 * The token(s) a request carries, from the header values as the server sees them. More than one
 * where the protocol leaves the choice open (both headers sent; a tab after "Bearer").
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

// ---- login bodies (src/http.ts for what the protocol leaves open)

export interface LoginContext {
  /** The one-time code issued for this case, its openid, and a matching encryptedData/iv. */
  valid?: { code: string; openid: string; pair?: { encryptedData: string; iv: string }; userInfo?: unknown };
  /** Which body parser ran before wx-session, if any. */
  parser: false | 'express' | 'koa';
}

const EMPTY_JSON = /^[ \t\r\n]*$/;

/** From the login body (raw text, or what a parser produced) to the outcomes the protocol allows. */
function loginFromValue(value: unknown, headers: ReadonlyMap<string, string>, ctx: LoginContext): Outcome[] {
  if (typeof value === 'string') {
    if (EMPTY_JSON.test(value)) return loginFromObject({}, headers, ctx);
    // Unicode-only whitespace (NBSP, BOM...): "empty" or "not JSON", the protocol does not say
    // which.
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

export const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

/** Every outcome the protocol allows for POST /wx/login with these headers and body bytes. */
export function loginOutcomes(headers: ReadonlyMap<string, string>, body: Uint8Array | undefined, ctx: LoginContext): Outcome[] {
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
export const KNOWN_PATHS = ['/wx/login', '/wx/logout', '/me', '/me/coins', '/me/json', '/me/destroy', '/whoami'];

function routeOf(method: string, target: string): Route {
  return ROUTES[`${method} ${target.split('?')[0]}`] ?? 'other';
}

/**
 * Nest parses a body before its router, its guards and its 404 (Express: with any method that
 * carries one; Fastify: as Fastify does, not on GET or HEAD): the parser's refusals come first on
 * every route but wx-session's own login and logout, which answer ahead of it.
 */
function nestParserFirst(adapter: AdapterName, req: Req, headers: ReadonlyMap<string, string>): Outcome[] {
  if (!adapter.startsWith('nest')) return [];
  const parses = adapter.endsWith('-fastify')
    ? req.method !== 'GET' && req.method !== 'HEAD'
    : req.body !== undefined || headers.has('content-length') || headers.has('transfer-encoding');
  if (!parses) return [];
  return [400, 413, 415].map((status) => ({ kind: 'status', status }));
}

/** What a request without any live session behind it may be answered. */
export function outcomesFor(adapter: AdapterName, req: Req, headers: ReadonlyMap<string, string>, ctx: LoginContext): Outcome[] {
  const route = routeOf(req.method, req.target);
  const parserFirst = nestParserFirst(adapter, req, headers);
  switch (route) {
    case 'login': return loginOutcomes(headers, req.body, ctx);
    case 'logout': return [{ kind: 'empty' }];
    case 'required': return [...verdictsFor(headers).map((v): Outcome => ({ kind: 'error', code: v.code, challenge: v.challenge })), ...parserFirst];
    case 'whoami': return [...verdictsFor(headers).map((v): Outcome => ({ kind: 'whoami', error: v.code })), ...parserFirst];
    case 'other': {
      const outcomes: Outcome[] = [{ kind: 'status', status: 404 }, ...parserFirst];
      const path = req.target.split('?')[0]!;
      // Express, Fastify, Hono and Nest answer HEAD with the GET route; Koa's test app does not.
      if (!adapter.startsWith('koa') && req.method === 'HEAD' && routeOf('GET', path) !== 'other') {
        outcomes.push({ kind: 'status', status: routeOf('GET', path) === 'whoami' ? 200 : 401 });
      }
      // Fastify parses a body before it knows there is no route: its parser's refusals come first.
      if (adapter.startsWith('fastify') && req.method !== 'GET' && req.method !== 'HEAD') {
        for (const status of [400, 413, 415]) outcomes.push({ kind: 'status', status });
      }
      // Express answers OPTIONS for any path that has routes.
      if (adapter.startsWith('express') && req.method === 'OPTIONS' && KNOWN_PATHS.includes(path) && !path.startsWith('/wx/')) outcomes.push({ kind: 'status', status: 200 });
      return outcomes;
    }
  }
}

/** Never a session: /me never 200, /whoami session:false, login never 200 without a valid code. */
export function expectNoSession(req: Req, answer: Answer, what: string): void {
  const route = routeOf(req.method, req.target);
  if (route === 'required') expect(answer.status, `${what}: a required route without a session`).to.not.equal(200);
  // (A whoami refused by a body parser in front, on Nest, has no `session` at all.)
  if (route === 'whoami' && answer.status === 200) expect((answer.json as { session?: unknown } | undefined)?.session, `${what}: whoami`).to.equal(false);
  if (route === 'login') expect(answer.status, `${what}: login without a valid code`).to.not.equal(200);
  expect(answer.text, `${what}: no token handed out`).to.not.match(/"token"/);
}
