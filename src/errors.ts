// Error codes, their HTTP statuses, and the one error class the package throws.

/** Whether a code, token or appId counts as not given: undefined, null or ''. */
export const absent = (value: unknown): value is undefined | null | '' => value === undefined || value === null || value === '';

/** A string with at least one character (an input or a field of an answer that must be given). */
export const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Every error the package reports; keys equal values, so `ErrorCode.X === 'X'`. */
export const ErrorCode = Object.freeze({
  WX_CODE_MISSING: 'WX_CODE_MISSING',
  WX_BAD_REQUEST: 'WX_BAD_REQUEST',
  WX_PAYLOAD_TOO_LARGE: 'WX_PAYLOAD_TOO_LARGE',
  WX_CODE_INVALID: 'WX_CODE_INVALID',
  WX_CODE_USED: 'WX_CODE_USED',
  WX_USER_BLOCKED: 'WX_USER_BLOCKED',
  WX_RATE_LIMITED: 'WX_RATE_LIMITED',
  WX_SESSION_MISSING: 'WX_SESSION_MISSING',
  WX_SESSION_INVALID: 'WX_SESSION_INVALID',
  WX_SESSION_EXPIRED: 'WX_SESSION_EXPIRED',
  WX_SESSION_KEY_EXPIRED: 'WX_SESSION_KEY_EXPIRED',
  WX_UPSTREAM_ERROR: 'WX_UPSTREAM_ERROR',
  WX_UPSTREAM_TIMEOUT: 'WX_UPSTREAM_TIMEOUT',
  WX_CONFIG_ERROR: 'WX_CONFIG_ERROR',
  WX_STORE_UNAVAILABLE: 'WX_STORE_UNAVAILABLE',
  WX_REQUEST_TIMEOUT: 'WX_REQUEST_TIMEOUT',
  WX_APP_UNKNOWN: 'WX_APP_UNKNOWN',
} as const);

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status answered for each code (README.md, "Errors"). */
export const errorStatus: Readonly<Record<ErrorCode, number>> = Object.freeze({
  WX_CODE_MISSING: 400,
  WX_BAD_REQUEST: 400,
  WX_PAYLOAD_TOO_LARGE: 413,
  WX_CODE_INVALID: 401,
  WX_CODE_USED: 401,
  WX_USER_BLOCKED: 403,
  WX_RATE_LIMITED: 429,
  WX_SESSION_MISSING: 401,
  WX_SESSION_INVALID: 401,
  WX_SESSION_EXPIRED: 401,
  WX_SESSION_KEY_EXPIRED: 401,
  WX_UPSTREAM_ERROR: 502,
  WX_UPSTREAM_TIMEOUT: 504,
  WX_CONFIG_ERROR: 500,
  WX_STORE_UNAVAILABLE: 503,
  WX_REQUEST_TIMEOUT: 408,
  WX_APP_UNKNOWN: 400,
});

const defaultMessages: Readonly<Record<ErrorCode, string>> = Object.freeze({
  WX_CODE_MISSING: 'login requires a code from wx.login()',
  WX_BAD_REQUEST: 'the request is malformed',
  WX_PAYLOAD_TOO_LARGE: 'the login body is larger than 8 KiB',
  WX_CODE_INVALID: 'WeChat refused the login code as invalid or expired',
  WX_CODE_USED: 'the login code has already been used',
  WX_USER_BLOCKED: 'WeChat blocked this user as high-risk',
  WX_RATE_LIMITED: 'too many logins for this user; retry later',
  WX_SESSION_MISSING: 'this route requires a session token',
  WX_SESSION_INVALID: 'the session token is invalid',
  WX_SESSION_EXPIRED: 'the session has expired or was logged out',
  WX_SESSION_KEY_EXPIRED: 'the WeChat session key has expired: retry the request with a fresh wx.login() code in X-WX-Code (same token)',
  WX_UPSTREAM_ERROR: 'WeChat answered with an error',
  WX_UPSTREAM_TIMEOUT: 'WeChat did not answer in time',
  WX_CONFIG_ERROR: 'WeChat rejected the app credentials',
  WX_STORE_UNAVAILABLE: 'the session store is unavailable',
  WX_REQUEST_TIMEOUT: 'the login body did not arrive in time',
  WX_APP_UNKNOWN: 'this server does not serve the app named by appId (X-WX-AppId)',
});

export interface WxSessionErrorOptions {
  message?: string;
  /** WeChat's numeric errcode, when WeChat said it. */
  errcode?: number;
  /** Kept as a bare copy: its class name, message and code, never more (see scrubCause). */
  cause?: unknown;
  /** The WeChat API path that failed, e.g. `/sns/jscode2session`. */
  endpoint?: string;
  /** WeChat's request id, when its answer carried one (quote it to WeChat's support). */
  rid?: string;
}

/**
 * What a cause may keep: the class name, `message` and `code` of the error, nothing else. A store
 * client's error carries the failed command's arguments (ioredis: `command.args`, i.e. a whole
 * session record), a fetch error its URL (with the AppSecret in the query), and their own causes
 * more of the same; none of that may travel into a log line or `util.inspect` at any depth.
 */
export function scrubCause(error: unknown): Error {
  const source = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown; constructor?: { name?: unknown } };
  const clean = new Error(typeof source.message === 'string' ? source.message : String(error));
  const name = error instanceof Error ? error.constructor?.name || error.name : typeof error;
  Object.defineProperty(clean, 'name', { value: typeof name === 'string' ? name : 'Error', enumerable: false, writable: true, configurable: true });
  if (typeof source.code === 'string' || typeof source.code === 'number') (clean as Error & { code?: unknown }).code = source.code;
  delete clean.stack;
  return clean;
}

/**
 * Marks a WxSessionError, so `instanceof` and isWxSessionError also recognise one made by the
 * other build (ESM vs CommonJS) or by a second copy of the package.
 */
const BRAND = Symbol.for('wx-session.WxSessionError');

/** The only error type wx-session throws or answers with. Its message never holds a secret. */
export class WxSessionError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  readonly code: ErrorCode;
  readonly status: number;
  readonly errcode?: number;
  /** The WeChat API path that failed, when a WeChat call did. Not part of the answer. */
  readonly endpoint?: string;
  /** WeChat's request id, when its answer carried one. Not part of the answer. */
  readonly rid?: string;

  constructor(code: ErrorCode, options: WxSessionErrorOptions = {}) {
    super(options.message ?? defaultMessages[code], options.cause === undefined ? undefined : { cause: scrubCause(options.cause) });
    Object.defineProperty(this, BRAND, { value: true });
    this.name = 'WxSessionError';
    this.code = code;
    this.status = errorStatus[code];
    if (options.errcode !== undefined) this.errcode = options.errcode;
    if (options.endpoint !== undefined) this.endpoint = options.endpoint;
    if (options.rid !== undefined) this.rid = options.rid;
  }

  /** The JSON body answered to the client. */
  toJSON(): { code: ErrorCode; message: string; errcode?: number } {
    return this.errcode === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, errcode: this.errcode };
  }
}

export function isWxSessionError(value: unknown): value is WxSessionError {
  return value instanceof WxSessionError;
}
