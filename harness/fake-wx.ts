// The one fake `wx` (what WeChat gives a mini game), so wx-session/client runs in Node: wx.login
// hands over a one-time code (from the mock WeChat, or from wherever `code()` gets it), wx.request
// does real HTTP with fetch, wx.uploadFile sends a multipart body built by hand, and wx storage is
// an in-memory Map. Used by the client tests, the `npm start` demo, the docs' game snippet and the
// soak. Only types come from src/, so a program importing this loads nothing else of the library.
// Its Douyin and QQ variants (createFakeTt, createFakeQq) differ only in what `login` answers
// (docs/platforms.md): `tt.login` gives `{errMsg, code, anonymousCode, isLogin}`, `qq.login` `{code}`.
import { randomBytes } from 'node:crypto';
import type { WxApi, WxFailResult, WxLoginOptions, WxLoginSuccess, WxRequestOptions, WxUploadFileOptions } from '../src/client/index.js';
import type { MockIssueCodeOptions, MockWeChat } from '../src/testing/index.js';

/** One wx.request as fetch answered it, for whoever watches (the soak records it, docs print it). */
export interface FetchedAnswer {
  method: string;
  /** The URL fetched (after `route`). */
  url: string;
  /** The headers sent. */
  headers: Record<string, string>;
  status: number;
  /** The body as it came, before wx.request parsed it. */
  text: string;
  /** The answer's headers, lower-case names. */
  header: Record<string, string>;
  ms: number;
}

export interface FetchOptions {
  /** Answer header names as the fake hands them over (fetch gives them lower-case; WeChat's case varies). */
  headerName?(name: string): string;
  /** Abort a request after this long (it then fails like a network error). @default no limit */
  timeoutMs?: number;
  /** Sees each answer before `success` is called. */
  onAnswer?(answer: FetchedAnswer): void;
}

/** A wx `fail` result for a network error, as WeChat reports one (errno 600001). */
export function failOf(what: string, error: unknown): WxFailResult {
  const cause = (error as { cause?: { code?: string } }).cause;
  return { errMsg: `${what}:fail ${cause?.code ?? String((error as Error).message)}`, errno: 600001 };
}

/** The URL and fetch body of a wx.request: objects as JSON, or as the query string of a GET. */
function encodeRequest(options: WxRequestOptions, headers: Record<string, string>): { url: string; body?: string | ArrayBuffer } {
  const { data } = options;
  if (data === undefined) return { url: options.url };
  let url = options.url;
  let body: string | ArrayBuffer | undefined;
  if ((options.method ?? 'GET') === 'GET') {
    const query = new URLSearchParams(typeof data === 'string' ? data : (data as Record<string, string>)).toString();
    if (query) url += (url.includes('?') ? '&' : '?') + query;
  } else {
    body = typeof data === 'string' || data instanceof ArrayBuffer ? data : JSON.stringify(data);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  return { url, body };
}

/**
 * wx.request over real HTTP with fetch: objects are sent as JSON (or as the query string of a
 * GET), and a JSON answer is parsed, as WeChat does with its default dataType 'json'.
 */
export function requestOverFetch(options: WxRequestOptions, how: FetchOptions = {}): void {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { ...options.header };
  const { url, body } = encodeRequest(options, headers);
  const started = performance.now();
  const signal = how.timeoutMs === undefined ? undefined : AbortSignal.timeout(how.timeoutMs);
  fetch(url, { method, headers, body, signal }).then(
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
      const raw: Record<string, string> = {};
      response.headers.forEach((value, name) => (raw[name] = value));
      how.onAnswer?.({ method, url, headers, status: response.status, text, header: raw, ms: performance.now() - started });
      const header: Record<string, string> = {};
      for (const [name, value] of Object.entries(raw)) header[how.headerName ? how.headerName(name) : name] = value;
      options.success?.({ statusCode: response.status, data: parsed, header });
    },
    (error: unknown) => options.fail?.(failOf('request', error)),
  );
}

/** wx.uploadFile: `file` and the formData as a multipart/form-data POST. */
function uploadOverFetch(options: WxUploadFileOptions, file: Buffer): void {
  const boundary = `----WxFakeBoundary${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(options.formData ?? {})) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${String(value)}\r\n`));
  }
  const filename = options.filePath.split('/').pop();
  chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${options.name}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  chunks.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
  const headers = { ...options.header, 'content-type': `multipart/form-data; boundary=${boundary}` };
  fetch(options.url, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
    // WeChat's uploadFile answer: the body as text, and (per minigame-api-typings) no header.
    async (response) => options.success?.({ statusCode: response.status, data: await response.text() }),
    (error: unknown) => options.fail?.(failOf('uploadFile', error)),
  );
}

/** What every fake platform object shares: the device's storage and where its requests go. */
export interface FakeDeviceOptions extends FetchOptions {
  /** The device's wx storage. @default a new Map */
  storage?: Map<string, unknown>;
  /** Rewrites each wx.request URL before it is fetched (e.g. a placeholder origin to a test server). */
  route?(url: string): string;
}

export interface FakeWxOptions extends FakeDeviceOptions {
  /** wx.login's one-time code. */
  code(): string | Promise<string>;
}

