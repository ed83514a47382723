// What the Express and Koa adapters share: the wire protocol of DESIGN.md §4 as plain values.
// An adapter maps its request to these inputs and writes the returned Reply back; nothing else.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ErrorCode, WxSessionError } from './errors.js';
import type { AuthResult, WxSessionCore } from './core.js';
import { isWellFormedToken } from './token.js';

export const LOGIN_BODY_LIMIT = 8 * 1024;
export const TOKEN_HEADER = 'x-wx-session';
export const REISSUED_TOKEN_HEADER = 'X-WX-Session-Token';
export const CODE_HEADER = 'x-wx-code';

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
}

export function adapterPaths(options: AdapterOptions = {}): { loginPath: string | false; logoutPath: string | false } {
  const loginPath = options.loginPath ?? '/wx/login';
  const logoutPath = options.logoutPath ?? '/wx/logout';
  for (const [name, value] of [['loginPath', loginPath], ['logoutPath', logoutPath]] as const) {
    if (value !== false && (typeof value !== 'string' || !value.startsWith('/'))) {
      throw new TypeError(`wx-session: ${name} must be a path starting with '/' or false`);
    }
  }
  return { loginPath, logoutPath };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * HTTP's optional whitespace: SP and HTAB only (RFC 9110 §5.5). Not String#trim, which also
 * strips a no-break space (byte 0xA0), a character outside the token alphabet (§7).
 */
const OWS = /^[ \t]+|[ \t]+$/g;

/** The token from `X-WX-Session` or `Authorization: Bearer`; never a query string or cookie. */
export function tokenFrom(headers: IncomingHttpHeaders): string | undefined {
  const direct = header(headers, TOKEN_HEADER);
  if (direct !== undefined && direct !== '') return direct.replace(OWS, '');
  const auth = header(headers, 'authorization');
  if (auth === undefined) return undefined;
  const match = /^Bearer[ \t]+(.*)$/i.exec(auth);
  // A non-Bearer Authorization header is someone else's business, not a bad token of ours.
  return match ? match[1]!.replace(OWS, '') : undefined;
}

export function codeFrom(headers: IncomingHttpHeaders): string | undefined {
  const code = header(headers, CODE_HEADER);
  return code === undefined || code === '' ? undefined : code;
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
  if (err.code === ErrorCode.WX_PAYLOAD_TOO_LARGE) headers['Connection'] = 'close';
  return { status: err.status, headers, body: err.toJSON() };
}

/** Any failure as a Reply: our own errors as they are, anything else as a store failure is not assumed. */
export function replyFor(error: unknown, token?: string): Reply {
  if (error instanceof WxSessionError) return errorReply(error, token);
  throw error;
}

/**
 * Reads a login body no body parser has read, up to LOGIN_BODY_LIMIT bytes. On overflow it
 * stops keeping bytes, lets the rest drain, and throws WX_PAYLOAD_TOO_LARGE.
 */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > LOGIN_BODY_LIMIT) {
      req.resume();
      reject(new WxSessionError('WX_PAYLOAD_TOO_LARGE'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > LOGIN_BODY_LIMIT) {
        cleanup();
        req.resume();
        reject(new WxSessionError('WX_PAYLOAD_TOO_LARGE'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = () => {
      cleanup();
      reject(new WxSessionError('WX_BAD_REQUEST', { message: 'the request body could not be read' }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onError);
  });
}

export interface LoginInput {
  headers: IncomingHttpHeaders;
  /** What a body parser produced, or undefined when none ran. */
  parsedBody: unknown;
  /** The raw request, read here when no parser ran. */
  req: IncomingMessage;
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
  if (unread) body = await readBody(input.req);
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string') {
    if (body.trim() === '') return {};
    try {
      body = JSON.parse(body);
    } catch {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'the login body is not valid JSON' });
    }
  }
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the login body must be a JSON object' });
  }
  return body as Record<string, unknown>;
}

/** POST loginPath: the code from the body or `X-WX-Code`, then core.login. */
export async function handleLogin(core: WxSessionCore, input: LoginInput): Promise<Reply> {
  try {
    const body = await loginBody(input);
    const code = body.code ?? codeFrom(input.headers);
    const { token, session, expiresIn } = await core.login(code, { encryptedData: body.encryptedData, iv: body.iv });
    const answer: Record<string, unknown> = { token, expiresIn };
    if (core.config.exposeOpenid) {
      answer.openid = session.openid;
      if (session.unionid !== undefined) answer.unionid = session.unionid;
    }
    if (session.userInfo !== undefined) {
      // WeChat's user object repeats openId/unionId; an app that hides them hides them there too.
      const { openId: _openId, unionId: _unionId, ...rest } = session.userInfo;
      answer.userInfo = core.config.exposeOpenid ? session.userInfo : rest;
    }
    return { status: 200, headers: { 'Cache-Control': 'no-store' }, body: answer };
  } catch (error) {
    return replyFor(error);
  }
}

/** POST logoutPath: 204 whether or not the token was good. */
export async function handleLogout(core: WxSessionCore, headers: IncomingHttpHeaders): Promise<Reply> {
  try {
    await core.logout(tokenFrom(headers));
    return { status: 204, headers: { 'Cache-Control': 'no-store' } };
  } catch (error) {
    return replyFor(error);
  }
}

const MISSING: AuthResult = Object.freeze({ session: null, code: ErrorCode.WX_SESSION_MISSING });

/**
 * Authenticates a request's headers: at once when the core can answer without I/O, else a
 * promise. Answering at once matters in Express, where a response written in the same tick
 * as the request takes Node's cheaper path.
 */
export function authenticateHeaders(core: WxSessionCore, headers: IncomingHttpHeaders): AuthResult | Promise<AuthResult> {
  const token = tokenFrom(headers);
  if (token === undefined) return MISSING;
  const code = codeFrom(headers);
  const options = code === undefined ? undefined : { code };
  return core.authenticateSync?.(token, options) ?? core.authenticate(token, options);
}
