// A fake `wx` for running docs/snippets/game.ts in Node (test/docs.test.ts): loaded with
// `--import`, it sets `globalThis.wx` before the game's code runs.
//   - wx.login() gets a code from DOCS_WX_CODES (the test's door to the mock WeChat);
//   - wx.request() sends the request with fetch, to DOCS_GAME_SERVER in place of the game's
//     https://game.example.com, and prints each exchange to stderr ("wx.request GET /me -> 200");
//   - storage is a Map; wx.showToast() prints "toast: <title>" to stdout.
const GAME_ORIGIN = 'https://game.example.com';
const server = process.env.DOCS_GAME_SERVER;
const codes = process.env.DOCS_WX_CODES;
if (!server || !codes) throw new Error('docs-wx: DOCS_GAME_SERVER and DOCS_WX_CODES must be set');

interface Callbacks<T> {
  success?(result: T): void;
  fail?(error: { errMsg: string }): void;
}

interface RequestOptions extends Callbacks<{ statusCode: number; data: unknown; header: Record<string, string> }> {
  url: string;
  method?: string;
  data?: unknown;
  header?: Record<string, string>;
}

const storage = new Map<string, unknown>();

function request(options: RequestOptions): void {
  const url = options.url.startsWith(GAME_ORIGIN) ? server + options.url.slice(GAME_ORIGIN.length) : options.url;
  const method = options.method ?? 'GET';
  const body = options.data === undefined || method === 'GET' ? undefined : JSON.stringify(options.data);
  const headers = { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...options.header };
  fetch(url, { method, headers, body }).then(
    async (response) => {
      const text = await response.text();
      let data: unknown = text;
      try {
        data = text === '' ? '' : JSON.parse(text);
      } catch {
        // WeChat hands a body that is not JSON over as text
      }
      process.stderr.write(`wx.request ${method} ${new URL(url).pathname} -> ${response.status}\n`);
      const header: Record<string, string> = {};
      response.headers.forEach((value, name) => (header[name] = value));
      options.success?.({ statusCode: response.status, data, header });
    },
    (error: unknown) => options.fail?.({ errMsg: `request:fail ${(error as Error).message}` }),
  );
}

(globalThis as { wx?: unknown }).wx = {
  login(options: Callbacks<{ code: string }>) {
    fetch(codes).then(
      async (response) => options.success?.({ code: await response.text() }),
      (error: unknown) => options.fail?.({ errMsg: `login:fail ${(error as Error).message}` }),
    );
  },
  request,
  uploadFile(options: Callbacks<unknown>) {
    setImmediate(() => options.fail?.({ errMsg: 'uploadFile:fail not in this fake' }));
  },
  getStorageSync: (key: string) => (storage.has(key) ? storage.get(key) : ''),
  setStorageSync: (key: string, value: unknown) => void storage.set(key, value),
  removeStorageSync: (key: string) => void storage.delete(key),
  showToast: (options: { title: string }) => console.log(`toast: ${options.title}`),
};

export {};
