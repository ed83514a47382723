// `npm start` (examples/demo.ts) as a user runs it: a child process, its exit code and output,
// with the embedded mock WeChat (the walk-through, then serving until a signal) and against a
// WeChat named by WX_APPID & co (here a mock too). What it prints never holds a secret.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { steps } from '../examples/demo-steps.js';
import { startChild, type Child } from '../harness/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCK_SECRET = 'demo-test-mock-app-secret-5f3a9c';
const SESSION_SECRET = 'demo-test-session-secret-0123456789abcdef';
/** An AppSecret the mock WeChat does not know. */
const WRONG_APP_SECRET = 'demo-test-wrong-app-secret-7c1e0b';
/** A WeChat session_key: 16 bytes in base64. */
const SESSION_KEY_SHAPE = /[A-Za-z0-9+/]{22}==/;
/** A whole session token: a base64url id, '.', a base64 signature. */
const TOKEN_SHAPE = /[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}/;

/** Starts the demo with only the given variables of ours set (none inherited). */
function startDemo(vars: Record<string, string>): Child {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(WX_|DEMO_)/.test(name) || name === 'PORT') delete env[name];
  return startChild({ name: 'the demo', args: ['--import', 'tsx', 'examples/demo.ts'], env: { ...env, ...vars }, cwd: ROOT });
}

/** The demo's exit code; past 20 s it is killed and this rejects. */
async function exitCode(demo: Child): Promise<number | null> {
  return (await demo.exited()).code;
}

function expectNoSecrets(demo: Child, ...secrets: string[]): void {
  const output = demo.stdout + demo.stderr;
  for (const secret of secrets) expect(output).to.not.include(secret);
  expect(output).to.not.match(SESSION_KEY_SHAPE);
  expect(output).to.not.match(TOKEN_SHAPE);
}

/** What the walk-through prints, step by step: the protocol as the client and the server lived it. */
function expectWalkThrough(out: string): void {
  steps.forEach((step, index) => expect(out).to.include(`\n${index + 1}. ${step.title}\n`));
  expect(out).to.match(/game server +http:\/\/127\.0\.0\.1:[1-9]\d*/);
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
}

