// The example servers (examples/express, examples/koa) as users run them: each app on a real
// port in front of the mock WeChat, driven with fetch through login -> /me -> score -> logout.
// They import the package by name (`wx-session`, resolved to dist/), so `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { signPayload, type WxSessionOptions } from 'wx-session';
import { createApp as createExpressApp } from '../examples/express/server.js';
import { createApp as createKoaApp } from '../examples/koa/server.js';
// The example of testing a game server with the mock (examples/testing, see docs/testing.md): its describe() runs with this file.
import '../examples/testing/game-server.test.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'examples-test-signing-secret-0123456789';
const STABLE_TOKEN = '/cgi-bin/stable_token';
/** An AppSecret the mock WeChat does not know. */
const WRONG_APP_SECRET = 'examples-test-wrong-app-secret-000000';

interface Example {
  name: string;
  /** How the example names itself in its start-up lines. */
  title: string;
  file: string;
  handler(options: WxSessionOptions): RequestListener;
  loginPath: string;
  logoutPath: string;
}

const examples: Example[] = [
  { name: 'express', title: 'Express', file: 'examples/express/server.ts', handler: (options) => createExpressApp(options), loginPath: '/wx/login', logoutPath: '/wx/logout' },
  { name: 'koa', title: 'Koa', file: 'examples/koa/server.ts', handler: (options) => createKoaApp(options).callback(), loginPath: '/game/login', logoutPath: '/game/logout' },
];

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, init: { method?: string; token?: string; bearer?: string; json?: unknown; raw?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token) headers['X-WX-Session'] = init.token;
  if (init.bearer) headers.Authorization = `Bearer ${init.bearer}`;
  if (init.json !== undefined || init.raw !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.raw ?? (init.json === undefined ? undefined : JSON.stringify(init.json)),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port nothing listens on now (taken, then given back). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when something accepts a TCP connection on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Run {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; kills the example and rejects after `ms`. */
  exit(ms?: number): Promise<number | null>;
}

/** Runs an example as a user does (`node --import tsx examples/...`), with these variables set. */
function runExample(file: string, vars: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    exit(ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${file} did not exit within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, ms);
        void exited.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
  };
}

