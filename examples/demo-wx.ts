// The `wx` object of the `npm start` demo (examples/demo.ts): what WeChat gives a mini game,
// faked in Node so wx-session/client can run outside WeChat.
//
// - demoWx(mock, openid): the fake `wx` of harness/fake-wx.ts: `wx.login` takes one-time codes
//   from the embedded mock WeChat, `wx.request` does real HTTP with fetch, and wx storage is an
//   in-memory Map.
// - watchWx(wx, log): wraps any `wx` to print what the client does under the hood (each
//   wx.login and each HTTP exchange) and to record the exchanges for the demo's checks.
//
// Nothing here prints a secret: tokens and codes are shortened, and the session_key never
// reaches the game in the first place.
import type { WxApi, WxRequestSuccess } from 'wx-session/client';

/** A token (or a code, a signature) as the demo prints it: enough to recognise, not enough to use. */
export function shorten(token: string): string {
  return `${token.slice(0, 8)}… (${token.length} chars)`;
}

/** JSON with the string values of `keys` shortened. */
export function showJson(value: unknown, keys: readonly string[] = ['token']): string {
  return JSON.stringify(value, (key, v: unknown) => (keys.includes(key) && typeof v === 'string' ? shorten(v) : v));
}

/** The demo's `wx`: the project's one fake (shared with the tests and the soak), for one user of `mock`. */
export { mockWx as demoWx } from '../harness/fake-wx.js';

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
        ...options,
        success(result) {
          log(`wx.login() -> code ${result.code === undefined ? '(none)' : shorten(result.code)}`);
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