describe('npm start (examples/demo.ts) with the embedded mock WeChat', function () {
  this.timeout(30_000);

  it('walks through every step, prints no secret, and exits 0 with DEMO_EXIT=1', async () => {
    const demo = startDemo({ PORT: '0', DEMO_EXIT: '1', DEMO_MOCK_SECRET: MOCK_SECRET });
    expect(await exitCode(demo), demo.stderr).to.equal(0);
    const out = demo.stdout;
    // The first line names the playground page the same server serves (test/playground.test.ts opens it).
    expect(out.split('\n')[0]).to.match(/^Playground: http:\/\/localhost:[1-9]\d*\/  \(open it in a browser/);
    expectWalkThrough(out);
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
    demo.process.kill('SIGINT');
    expect(await exitCode(demo)).to.equal(0);
    expect(demo.stdout).to.include('Stopping.');
    expectNoSecrets(demo, MOCK_SECRET);
  });

  it('exits 1 with a clear message when PORT is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const demo = startDemo({ PORT: String(port), DEMO_EXIT: '1' });
      expect(await exitCode(demo)).to.equal(1);
      expect(demo.stderr).to.include(`port ${port} is already in use`);
      expect(demo.stdout).to.not.include('1. ');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('exits 1 on a PORT that is not a port', async () => {
    const demo = startDemo({ PORT: 'http', DEMO_EXIT: '1' });
    expect(await exitCode(demo)).to.equal(1);
    expect(demo.stderr).to.include('PORT must be a whole number');
  });
});

describe('npm start (examples/demo.ts) with WX_APPID, WX_APPSECRET and WX_SESSION_SECRET set', function () {
  this.timeout(30_000);
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat({ appSecret: MOCK_SECRET });
  });
  afterEach(() => mock.close());
  const credentials = () => ({ WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SESSION_SECRET, WX_API_BASE: mock.url });

  it('skips the walk-through and exits 0 with DEMO_EXIT=1', async () => {
    const demo = startDemo({ PORT: '0', DEMO_EXIT: '1', ...credentials() });
    expect(await exitCode(demo), demo.stderr).to.equal(0);
    expect(demo.stdout).to.include(`against WeChat at ${mock.url} (appId ${mock.appId})`);
    expect(demo.stdout).to.include('POST /wx/login');
    expect(demo.stdout).to.not.include(`1. ${steps[0]!.title}`);
    // The one call to WeChat: the credentials checked at start-up (core.verify()).
    expect(mock.calls.map((call) => [call.path, call.errcode])).to.deep.equal([['/cgi-bin/stable_token', 0]]);
    expect(demo.stdout).to.include('WeChat accepted the AppID and AppSecret');
    expectNoSecrets(demo, MOCK_SECRET, SESSION_SECRET);
  });

  it('serves the Express example against that WeChat until SIGTERM', async () => {
    const demo = startDemo({ PORT: '0', ...credentials() });
    const [, url] = await demo.waitFor(/Serving on (http:\/\/127\.0\.0\.1:\d+)/);
    const login = await fetch(`${url}/wx/login`, { method: 'POST', headers: { 'X-WX-Code': mock.issueCode('oRealModePlayer0000000000001') } });
    expect(login.status).to.equal(200);
    const { token, openid } = (await login.json()) as { token: string; openid: string };
    expect(openid).to.equal('oRealModePlayer0000000000001');
    expect((await fetch(`${url}/me`, { headers: { Authorization: `Bearer ${token}` } })).status).to.equal(200);
    demo.process.kill('SIGTERM');
    expect(await exitCode(demo)).to.equal(0);
    expectNoSecrets(demo, MOCK_SECRET, SESSION_SECRET);
  });

  const refused: Array<[string, () => Record<string, string>, number, RegExp]> = [
    ['AppSecret', () => ({ WX_APPSECRET: WRONG_APP_SECRET }), 40125, /^wx-session demo: AppSecret rejected \(40125\): check appSecret \(WX_APPSECRET\)/],
    ['AppID', () => ({ WX_APPID: 'wx0000000000wrongid' }), 40013, /^wx-session demo: the AppID is not valid \(40013\): check appId \(WX_APPID\)/],
  ];
  for (const [what, wrong, errcode, reason] of refused) {
    it(`exits 1 at start with one line naming ${errcode} when WeChat refuses the ${what}, and never serves`, async () => {
      // No DEMO_EXIT: a demo that started would keep serving, and exitCode() would time out.
      const demo = startDemo({ PORT: '0', ...credentials(), ...wrong() });
      expect(await exitCode(demo), demo.stdout + demo.stderr).to.equal(1);
      const lines = demo.stderr.split('\n');
      expect(lines, demo.stderr).to.have.length(2);
      expect(lines[0]).to.match(reason);
      expect(lines[1]).to.equal('');
      expect(demo.stdout).to.equal('');
      expect(mock.calls.map((call) => [call.path, call.errcode])).to.deep.equal([['/cgi-bin/stable_token', errcode]]);
      expectNoSecrets(demo, MOCK_SECRET, WRONG_APP_SECRET, SESSION_SECRET);
    });
  }

  it('exits 1 with the option error when WX_SESSION_SECRET is too short', async () => {
    const demo = startDemo({ PORT: '0', DEMO_EXIT: '1', WX_APPID: 'wx0000000000000000', WX_APPSECRET: MOCK_SECRET, WX_SESSION_SECRET: 'short' });
    expect(await exitCode(demo)).to.equal(1);
    expect(demo.stderr).to.match(/secret must be a string of at least 32 characters/);
    expectNoSecrets(demo, MOCK_SECRET);
  });
});
