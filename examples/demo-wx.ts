// The `wx` object of the `npm start` demo (examples/demo.ts): what WeChat gives a mini game,
// faked in Node so wx-session/client can run outside WeChat.
//
// - demoWx(mock, openid): `wx.login` takes one-time codes from the embedded mock WeChat,
//   `wx.request` does real HTTP with fetch, and wx storage is an in-memory Map.
// - watchWx(wx, log): wraps any `wx` to print what the client does under the hood (each
//   wx.login and each HTTP exchange) and to record the exchanges for the demo's checks.
//
// Nothing here prints a secret: tokens and codes are shortened, and the session_key never
// reaches the game in the first place.
import type { WxApi, WxFailResult, WxRequestOptions, WxRequestSuccess } from 'wx-session/client';
import type { MockWeChat } from 'wx-session/testing';

/** A token (or a code, a signature) as the demo prints it: enough to recognise, not enough to use. */
export function shorten(token: string): string {
  return `${token.slice(0, 8)}… (${token.length} chars)`;
}

/** JSON with the string values of `keys` shortened. */
export function showJson(value: unknown, keys: readonly string[] = ['token']): string {
  return JSON.stringify(value, (key, v: unknown) => (keys.includes(key) && typeof v === 'string' ? shorten(v) : v));
}

// ---------------------------------------------------------------------------------------------
// The fake wx

export interface DemoWx extends WxApi {
  /** wx storage (`wx.setStorageSync`...), in memory: where the client keeps its token. */
  readonly storage: Map<string, unknown>;
}

/** A wx `fail` result for a network error, as WeChat reports one (errno 600001). */
export function failOf(what: string, error: unknown): WxFailResult {
  const cause = (error as { cause?: { code?: string } }).cause;
  return { errMsg: `${what}:fail ${cause?.code ?? String((error as Error).message)}`, errno: 600001 };
}

/**
 * wx.request over real HTTP with fetch: objects are sent as JSON (or as the query string of a
 * GET), and a JSON answer is parsed, as WeChat does with its default dataType 'json'. Answer
 * header names come from `headerName` (fetch gives them lower-case; WeChat's case varies).
 */
export function requestOverFetch(options: WxRequestOptions, headerName: (name: string) => string = (name) => name): void {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { ...options.header };
  let url = options.url;
  let body: string | ArrayBuffer | undefined;
  const { data } = options;
  if (data !== undefined) {
    if (method === 'GET') {
      const query = new URLSearchParams(typeof data === 'string' ? data : (data as Record<string, string>)).toString();
      if (query) url += (url.includes('?') ? '&' : '?') + query;
    } else if (typeof data === 'string' || data instanceof ArrayBuffer) {
      body = data;
    } else {
      body = JSON.stringify(data);
    }
  }
  if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  fetch(url, { method, headers, body }).then(
    async (response) => {
      const text = await response.text();
      let parsed: unknown = text;
      if ((options.dataType ?? 'json') === 'json') {
        try {
          parsed = JSON.parse(text);
        } catch {
          // WeChat hands over the text when it is not JSON
        }
      }
      const header: Record<string, string> = {};
      response.headers.forEach((value, name) => (header[headerName(name)] = value));
      options.success?.({ statusCode: response.status, data: parsed, header });
    },
    (error: unknown) => options.fail?.(failOf('request', error)),
  );
}

