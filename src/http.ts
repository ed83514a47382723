// What every adapter shares: the wire protocol (README.md, "The wire protocol in brief") as plain
// values. An adapter maps its request to these inputs and writes the returned Reply back; nothing
// else. Node requests here; Web `Request`s (Hono) in src/http-web.ts, over the same functions.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { WxSession } from './session.js';
import { absent, ErrorCode, WxSessionError } from './errors.js';
import type { AuthResult, LoginExtras, WxSessionCore } from './core-types.js';
import { isWellFormedToken } from './token.js';
import { DEFAULT_BODY_TIMEOUT, loginObject, readBody } from './http-body.js';

export { DEFAULT_BODY_TIMEOUT, LOGIN_BODY_LIMIT, loginObject, readBody } from './http-body.js';

/**
 * The longest `X-WX-Session`, `Authorization` or `X-WX-Code` header looked at (SECURITY.md,
 * "Denial of service"): a longer one is refused before it is trimmed, split or matched.
 */
export const MAX_HEADER_LENGTH = 4096;
export const TOKEN_HEADER = 'x-wx-session';
export const REISSUED_TOKEN_HEADER = 'X-WX-Session-Token';
export const CODE_HEADER = 'x-wx-code';
/** The app a login names, on a server of several apps (docs/several-games.md); or body `appId`. */
export const APP_ID_HEADER = 'x-wx-appid';
/** Douyin's anonymous code of a guest login; or body field `anonymousCode`. */
export const ANONYMOUS_CODE_HEADER = 'x-wx-anonymous-code';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** JSON body; absent for 204. */
  body?: unknown;
}

export interface AdapterOptions {
  /** Where the login route answers, or false for none. @default '/wx/login' */
  loginPath?: string | false;
  /** Where the logout route answers, or false for none. @default '/wx/logout' */
  logoutPath?: string | false;
  /**
   * Milliseconds a login body may take to arrive when the adapter reads it itself; past that the
   * answer is 408 `WX_REQUEST_TIMEOUT` and the connection is closed. (A body parser mounted in
   * front reads the body itself, under its own limits.) @default 10000
   */
  bodyTimeout?: number;
}

export interface ResolvedAdapterOptions {
  loginPath: string | false;
  logoutPath: string | false;
  bodyTimeout: number;
}

export function adapterOptions(options: AdapterOptions = {}): ResolvedAdapterOptions {
  const loginPath = options.loginPath ?? '/wx/login';
  const logoutPath = options.logoutPath ?? '/wx/logout';
  for (const [name, value] of [['loginPath', loginPath], ['logoutPath', logoutPath]] as const) {
    if (value !== false && (typeof value !== 'string' || !value.startsWith('/'))) {
      throw new TypeError(`wx-session: ${name} must be a path starting with '/' or false`);
    }
  }
  const bodyTimeout = options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT;
  if (typeof bodyTimeout !== 'number' || !Number.isFinite(bodyTimeout) || bodyTimeout <= 0) {
    throw new TypeError('wx-session: bodyTimeout must be a positive number of milliseconds');
  }
  return { loginPath, logoutPath, bodyTimeout };
}

/** A request's headers: Node's object (Express, Koa, Fastify) or a Web `Headers` (Hono). */
export type HeaderSource = IncomingHttpHeaders | Headers;

function header(headers: HeaderSource, name: string): string | undefined {
  // A Node header object never holds a function, so `get` tells the two apart.
  if (typeof headers.get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as IncomingHttpHeaders)[name];
  return Array.isArray(value) ? value[0] : value;
}

const isOws = (char: number) => char === 0x20 || char === 0x09;

/**
 * `text[from..]` without HTTP's optional whitespace around it: SP and HTAB only (RFC 9110 §5.5),
 * not String#trim, which also strips a no-break space (byte 0xA0), a character outside the token
 * alphabet (SECURITY.md, "A forged token"). One pass over the text: a regex like /[ \t]+$/
 * rescans every run of spaces from each of its starts, quadratic in a header of spaces.
 */