export interface FakeWx extends WxApi {
  /** wx storage (`wx.setStorageSync`...), in memory: where the client keeps its token. */
  readonly storage: Map<string, unknown>;
  /** Files `uploadFile` can send, by `filePath`. */
  readonly files: Map<string, Buffer>;
  /** When set, `login` fails with this errMsg. */
  loginFails?: string;
  /** How many times `login` was called. */
  loginCalls: number;
  /** The options of each `login` call, without its callbacks (e.g. `{ force: false }`), in order. */
  readonly loginOptions: Omit<WxLoginOptions, 'success' | 'fail'>[];
}

/**
 * A fake platform object whose `login` answers what `answer` gives for that call's options (an
 * answer at hand at once, as the platform's own login would; a thrown error or rejection fails it).
 */
function createFakeDevice(options: FakeDeviceOptions, answer: (login: WxLoginOptions) => WxLoginSuccess | Promise<WxLoginSuccess>): FakeWx {
  const storage = options.storage ?? new Map<string, unknown>();
  const wx: FakeWx = {
    storage,
    files: new Map(),
    loginCalls: 0,
    loginOptions: [],

    login(callbacks) {
      wx.loginCalls += 1;
      const { success: _success, fail: _fail, ...rest } = callbacks;
      wx.loginOptions.push(rest);
      const fail = (error: unknown) => callbacks.fail?.({ errMsg: `login:fail ${String((error as Error).message)}` });
      setImmediate(() => {
        if (wx.loginFails) return callbacks.fail?.({ errMsg: wx.loginFails });
        let result: WxLoginSuccess | Promise<WxLoginSuccess>;
        try {
          result = answer(callbacks);
        } catch (error) {
          return fail(error);
        }
        if (result instanceof Promise) result.then((issued) => callbacks.success?.(issued), fail);
        else callbacks.success?.(result);
      });
    },

    request(request: WxRequestOptions) {
      requestOverFetch(options.route ? { ...request, url: options.route(request.url) } : request, options);
    },

    uploadFile(upload: WxUploadFileOptions) {
      const file = wx.files.get(upload.filePath);
      if (file) uploadOverFetch(upload, file);
      else setImmediate(() => upload.fail?.({ errMsg: `uploadFile:fail file not found ${upload.filePath}` }));
    },

    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => void storage.set(key, value),
    removeStorageSync: (key) => void storage.delete(key),
  };
  return wx;
}

/** A fake `wx` for one device. */
export function createFakeWx(options: FakeWxOptions): FakeWx {
  return createFakeDevice(options, () => {
    const code = options.code();
    return typeof code === 'string' ? { code } : code.then((issued) => ({ code: issued }));
  });
}

/** A fake `qq` (QQ mini games) for one device: `qq.login` answers `{ code }`, as `wx.login` does. */
export function createFakeQq(options: FakeWxOptions): FakeWx {
  return createFakeWx(options);
}

export interface FakeTtOptions extends FakeDeviceOptions {
  /**
   * The one-time `code` of the user logged into Douyin on this device. Without it the device is a
   * guest (not logged into Douyin): its `tt.login` gives only `anonymousCode`.
   */
  code?(): string | Promise<string>;
  /** The device's one-time `anonymousCode`. @default a fresh random one per login */
  anonymousCode?(): string | Promise<string>;
}

export interface FakeTt extends FakeWx {
  /**
   * Whether the user is logged into Douyin, so `tt.login` gives a `code` (settable). A guest's
   * `tt.login` with `force` not `false` stands for Douyin's login sheet, cancelled: it fails with
   * `'login:fail auth cancel'`; with `force: false` it succeeds with only `anonymousCode`.
   * @default whether `code` was given
   */
  isLogin: boolean;
}

/**
 * A fake `tt` (Douyin mini games) for one device: `tt.login` answers
 * `{ errMsg: 'login:ok', code, anonymousCode, isLogin }`, `code` only while `isLogin`.
 */
export function createFakeTt(options: FakeTtOptions): FakeTt {
  const tt = Object.assign(
    createFakeDevice(options, async (login): Promise<WxLoginSuccess> => {
      const isLogin = tt.isLogin;
      if (!isLogin && login.force !== false) throw new Error('auth cancel');
      if (isLogin && !options.code) throw new Error('no code: createFakeTt was given none');
      const anonymousCode = options.anonymousCode ? await options.anonymousCode() : `anon${randomBytes(12).toString('hex')}`;
      return isLogin ? { errMsg: 'login:ok', code: await options.code!(), anonymousCode, isLogin } : { errMsg: 'login:ok', anonymousCode, isLogin };
    }),
    { isLogin: options.code !== undefined },
  );
  return tt;
}

export interface MockWx extends FakeWx {
  /** The WeChat user whose codes `login` returns. */
  openid: string;
  /** Options for the codes `login` issues next (e.g. `{ errcode: 45011 }`). */
  codeOptions?: MockIssueCodeOptions;
}

/** A fake `wx` for one WeChat user (`openid`) whose wx.login takes its codes from `mock`. */
export function mockWx(mock: MockWeChat, openid: string, options: Omit<FakeWxOptions, 'code'> = {}): MockWx {
  const wx: MockWx = Object.assign(createFakeWx({ ...options, code: () => mock.issueCode(wx.openid, wx.codeOptions) }), { openid });
  return wx;
}
