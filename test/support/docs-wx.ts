// The fake `wx` for running docs/snippets/game.ts in Node (test/docs-snippets-client.test.ts): loaded with
// `--import`, it sets `globalThis.wx` (harness/fake-wx.ts's fake) before the game's code runs.
//   - wx.login() gets a code from DOCS_WX_CODES (the test's door to the mock WeChat);
//   - wx.request() sends the request with fetch, to DOCS_GAME_SERVER in place of the game's
//     https://game.example.com, and prints each exchange to stderr ("wx.request GET /me -> 200");
//   - storage is a Map; wx.showToast() prints "toast: <title>" to stdout.
import { createFakeWx } from '../../harness/fake-wx.js';

const GAME_ORIGIN = 'https://game.example.com';
const server = process.env.DOCS_GAME_SERVER;
const codes = process.env.DOCS_WX_CODES;
if (!server || !codes) throw new Error('docs-wx: DOCS_GAME_SERVER and DOCS_WX_CODES must be set');

const wx = createFakeWx({
  code: async () => (await fetch(codes)).text(),
  route: (url) => (url.startsWith(GAME_ORIGIN) ? server + url.slice(GAME_ORIGIN.length) : url),
  onAnswer: ({ method, url, status }) => process.stderr.write(`wx.request ${method} ${new URL(url).pathname} -> ${status}\n`),
});

(globalThis as { wx?: unknown }).wx = Object.assign(wx, {
  showToast: (options: { title: string }) => console.log(`toast: ${options.title}`),
});