function trimOws(text: string, from = 0): string {
  let start = from;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** A header too long to look at: answered as a malformed token (SECURITY.md, "Denial of service"). */
const OVERSIZED = '\u0000oversized';

/**
 * The token from `X-WX-Session` or `Authorization: Bearer`; never a query string or cookie. A
 * header over MAX_HEADER_LENGTH gives a token that is not well-formed (so `WX_SESSION_INVALID`,
 * `invalid_request`) without being trimmed or matched.
 */
export function tokenFrom(headers: HeaderSource): string | undefined {
  const direct = header(headers, TOKEN_HEADER);
  if (direct !== undefined && direct !== '') return direct.length > MAX_HEADER_LENGTH ? OVERSIZED : trimOws(direct);
  const auth = header(headers, 'authorization');
  if (auth === undefined) return undefined;
  if (auth.length > MAX_HEADER_LENGTH) return OVERSIZED;
  // `Bearer` (any case), at least one SP/HTAB, then the token. A non-Bearer Authorization header
  // is someone else's business, not a bad token of ours.
  if (auth.length < 7 || auth.slice(0, 6).toLowerCase() !== 'bearer' || !isOws(auth.charCodeAt(6))) return undefined;
  return trimOws(auth, 7);
}

/** A login header's value, or undefined for none or ''; one over MAX_HEADER_LENGTH is `WX_BAD_REQUEST`, unread. */
function boundedHeader(headers: HeaderSource, name: string): string | undefined {
  const value = header(headers, name);
  if (value !== undefined && value.length > MAX_HEADER_LENGTH) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: `the ${name} header is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  return value === undefined || value === '' ? undefined : value;
}

/** `X-WX-Code`, or undefined; a header over MAX_HEADER_LENGTH is `WX_BAD_REQUEST`, unread. */
export function codeFrom(headers: HeaderSource): string | undefined {
  return boundedHeader(headers, CODE_HEADER);
}

/**
 * The app a login names: body `appId` or header `X-WX-AppId`; both, and different, is
 * `WX_BAD_REQUEST` (a client that says two things is not guessed at).
 */
export function appIdFrom(body: Record<string, unknown>, headers: HeaderSource): unknown {
  const named = boundedHeader(headers, APP_ID_HEADER);
  if (absent(body.appId)) return named;
  if (named !== undefined && body.appId !== named) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: `the login names two apps: body appId and the ${APP_ID_HEADER} header differ` });
  }
  return body.appId;
}

/** The answer for an error code. `token` decides `invalid_request` vs `invalid_token` on 401s. */
export function errorReply(error: WxSessionError | ErrorCode, token?: string): Reply {
  const err = typeof error === 'string' ? new WxSessionError(error) : error;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (err.status === 401) {
    const malformed = err.code === ErrorCode.WX_SESSION_MISSING || (err.code === ErrorCode.WX_SESSION_INVALID && (token === undefined || !isWellFormedToken(token)));
    headers['WWW-Authenticate'] = `Bearer realm="wx-session", error="${malformed ? 'invalid_request' : 'invalid_token'}"`;
  }
  if (err.code === ErrorCode.WX_RATE_LIMITED) headers['Retry-After'] = '60';
  // The rest of the body is not read: the connection cannot carry another request.
  if (err.code === ErrorCode.WX_PAYLOAD_TOO_LARGE || err.code === ErrorCode.WX_REQUEST_TIMEOUT) headers['Connection'] = 'close';
  return { status: err.status, headers, body: err.toJSON() };
}

const failedRefreshes = new WeakMap<object, number>();

/**
 * Keeps WeChat's errcode of a failed key refresh with the request (docs/session-key.md, "The
 * rules"), so `required` answers it as login would. `req` is any object that lives as long as
 * the request (Node's IncomingMessage, a Web Request).
 */
export function rememberFailure(req: object, result: AuthResult): void {
  if (result.session === null && result.errcode !== undefined) failedRefreshes.set(req, result.errcode);
}

/** The answer for a request without a session: its code, with the refresh's errcode if any. */
export function failureReply(req: object, code: ErrorCode | undefined, token: string | undefined): Reply {
  const errcode = failedRefreshes.get(req);
  const error = new WxSessionError(code ?? ErrorCode.WX_SESSION_MISSING, errcode === undefined ? {} : { errcode });
  return errorReply(error, token);
}

/** Headers of an answer that re-issues the token: the token must not be cached anywhere. */
export function reissuedHeaders(token: string): Record<string, string> {
  return { [REISSUED_TOKEN_HEADER]: token, 'Cache-Control': 'no-store' };
}

/** A WxSessionError as its Reply; anything else is rethrown, for the framework's own error handling. */
export function replyFor(error: unknown, token?: string): Reply {
  if (error instanceof WxSessionError) return errorReply(error, token);
  throw error;
}

/**
 * The answer when changed `session.data` could not be saved once the route had answered: the
 * core reports every store failure as a WxSessionError (WX_STORE_UNAVAILABLE); anything else is
 * answered as one too, since the route's own answer can no longer go out.
 */
export function saveFailureReply(error: unknown): Reply {
  return errorReply(error instanceof WxSessionError ? error : new WxSessionError('WX_STORE_UNAVAILABLE'));
}

/**
 * Holds back `res.end` until changed `session.data` is saved (docs/api.md, "Adapters": saved
 * before the answer is sent); a failed save answers 503 instead, if nothing was sent yet. For
 * every adapter on a Node response: armed only when a route first touches `data`
 * (WxSession.onDataUse), so a request that never does costs nothing, and the middleware need not
 * wait for the route.
 */
export function saveBeforeEnd(session: WxSession, res: ServerResponse): void {
  const end = res.end as (...args: unknown[]) => ServerResponse;
  res.end = function endAfterSave(this: ServerResponse, ...args: unknown[]) {
    const saving = session.saveChanges();
    if (!saving) return end.apply(this, args);
    saving.then(
      () => end.apply(this, args),
      (error: unknown) => {
        if (res.headersSent) return end.apply(this, args);
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        const reply = saveFailureReply(error);
        res.statusCode = reply.status;
        for (const name in reply.headers) res.setHeader(name, reply.headers[name]!);
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        return end.call(this, JSON.stringify(reply.body));
      },
    );
    return this;
  } as ServerResponse['end'];
}

export interface LoginInput {
  /** What a body parser produced, or undefined when none ran. */
  parsedBody: unknown;
  /** The raw request: its headers, and its body when no parser ran. */
  req: IncomingMessage;
  /** How long the body may take when read here. @default DEFAULT_BODY_TIMEOUT */
  bodyTimeout?: number;
}

function isEmptyObject(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const _ in value) return false;
  return true;
}

async function loginBody(input: LoginInput): Promise<Record<string, unknown>> {
  let body = input.parsedBody;
  // Express 4's body-parser leaves `{}` when the content type was not its own and the stream unread.
  const unread = !input.req.readableEnded && (body === undefined || isEmptyObject(body));
  if (unread) body = await readBody(input.req, input.bodyTimeout);
  return loginObject(body);
}

/** POST loginPath: the code from the body or `X-WX-Code`, then core.login. */
export async function handleLogin(core: WxSessionCore, input: LoginInput): Promise<Reply> {
  try {
    return await loginReply(core, await loginBody(input), input.req.headers);
  } catch (error) {
    return replyFor(error);
  }
}

/**
 * The login for a body already made an object (`loginObject`); throws WxSessionErrors. The code
 * from body `code` or `X-WX-Code`; the app from body `appId` or `X-WX-AppId`; a Douyin guest's
 * anonymous code from body `anonymousCode` or `X-WX-Anonymous-Code`.
 */
export async function loginReply(core: WxSessionCore, body: Record<string, unknown>, headers: HeaderSource): Promise<Reply> {
  const code = body.code ?? codeFrom(headers);
  const extras: LoginExtras = { encryptedData: body.encryptedData, iv: body.iv };
  const appId = appIdFrom(body, headers);
  if (appId !== undefined) extras.appId = appId;
  const anonymousCode = absent(body.anonymousCode) ? boundedHeader(headers, ANONYMOUS_CODE_HEADER) : body.anonymousCode;
  if (anonymousCode !== undefined) extras.anonymousCode = anonymousCode;
  const { token, session, expiresIn } = await core.login(code, extras);
  const answer: Record<string, unknown> = { token, expiresIn };
  // A Douyin guest has no openid (and its answer none): the answer keeps its shape.
  if (core.config.exposeOpenid && !session.anonymous) {
    answer.openid = session.openid;
    if (session.unionid !== undefined) answer.unionid = session.unionid;
  }
  if (session.userInfo !== undefined) {
    // WeChat's user object repeats openId/unionId; an app that hides them hides them there too.
    const { openId: _openId, unionId: _unionId, ...rest } = session.userInfo;
    answer.userInfo = core.config.exposeOpenid ? session.userInfo : rest;
  }
  return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: answer };
}

/** POST logoutPath: 204 whether or not the token was good. */
export async function handleLogout(core: WxSessionCore, headers: HeaderSource): Promise<Reply> {
  try {
    await core.logout(tokenFrom(headers));
    return { status: 204, headers: { 'Cache-Control': 'no-store' } };
  } catch (error) {
    return replyFor(error);
  }
}

const MISSING: AuthResult = Object.freeze({ session: null, code: ErrorCode.WX_SESSION_MISSING });
const OVERSIZED_CODE: AuthResult = Object.freeze({ session: null, code: ErrorCode.WX_BAD_REQUEST });

/**
 * Authenticates a request's headers: at once when the core can answer without I/O, else a
 * promise. Answering at once matters in Express, where a response written in the same tick
 * as the request takes Node's cheaper path.
 */
export function authenticateHeaders(core: WxSessionCore, headers: HeaderSource): AuthResult | Promise<AuthResult> {
  const token = tokenFrom(headers);
  if (token === undefined) return MISSING;
  let code: string | undefined;
  try {
    code = codeFrom(headers);
  } catch {
    return OVERSIZED_CODE;
  }
  const options = code === undefined ? undefined : { code };
  return core.authenticateSync(token, options) ?? core.authenticate(token, options);
}
