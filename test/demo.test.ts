// `npm start` (examples/demo.ts) as a user runs it: a child process, its exit code and output.
// It imports the package by name (`wx-session`, resolved to dist/), so `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startMockWeChat } from 'wx-session/testing';
import { runSteps, steps, type Step } from '../examples/demo.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCK_SECRET = 'demo-test-mock-app-secret-5f3a9c';
const SESSION_SECRET = 'demo-test-session-secret-0123456789abcdef';
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
      expect(demo.stdout).to.include('<- 200  {"token":"');
      expect(demo.stdout).to.include('{"score":4200}');
      expect(demo.stdout).to.include('<- 204');
      expect(demo.stdout).to.include('"code":"WX_SESSION_EXPIRED"');
      expect(demo.stdout).to.include('WWW-Authenticate: Bearer realm="wx-session", error="invalid_token"');
      expect(demo.stdout).to.include(`All ${steps.length} steps passed.`);
      expect(demo.stdout).to.not.include('FAILED');
      expect(demo.stdout).to.not.include('Serving on');
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
        expect(mock.calls).to.have.length(0);
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
  });
});