for (const example of examples) {
  describe(`examples/${example.name}`, () => {
    let mock: MockWeChat;
    let server: Server;
    let url: string;

    beforeEach(async () => {
      mock = await startMockWeChat();
      ({ server, url } = await listen(example.handler({ appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url, timeout: 1000 })));
    });

    afterEach(async () => {
      await close(server);
      await mock.close();
    });

    async function login(openid = 'oExamplePlayer000000000000001'): Promise<string> {
      const answer = await call(url + example.loginPath, { method: 'POST', json: { code: mock.issueCode(openid) } });
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      expect(answer.body.openid).to.equal(openid);
      expect(answer.body).to.not.have.any.keys('session_key', 'sessionKey');
      return answer.body.token as string;
    }

    it('answers /health without a session', async () => {
      const answer = await call(`${url}/health`);
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.equal({ ok: true });
    });

    it('logs in, reads /me, saves a score, logs out, and then refuses the token', async () => {
      const token = await login();

      const me = await call(`${url}/me`, { token });
      expect(me.status).to.equal(200);
      expect(me.body).to.deep.equal({ openid: 'oExamplePlayer000000000000001', data: {} });

      const saved = await call(`${url}/me/score`, { method: 'POST', bearer: token, json: { score: 4200 } });
      expect(saved.status, JSON.stringify(saved.body)).to.equal(200);
      expect(saved.body).to.deep.equal({ score: 4200 });

      const after = await call(`${url}/me`, { bearer: token });
      expect(after.body.data).to.deep.equal({ score: 4200 });

      const out = await call(url + example.logoutPath, { method: 'POST', token });
      expect(out.status).to.equal(204);

      const refused = await call(`${url}/me`, { token });
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('WX_SESSION_EXPIRED');
      expect(refused.headers.get('www-authenticate')).to.equal('Bearer realm="wx-session", error="invalid_token"');
    });

    it('keeps each player in their own session', async () => {
      const first = await login('oExamplePlayer000000000000001');
      const second = await login('oExamplePlayer000000000000002');
      await call(`${url}/me/score`, { method: 'POST', token: first, json: { score: 1 } });
      await call(`${url}/me/score`, { method: 'POST', token: second, json: { score: 2 } });
      expect((await call(`${url}/me`, { token: first })).body).to.deep.equal({ openid: 'oExamplePlayer000000000000001', data: { score: 1 } });
      expect((await call(`${url}/me`, { token: second })).body).to.deep.equal({ openid: 'oExamplePlayer000000000000002', data: { score: 2 } });
    });

    it('refuses /me and /me/score without a session', async () => {
      const me = await call(`${url}/me`);
      expect(me.status).to.equal(401);
      expect(me.body.code).to.equal('WX_SESSION_MISSING');
      const score = await call(`${url}/me/score`, { method: 'POST', json: { score: 1 } });
      expect(score.status).to.equal(401);
      expect(score.body.code).to.equal('WX_SESSION_MISSING');
    });

    it('refuses a score that is not a whole number >= 0, and keeps the old one', async () => {
      const token = await login();
      await call(`${url}/me/score`, { method: 'POST', token, json: { score: 7 } });
      // `Number(req.body.score)` would save NaN for {"score":"abc"}: the examples check the type.
      for (const body of [{ json: { score: -1 } }, { json: { score: 1.5 } }, { json: { score: '10' } }, { json: { score: 'abc' } }, { json: { score: null } }, { json: {} }, { raw: '{"score":' }]) {
        const answer = await call(`${url}/me/score`, { method: 'POST', token, ...body });
        expect(answer.status, JSON.stringify(body)).to.equal(400);
      }
      expect((await call(`${url}/me`, { token })).body.data).to.deep.equal({ score: 7 });
    });

    it('writes user storage with a signed call: POST /me/storage answers 204', async () => {
      const openid = 'oExamplePlayer000000000000001';
      const token = await login(openid);
      const answer = await call(`${url}/me/storage`, { method: 'POST', token, json: { key: 'level', value: 3 } });
      expect(answer.status, JSON.stringify(answer.body)).to.equal(204);
      expect(mock.userStorage(openid)).to.deep.equal({ level: '3' });
      await call(`${url}/me/storage`, { method: 'POST', bearer: token, json: { key: 'name', value: 'Ada' } });
      expect(mock.userStorage(openid)).to.deep.equal({ level: '3', name: 'Ada' });

      const calls = mock.callsTo('/wxa/set_user_storage');
      expect(calls).to.have.length(2);
      const [first] = calls;
      expect(first!.method).to.equal('POST');
      expect(first!.body).to.equal('{"kv_list":[{"key":"level","value":"3"}]}');
      expect(first!.query.openid).to.equal(openid);
      expect(first!.query.sig_method).to.equal('hmac_sha256');
      expect(first!.query.signature).to.equal(signPayload(first!.body!, mock.sessionKeyOf(openid)!));
    });

    it('refuses bad /me/storage input with 400 WX_BAD_REQUEST, without calling WeChat', async () => {
      const openid = 'oExamplePlayer000000000000001';
      const token = await login(openid);
      const bodies = [
        { json: {} },
        { json: { value: 'x' } },
        { json: { key: 7, value: 'x' } },
        { json: { key: '', value: 'x' } },
        { json: { key: 'k'.repeat(129), value: 'x' } },
        { json: { key: 'k', value: 'v'.repeat(1024) } },
        { json: { key: 'k' } },
        { json: { key: 'k', value: null } },
        { json: { key: 'k', value: { nested: true } } },
        { json: [{ key: 'k', value: 'x' }] },
        { raw: '{"key":' },
      ];
      for (const body of bodies) {
        const answer = await call(`${url}/me/storage`, { method: 'POST', token, ...body });
        expect(answer.status, JSON.stringify(body)).to.equal(400);
        expect(answer.body.code, JSON.stringify(body)).to.equal('WX_BAD_REQUEST');
        expect(answer.body.message).to.be.a('string');
      }
      expect(mock.callsTo('/wxa/set_user_storage')).to.have.length(0);
      expect(mock.userStorage(openid)).to.deep.equal({});
    });

    it('refuses /me/storage without a session', async () => {
      const answer = await call(`${url}/me/storage`, { method: 'POST', json: { key: 'level', value: 3 } });
      expect(answer.status).to.equal(401);
      expect(answer.body.code).to.equal('WX_SESSION_MISSING');
      expect(mock.callsTo('/wxa/set_user_storage')).to.have.length(0);
    });

    it('answers 401 WX_SESSION_KEY_EXPIRED when WeChat refuses the session_key of the signed call', async () => {
      const openid = 'oExamplePlayer000000000000001';
      const token = await login(openid);
      mock.rotateSessionKey(openid); // the player logged in on another device
      const answer = await call(`${url}/me/storage`, { method: 'POST', token, json: { key: 'level', value: 3 } });
      expect(answer.status, JSON.stringify(answer.body)).to.equal(401);
      expect(answer.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
      expect(answer.headers.get('www-authenticate')).to.equal('Bearer realm="wx-session", error="invalid_token"');
      expect(JSON.stringify(answer.body)).to.not.include(mock.sessionKeyOf(openid)!);
      expect(mock.userStorage(openid)).to.deep.equal({});
    });

    it("answers WeChat's refusal of the signed call 502 WX_UPSTREAM_ERROR with WeChat's errcode, through wx.errors", async () => {
      const openid = 'oExamplePlayer000000000000001';
      const token = await login(openid);
      mock.fault('/wxa/set_user_storage', { errcode: 87018 }, { times: 1 });
      const answer = await call(`${url}/me/storage`, { method: 'POST', token, json: { key: 'level', value: 3 } });
      expect(answer.status, JSON.stringify(answer.body)).to.equal(502);
      expect(answer.body).to.include({ code: 'WX_UPSTREAM_ERROR', errcode: 87018 });
      expect(answer.headers.get('www-authenticate')).to.equal(null);
      expect(mock.userStorage(openid)).to.deep.equal({});
    });

    it('writes no protocol header itself: wx.errors answers the WxSessionErrors its routes throw', () => {
      const source = readFileSync(new URL(`../${example.file}`, import.meta.url), 'utf8');
      expect(source).to.not.match(/Bearer realm/);
      expect(source).to.not.match(/\.(?:set|setHeader|append|header)\(\s*['"`](?:WWW-Authenticate|Retry-After|X-WX-Session-Token|Cache-Control)/i);
      expect(source).to.include('app.use(wx.errors)');
    });

    it('answers a login with a spent code 401 WX_CODE_USED', async () => {
      const code = mock.issueCode('oExamplePlayer000000000000001');
      expect((await call(url + example.loginPath, { method: 'POST', json: { code } })).status).to.equal(200);
      const again = await call(url + example.loginPath, { method: 'POST', json: { code } });
      expect(again.status).to.equal(401);
      expect(again.body.code).to.equal('WX_CODE_USED');
    });

    it('runs directly: reads its options from the environment, listens on PORT, stops on SIGTERM', async function () {
      this.timeout(20_000);
      const child = spawn(process.execPath, ['--import', 'tsx', example.file], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: mock.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const started = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no start-up line within 15 s:\n${output}`)), 15_000);
          child.stdout.on('data', () => {
            const match = /listening on (http:\/\/localhost:\d+)/.exec(output);
            if (match) {
              clearTimeout(timer);
              resolve(match[1]!);
            }
          });
          void exited.then((code) => reject(new Error(`exited with ${code} before listening:\n${output}`)));
        });
        url = started;
        // The credentials were checked at start-up: the example's first call to WeChat.
        expect(mock.calls[0]?.path).to.equal(STABLE_TOKEN);
        expect(mock.calls[0]?.errcode).to.equal(0);
        expect((await call(`${url}/health`)).status).to.equal(200);
        const token = await login();
        expect((await call(`${url}/me`, { token })).status).to.equal(200);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).to.equal(0);
      expect(output).to.not.include(mock.appSecret);
      expect(output).to.not.include(SECRET);
    });

    it('runs directly: checks the credentials with WeChat before it listens', async function () {
      this.timeout(20_000);
      const port = await freePort();
      mock.fault(STABLE_TOKEN, { delay: 1000 }, { times: 1 }); // WeChat takes its time to answer
      const run = runExample(example.file, { PORT: String(port), WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: mock.url });
      try {
        await until(() => mock.callsTo(STABLE_TOKEN).length === 1, 'the start-up stable_token call');
        expect(await accepts(port), 'listening while the credentials are being checked').to.equal(false);
        expect(run.stdout).to.equal('');
        await until(() => run.stdout.includes('listening on'), `the start-up line\n${run.stderr}`);
        expect(await accepts(port)).to.equal(true);
        expect(mock.calls.map((c) => c.path)).to.deep.equal([STABLE_TOKEN]);
      } finally {
        run.child.kill('SIGTERM');
      }
      expect(await run.exit()).to.equal(0);
      expect(run.stderr).to.equal('');
      expect(run.stdout + run.stderr).to.not.include(mock.appSecret).and.not.include(SECRET);
    });

    const refused: Array<[string, (mock: MockWeChat) => Record<string, string>, number, RegExp]> = [
      ['a wrong AppSecret', (m) => ({ WX_APPID: m.appId, WX_APPSECRET: WRONG_APP_SECRET }), 40125, /AppSecret rejected \(40125\): check appSecret \(WX_APPSECRET\)/],
      ['a wrong AppID', (m) => ({ WX_APPID: 'wx0000000000wrongid', WX_APPSECRET: m.appSecret }), 40013, /the AppID is not valid \(40013\): check appId \(WX_APPID\)/],
    ];
    for (const [what, credentials, errcode, reason] of refused) {
      it(`runs directly: ${what} exits 1 at start with one line naming ${errcode}, and it never listens`, async function () {
        this.timeout(20_000);
        const port = await freePort();
        mock.fault(STABLE_TOKEN, { delay: 500 }, { times: 1 }); // time to see that nothing listens meanwhile
        const run = runExample(example.file, { PORT: String(port), WX_SESSION_SECRET: SECRET, WX_API_BASE: mock.url, ...credentials(mock) });
        await until(() => mock.callsTo(STABLE_TOKEN).length === 1, 'the start-up stable_token call');
        expect(await accepts(port), 'listening while the credentials are being checked').to.equal(false);
        expect(await run.exit()).to.equal(1);
        expect(await accepts(port)).to.equal(false);
        // One line on stderr, the example's, with WeChat's reason; nothing on stdout.
        const lines = run.stderr.split('\n');
        expect(lines, run.stderr).to.have.length(2);
        expect(lines[1]).to.equal('');
        expect(lines[0]).to.match(new RegExp(`^wx-session ${example.title} example: ${reason.source}`));
        expect(run.stdout).to.equal('');
        // WeChat was asked once, and answered the errcode; nothing else was called.
        expect(mock.calls.map((c) => [c.path, c.errcode])).to.deep.equal([[STABLE_TOKEN, errcode]]);
        const output = run.stdout + run.stderr;
        for (const secret of [mock.appSecret, WRONG_APP_SECRET, SECRET]) expect(output).to.not.include(secret);
      });
    }

    it('runs directly: exits 1 and says what is missing without WX_APPID & co', async function () {
      this.timeout(20_000);
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
      delete env.WX_APPID;
      delete env.WX_APPSECRET;
      delete env.WX_SESSION_SECRET;
      const child = spawn(process.execPath, ['--import', 'tsx', example.file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).to.equal(1);
      expect(stderr).to.match(/set WX_APPID, WX_APPSECRET and WX_SESSION_SECRET/);
    });
  });
}

describe('examples/koa mounting', () => {
  it('serves login on its own route, not on the default /wx/login', async () => {
    const mock = await startMockWeChat();
    const { server, url } = await listen(createKoaApp({ appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url }).callback());
    try {
      const answer = await call(`${url}/wx/login`, { method: 'POST', json: { code: mock.issueCode() } });
      expect(answer.status).to.equal(404);
      expect(mock.callsTo('/sns/jscode2session')).to.have.length(0);
    } finally {
      await close(server);
      await mock.close();
    }
  });
});