/** A fake `wx` for one WeChat user (`openid`) on one device, logging in against `mock`. */
export function demoWx(mock: MockWeChat, openid: string): DemoWx {
  const storage = new Map<string, unknown>();
  return {
    storage,

    // wx.login: WeChat hands the game a one-time code for the user; here the mock does.
    login(options) {
      setImmediate(() => options.success?.({ code: mock.issueCode(openid) }));
    },

    // wx.request: real HTTP.
    request(options: WxRequestOptions) {
      requestOverFetch(options);
    },

    // The demo uploads nothing.
    uploadFile(options) {
      setImmediate(() => options.fail?.({ errMsg: 'uploadFile:fail not available in the demo' }));
    },

    getStorageSync(key) {
      return storage.has(key) ? storage.get(key) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, value);
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Watching what the client does

/** One HTTP exchange the client made through `wx.request`. */
export interface Exchange {
  method: string;
  /** Path and query, without the server's address. */
  path: string;
  /** The X-WX-Session token sent, if any. */
  token?: string;
  /** Whether X-WX-Code (a fresh code, to repair a stale session_key) was sent. */
  sentCode: boolean;
  status: number;
  /** The `code` of a wx-session error answer. */
  errorCode?: string;
  /** The answer body as the client got it (parsed JSON, or text). */
  data: unknown;
}

export interface WatchedWx extends WxApi {
  /** Every exchange so far, in order. */
  readonly exchanges: Exchange[];
  /** How many times `wx.login` was called. */
  logins: number;
}

function headerValue(header: Record<string, unknown> | undefined, name: string): string | undefined {
  for (const [key, value] of Object.entries(header ?? {})) if (key.toLowerCase() === name && value != null) return String(value);
  return undefined;
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return url;
  }
}

/**
 * `wx` with each wx.login and each wx.request printed through `log`:
 *   wx.login() -> code AbCdEfGh… (32 chars)
 *   -> GET /me  X-WX-Session: AbCdEfGh… (131 chars)  X-WX-Code: AbCdEfGh… (32 chars)
 *   <- 200  {"openid":"…","data":{}}
 * `hooks.beforeAnswer` runs just before an answer is printed (the demo prints there what the
 * server asked WeChat meanwhile).
 */
export function watchWx(wx: WxApi, log: (line: string) => void, hooks: { beforeAnswer?(): void } = {}): WatchedWx {
  const watched: WatchedWx = {
    exchanges: [],
    logins: 0,

    login(options) {
      watched.logins += 1;
      return wx.login({
        success(result) {
          log(`wx.login() -> code ${shorten(result.code)}`);
          options.success?.(result);
        },
        fail(error) {
          log(`wx.login() failed: ${error.errMsg}`);
          options.fail?.(error);
        },
      });
    },

    request(options) {
      const method = options.method ?? 'GET';
      const path = pathOf(options.url);
      const token = headerValue(options.header, 'x-wx-session');
      const code = headerValue(options.header, 'x-wx-code');
      const sent = [`-> ${method} ${path}`];
      if (token !== undefined) sent.push(`X-WX-Session: ${shorten(token)}`);
      if (code !== undefined) sent.push(`X-WX-Code: ${shorten(code)}`);
      if (options.data !== undefined) sent.push(typeof options.data === 'string' ? options.data : showJson(options.data, ['token', 'code']));
      log(sent.join('  '));
      return wx.request({
        ...options,
        success(result: WxRequestSuccess) {
          const { statusCode, data } = result;
          const errorCode = data !== null && typeof data === 'object' && typeof (data as { code?: unknown }).code === 'string' ? (data as { code: string }).code : undefined;
          watched.exchanges.push({ method, path, ...(token !== undefined ? { token } : {}), sentCode: code !== undefined, status: statusCode, ...(errorCode !== undefined ? { errorCode } : {}), data });
          hooks.beforeAnswer?.();
          const got = [`<- ${statusCode}`];
          if (data !== '' && data !== undefined) got.push(typeof data === 'string' ? data : showJson(data));
          const reissued = headerValue(result.header, 'x-wx-session-token');
          if (reissued !== undefined) got.push(`X-WX-Session-Token: ${shorten(reissued)}`);
          log(got.join('  '));
          options.success?.(result);
        },
        fail(error) {
          log(`<- failed: ${error.errMsg}`);
          options.fail?.(error);
        },
      });
    },

    uploadFile: (options) => wx.uploadFile(options),
    getStorageSync: (key) => wx.getStorageSync(key),
    setStorageSync: (key, value) => wx.setStorageSync(key, value),
    removeStorageSync: (key) => wx.removeStorageSync(key),
  };
  return watched;
}
