// `npm start` (examples/demo.ts) as a user runs it: a child process, its exit code and output.
// It imports the package by name (`wx-session`, resolved to dist/), so `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { runSteps, steps, type Step } from '../examples/demo.js';
import { createApp } from '../examples/express/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCK_SECRET = 'demo-test-mock-app-secret-5f3a9c';
const SESSION_SECRET = 'demo-test-session-secret-0123456789abcdef';
/** An AppSecret the mock WeChat does not know. */
const WRONG_APP_SECRET = 'demo-test-wrong-app-secret-7c1e0b';
/** A WeChat session_key: 16 bytes in base64. */
const SESSION_KEY_SHAPE = /[A-Za-z0-9+/]{22}==/;
/** A whole session token: a base64url id, '.', a base64 signature. */
const TOKEN_SHAPE = /[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}/;

interface Demo {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the exit code; rejects after `ms` (and kills the demo). */
  exit(ms?: number): Promise<number | null>;
  /** Resolves with the first match of `pattern` in stdout. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

/** Starts the demo with only the given variables of ours set (none inherited). */
function startDemo(vars: Record<string, string>): Demo {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(WX_|DEMO_)/.test(name) || name === 'PORT') delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { cwd: ROOT, env: { ...env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exit(ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the demo did not exit within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, ms);
        void exited.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const match = pattern.exec(stdout);
          if (!match) return;
          clearTimeout(timer);
          child.stdout!.off('data', look);
          resolve(match);
        };
        const timer = setTimeout(() => {
          child.stdout!.off('data', look);
          reject(new Error(`no ${pattern} in the demo's output within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, ms);
        child.stdout!.on('data', look);
        void exited.then(() => setImmediate(() => reject(new Error(`the demo exited before printing ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`))));
        look();
      });
    },
  };
}

function expectNoSecrets(demo: Demo, ...secrets: string[]): void {
  const output = demo.stdout + demo.stderr;
  for (const secret of secrets) expect(output).to.not.include(secret);
  expect(output).to.not.match(SESSION_KEY_SHAPE);
  expect(output).to.not.match(TOKEN_SHAPE);
}

describe('npm start (examples/demo.ts)', function () {
  this.timeout(30_000);

  describe('with the embedded mock WeChat', () => {
    it('walks through every step, prints no secret, and exits 0 with DEMO_EXIT=1', async () => {
      const demo = startDemo({ PORT: '0', DEMO_EXIT: '1', DEMO_MOCK_SECRET: MOCK_SECRET });
      const code = await demo.exit();
      expect(code, demo.stderr).to.equal(0);
      steps.forEach((step, index) => expect(demo.stdout).to.include(`\n${index + 1}. ${step.title}\n`));
      expect(demo.stdout).to.match(/game server +http:\/\/127\.0\.0\.1:[1-9]\d*/);
      const out = demo.stdout;
      // 1. The client logs in by itself (wx.login + POST /wx/login), then sends GET /me.
      expect(out).to.match(/wx\.login\(\) -> code \S+… \(32 chars\)\n +-> POST \/wx\/login  \{"code":"\S+… \(32 chars\)"\}\n/);
      expect(out).to.include('<- 200  {"token":"');
      expect(out).to.match(/-> GET \/me  X-WX-Session: \S+… \(\d+ chars\)\n/);
      // The example runs with checkSessionKey interval 0: the server checks the key on every request.
      expect(out).to.include('server -> WeChat: GET /wxa/checksession  errcode 0');
      // 2. The score.
      expect(out).to.include('{"score":4200}');
      expect(out).to.include('"data":{"score":4200}');
      // 3. User storage, written with a signed call; the signature printed shortened only.
      expect(out).to.match(/-> POST \/me\/storage  X-WX-Session: \S+… \(\d+ chars\)  \{"key":"best","value":4200\}\n/);
      expect(out).to.include('server -> WeChat: POST /wxa/set_user_storage  errcode 0');
      expect(out).to.include('<- 204');
      expect(out).to.include('mock.userStorage(openid): {"best":"4200"}');
      expect(out).to.include('{"kv_list":[{"key":"best","value":"4200"}]}');
      expect(out).to.match(/sig_method=hmac_sha256  signature=[0-9a-f]{8}… \(64 chars\)/);
      expect(out).to.not.match(/[0-9a-f]{64}/);
      // 4. The key rotated: 401 WX_SESSION_KEY_EXPIRED, wx.login, the retry with X-WX-Code, same token.
      expect(out).to.include('server -> WeChat: GET /wxa/checksession  errcode 87009');
      expect(out).to.include('<- 401  {"code":"WX_SESSION_KEY_EXPIRED"');
      expect(out).to.match(/-> GET \/me  X-WX-Session: \S+… \(\d+ chars\)  X-WX-Code: \S+… \(32 chars\)\n/);
      expect(out.match(/wx\.login\(\) -> code /g)).to.have.length(2);
      const same = /same token: before (\S+… \(\d+ chars\)), after (\S+… \(\d+ chars\))\n/.exec(out);
      expect(same, 'the same-token line').to.not.equal(null);
      expect(same![2]).to.equal(same![1]);
      // Every token printed is the one token of the walk-through, shortened.
      const tokens = new Set([...out.matchAll(/X-WX-Session: (\S+… \(\d+ chars\))/g)].map((match) => match[1]));
      expect([...tokens]).to.deep.equal([same![1]]);
      // 5. client.logout(), then the old token sent by hand is refused.
      expect(out).to.match(/-> POST \/wx\/logout  X-WX-Session: \S+… \(\d+ chars\)\n +<- 204\n/);
      expect(out).to.include('"code":"WX_SESSION_EXPIRED"');
      expect(out).to.include('WWW-Authenticate: Bearer realm="wx-session", error="invalid_token"');
      expect(out).to.include(`All ${steps.length} steps passed.`);
      expect(out).to.not.include('FAILED');
      expect(out).to.not.include('Serving on');
      expect(out).to.not.match(/"session_?key"\s*:|session_?key=/i); // no session_key field or parameter
      expect(demo.stderr).to.equal('');
      expectNoSecrets(demo, MOCK_SECRET);
    });

    it('keeps serving after the walk-through and stops cleanly on SIGINT', async () => {
      const demo = startDemo({ PORT: '0', DEMO_MOCK_SECRET: MOCK_SECRET });
      const [, url] = await demo.waitFor(/Serving on (http:\/\/127\.0\.0\.1:\d+) — Ctrl-C to stop/);
      // The printed curl line carries a fresh code: it logs in for real.
      const [, loginCode] = await demo.waitFor(/-d '\{"code":"([A-Za-z0-9]+)"\}'/);
      const login = await fetch(`${url}/wx/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: loginCode }) });
      expect(login.status).to.equal(200);
      const { token } = (await login.json()) as { token: string };
      expect((await fetch(`${url}/me`, { headers: { 'X-WX-Session': token } })).status).to.equal(200);
      demo.child.kill('SIGINT');
      expect(await demo.exit()).to.equal(0);
      expect(demo.stdout).to.include('Stopping.');
      expectNoSecrets(demo, MOCK_SECRET);
    });

    it('exits 1 with a clear message when PORT is taken', async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const { port } = blocker.address() as AddressInfo;
      try {
        const demo = startDemo({ PORT: String(port), DEMO_EXIT: '1' });
        expect(await demo.exit()).to.equal(1);
        expect(demo.stderr).to.include(`port ${port} is already in use`);
        expect(demo.stdout).to.not.include('1. ');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it('exits 1 on a PORT that is not a port', async () => {
      const demo = startDemo({ PORT: 'http', DEMO_EXIT: '1' });
      expect(await demo.exit()).to.equal(1);
      expect(demo.stderr).to.include('PORT must be a whole number');
    });
  });

  describe('with WX_APPID, WX_APPSECRET and WX_SESSION_SECRET set', () => {
    it('skips the walk-through and exits 0 with DEMO_EXIT=1', async () => {
      const mock = await startMockWeChat({ appSecret: MOCK_SECRET });
      try {
        const demo = startDemo({
          PORT: '0', DEMO_EXIT: '1',
          WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SESSION_SECRET, WX_API_BASE: mock.url,
        });
        expect(await demo.exit(), demo.stderr).to.equal(0);
        expect(demo.stdout).to.include(`against WeChat at ${mock.url} (appId ${mock.appId})`);
        expect(demo.stdout).to.include('POST /wx/login');
        expect(demo.stdout).to.not.include(`1. ${steps[0]!.title}`);
        // The one call to WeChat: the credentials checked at start-up (core.verify()).
        expect(mock.calls.map((call) => [call.path, call.errcode])).to.deep.equal([['/cgi-bin/stable_token', 0]]);
        expect(demo.stdout).to.include('WeChat accepted the AppID and AppSecret');
        expectNoSecrets(demo, MOCK_SECRET, SESSION_SECRET);
      } finally {
        await mock.close();
      }
    });

    it('serves the Express example against that WeChat until SIGTERM', async () => {
      const mock = await startMockWeChat({ appSecret: MOCK_SECRET });
      try {
        const demo = startDemo({ PORT: '0', WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SESSION_SECRET, WX_API_BASE: mock.url });
        const [, url] = await demo.waitFor(/Serving on (http:\/\/127\.0\.0\.1:\d+)/);
        const login = await fetch(`${url}/wx/login`, { method: 'POST', headers: { 'X-WX-Code': mock.issueCode('oRealModePlayer0000000000001') } });
        expect(login.status).to.equal(200);
        const { token, openid } = (await login.json()) as { token: string; openid: string };
        expect(openid).to.equal('oRealModePlayer0000000000001');
        expect((await fetch(`${url}/me`, { headers: { Authorization: `Bearer ${token}` } })).status).to.equal(200);
        demo.child.kill('SIGTERM');
        expect(await demo.exit()).to.equal(0);
        expectNoSecrets(demo, MOCK_SECRET, SESSION_SECRET);
      } finally {
        await mock.close();
      }
    });

    const refused: Array<[string, (mock: MockWeChat) => Record<string, string>, number, RegExp]> = [
      ['AppSecret', (mock) => ({ WX_APPID: mock.appId, WX_APPSECRET: WRONG_APP_SECRET }), 40125, /^wx-session demo: AppSecret rejected \(40125\): check appSecret \(WX_APPSECRET\)/],
      ['AppID', (mock) => ({ WX_APPID: 'wx0000000000wrongid', WX_APPSECRET: mock.appSecret }), 40013, /^wx-session demo: the AppID is not valid \(40013\): check appId \(WX_APPID\)/],
    ];
    for (const [what, credentials, errcode, reason] of refused) {
      it(`exits 1 at start with one line naming ${errcode} when WeChat refuses the ${what}, and never serves`, async () => {
        const mock = await startMockWeChat({ appSecret: MOCK_SECRET });
        try {
          // No DEMO_EXIT: a demo that started would keep serving, and exit() would time out.
          const demo = startDemo({ PORT: '0', WX_SESSION_SECRET: SESSION_SECRET, WX_API_BASE: mock.url, ...credentials(mock) });
          expect(await demo.exit(), demo.stdout + demo.stderr).to.equal(1);
          const lines = demo.stderr.split('\n');
          expect(lines, demo.stderr).to.have.length(2);
          expect(lines[0]).to.match(reason);
          expect(lines[1]).to.equal('');
          expect(demo.stdout).to.equal('');
          expect(mock.calls.map((call) => [call.path, call.errcode])).to.deep.equal([['/cgi-bin/stable_token', errcode]]);
          expectNoSecrets(demo, MOCK_SECRET, WRONG_APP_SECRET, SESSION_SECRET);
        } finally {
          await mock.close();
        }
      });
    }

    it('exits 1 with the option error when WX_SESSION_SECRET is too short', async () => {
      const demo = startDemo({ PORT: '0', DEMO_EXIT: '1', WX_APPID: 'wx0000000000000000', WX_APPSECRET: MOCK_SECRET, WX_SESSION_SECRET: 'short' });
      expect(await demo.exit()).to.equal(1);
      expect(demo.stderr).to.match(/secret must be a string of at least 32 characters/);
      expectNoSecrets(demo, MOCK_SECRET);
    });
  });

  describe('runSteps', () => {
    it('numbers the steps, stops at the first failure and says why', async () => {
      const lines: string[] = [];
      const ran: string[] = [];
      const list: Step[] = [
        { title: 'first', run: async (ctx) => { ran.push('first'); ctx.log('detail'); } },
        { title: 'second', run: async () => { ran.push('second'); throw new Error('expected HTTP 200, got 502'); } },
        { title: 'third', run: async () => { ran.push('third'); } },
      ];
      const mock = await startMockWeChat();
      try {
        const passed = await runSteps(list, { baseUrl: 'http://127.0.0.1:1', mock }, (line) => lines.push(line));
        expect(passed).to.equal(false);
      } finally {
        await mock.close();
      }
      expect(ran).to.deep.equal(['first', 'second']);
      expect(lines).to.deep.equal(['', '1. first', '   detail', '', '2. second', '   FAILED: expected HTTP 200, got 502']);
    });

    /** Runs the demo's own steps in this process against the Express example; `setup` scripts the mock first. */
    async function runDemoSteps(setup: (mock: Awaited<ReturnType<typeof startMockWeChat>>) => void = () => {}): Promise<{ passed: boolean; lines: string[] }> {
      const mock = await startMockWeChat();
      setup(mock);
      const app = createApp({ appId: mock.appId, appSecret: mock.appSecret, secret: SESSION_SECRET, apiBase: mock.url, checkSessionKey: { interval: 0 }, timeout: 1000 });
      const server = createHttpServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const lines: string[] = [];
      try {
        const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const passed = await runSteps(steps, { baseUrl, mock }, (line) => lines.push(line));
        return { passed, lines };
      } finally {
        await new Promise((resolve) => {
          server.close(resolve);
          server.closeAllConnections();
        });
        await mock.close();
      }
    }

    it("passes with the demo's own steps in-process", async () => {
      const { passed, lines } = await runDemoSteps();
      expect(passed, lines.join('\n')).to.equal(true);
      expect(lines.filter((line) => /^\d+\. /.test(line))).to.have.length(steps.length);
    });

    it('fails the storage step, saying why, when WeChat refuses the signed call', async () => {
      const { passed, lines } = await runDemoSteps((mock) => mock.fault('/wxa/set_user_storage', { errcode: 87018 }));
      expect(passed).to.equal(false);
      expect(lines.at(-1)).to.match(/^   FAILED: POST \/me\/storage answered 502 \{"code":"WX_UPSTREAM_ERROR"/);
      expect(lines).to.include(`3. ${steps[2]!.title}`);
      expect(lines).to.not.include(`4. ${steps[3]!.title}`);
    });
  });
});
