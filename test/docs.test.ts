// README.md and docs/ as users read them (issue 11). Every ts/js block of README.md and docs/*.md
// is a file under docs/snippets/, written into the page by scripts/snippets.ts (`npm run docs`),
// and this file holds each one to what the page promises:
//   - the pages: every ts/js block is marked and byte-identical to its file; README is the first
//     five minutes (at most 300 lines, `npm start` and `npm test` on its first screen);
//   - the links of README, SECURITY.md and docs/ point at files the package ships (npm pack);
//   - every snippet type-checks against the built package (`wx-session` resolves to dist/, so
//     `npm run build` first, as `npm test` does);
//   - every snippet runs: a program as a child process (`node --import tsx`), against the mock
//     WeChat that this test starts (the README quick start brings its own), driven over HTTP
//     through the routes its page documents, then stopped; a test file with its runner (mocha,
//     node:test). Four are not programs: app.ts and my-store.ts are exercised by what imports
//     them (app.spec.ts and server.ts; the two store suites), otel.ts (a recipe module) is loaded
//     here with a recording tracer, and redis-cluster.ts (a Cluster client's options) is only
//     compiled: the Cluster tests run RedisStore on a real cluster. EXERCISED says it for each.
// No test prints what a child wrote unless it fails; the witness (setup.ts) searches that output
// for the secrets this test hands the children.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix } from 'node:path';
import { expect } from 'chai';
import { createWxSession } from 'wx-session';
import { startMockWeChat, type MockIssueCodeOptions, type MockWeChat } from 'wx-session/testing';
import { CLOSE, CODE_LANGUAGES, codeBlocks, languageOf, pages, readSnippet, ROOT, SNIPPETS } from '../scripts/snippets.js';
import { encryptUserData } from './support-keys.js';
import { hasRedisServer, requireRedis, startControlledRedis, type ControlledRedis } from './support-redis.js';
import { addSecret } from './witness.js';

const SECRET = 'docs-test-signing-secret-0123456789abcdef';
const NEW_SECRET = 'docs-test-newer-signing-secret-0123456789';
const README_MAX_LINES = 300;

/** How each snippet is exercised; the test fails for a snippet file missing here. */
const EXERCISED: Readonly<Record<string, string>> = {
  'quick-start.ts': 'run: its curl line logs in against its own mock; /me and /me/score driven',
  'real-credentials.ts': 'run to its end: good credentials exit 0, a wrong AppSecret or a missing AppID exit 1 saying which',
  'koa.ts': 'run: login, /me, logout on the routes it mounts',
  'express-pieces.ts': 'run: custom login path, an optional and a required route',
  'session-key.ts': 'run: signed storage write, a rotated key repaired with X-WX-Code, decrypt',
  'crypto-helpers.ts': "run to its end: prints WeChat's vector",
  'access-token-service.ts': 'run: checkKey with the token of a token service, no stable_token call',
  'metrics.ts': 'run: /metrics counts logins, logouts and WeChat calls',
  'otel.ts': 'a module: loaded here with a recording tracer around real WeChat calls',
  'app.ts': 'a module: exercised by app.spec.ts and server.ts',
  'app.spec.ts': 'run with mocha',
  'server.ts': 'run: the routes, SIGTERM, bad configuration; with Redis two instances and a secret rotation',
  'game.ts': 'run with a fake wx against server.ts; also with the login rate-limited',
  'my-store.ts': 'a module: exercised by my-store.spec.ts and my-store.node-test.ts',
  'my-store.spec.ts': 'run with mocha: the store conformance suite',
  'my-store.node-test.ts': 'run with node --test: the same suite',
  'redis.ts': 'run on a private redis-server: two instances share sessions, SIGTERM closes the connections',
  'redis-cluster.ts': 'compiled only: a Cluster client (the Cluster tests run the store on a real one)',
};

function snippetFiles(): string[] {
  return readdirSync(join(ROOT, SNIPPETS)).filter((name) => /\.[cm]?[jt]s$/.test(name)).sort();
}

// ---------------------------------------------------------------------------------------------
// Child processes and HTTP

interface Child {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the exit code (the signal's name when killed); kills it after `ms`. */
  exit(ms?: number): Promise<number | string>;
}

/** Children started by the running test, killed after it whatever happened. */
const children = new Set<ChildProcess>();

function run(args: string[], env: Record<string, string | undefined> = {}): Child {
  const vars: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ...env };
  for (const name of ['WX_APPID', 'WX_APPSECRET', 'WX_SESSION_SECRET', 'WX_API_BASE', 'REDIS_URL'] as const) {
    if (!(name in env)) delete vars[name];
  }
  const child = spawn(process.execPath, args, { cwd: ROOT, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  void exited.then(() => children.delete(child));
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
          reject(new Error(`${args.join(' ')} did not exit within ${ms} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, ms);
        void exited.then((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
  };
}

/** `node --import tsx docs/snippets/<name>`, as a user runs a program. */
function runSnippet(name: string, env: Record<string, string | undefined> = {}, preload: string[] = []): Child {
  return run(['--import', 'tsx', ...preload.flatMap((file) => ['--import', file]), `${SNIPPETS}/${name}`], env);
}

async function until<T>(find: () => T | undefined, what: string, child: Child, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (child.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no ${what} (exit ${child.child.exitCode})\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Running extends Child {
  url: string;
  stop(): Promise<number | string>;
}

/** Starts a server snippet and waits for its `listening on http://...` line. */
async function startServer(name: string, env: Record<string, string | undefined>, preload: string[] = []): Promise<Running> {
  const started = runSnippet(name, env, preload);
  const address = await until(() => /listening on http:\/\/(?:localhost|127\.0\.0\.1):(\d+)/.exec(started.stdout)?.[1], 'listening line', started);
  return Object.assign(started, {
    url: `http://127.0.0.1:${address}`,
    async stop() {
      started.child.kill('SIGTERM');
      return started.exit();
    },
  });
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function call(url: string, init: { method?: string; token?: string; code?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers['X-WX-Session'] = init.token;
  if (init.code !== undefined) headers['X-WX-Code'] = init.code;
  if (init.json !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, { method: init.method ?? (init.json === undefined ? 'GET' : 'POST'), headers, body: init.json === undefined ? undefined : JSON.stringify(init.json) });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = text === '' ? {} : JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: read `text`
  }
  return { status: response.status, headers: response.headers, body, text };
}

async function login(url: string, code: string, path = '/wx/login'): Promise<{ token: string; openid: string }> {
  const answer = await call(`${url}${path}`, { json: { code } });
  expect(answer.status, `login: ${answer.text}`).to.equal(200);
  return { token: answer.body.token as string, openid: answer.body.openid as string };
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// Links

/** The files `npm pack` puts in the package (with no build run: dist/ is not linked to). */
function packedFiles(): Set<string> {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm pack --dry-run failed: ${result.stderr}`);
  const [pack] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as Array<{ files: Array<{ path: string }> }>;
  return new Set(pack!.files.map((file) => file.path));
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!.trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

/** The targets of the inline links of a page, code blocks and code spans left out. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
}

// ---------------------------------------------------------------------------------------------

describe('docs: README.md and docs/ as users read them', function () {
  this.timeout(60_000);
  this.slow(10_000);

  before(() => {
    if (!existsSync(join(ROOT, 'dist/esm/src/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  });

  afterEach(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  describe('the pages', () => {
    it(`README.md is at most ${README_MAX_LINES} lines, with npm install, npm start and npm test on its first screen`, () => {
      const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
      expect(lines.length, 'README.md lines').to.be.at.most(README_MAX_LINES);
      const first = lines.slice(0, 60);
      for (const command of ['npm install', 'npm start', 'npm test']) {
        expect(first.some((line) => line === command || line.startsWith(`${command} `)), `a line "${command}" in the first 60`).to.equal(true);
      }
    });

    it('every ts/js block is between snippet markers and byte-identical to its file', () => {
      const problems: string[] = [];
      for (const page of pages()) {
        for (const block of codeBlocks(readFileSync(join(ROOT, page), 'utf8'))) {
          const where = `${page}:${block.line}`;
          if (block.snippet === undefined) {
            if (CODE_LANGUAGES.has(block.language)) problems.push(`${where}: a ${block.language} block without <!-- snippet: NAME --> before it`);
            continue;
          }
          if (!existsSync(join(ROOT, SNIPPETS, block.snippet))) {
            problems.push(`${where}: ${SNIPPETS}/${block.snippet} does not exist`);
            continue;
          }
          if (!block.closed) problems.push(`${where}: no ${CLOSE} right after the block`);
          if (block.language !== languageOf(block.snippet)) problems.push(`${where}: fenced as "${block.language}", not ${languageOf(block.snippet)}`);
          if (block.content !== readSnippet(block.snippet)) problems.push(`${where}: differs from ${SNIPPETS}/${block.snippet} (run npm run docs)`);
        }
      }
      expect(problems).to.deep.equal([]);
    });

    it('every snippet file is shown in a page and has a way to be exercised', () => {
      const shown = new Set(pages().flatMap((page) => codeBlocks(readFileSync(join(ROOT, page), 'utf8')).map((block) => block.snippet)));
      const files = snippetFiles();
      expect(files.filter((name) => !shown.has(name)), 'snippet files no page shows').to.deep.equal([]);
      expect(files.filter((name) => !(name in EXERCISED)), 'snippet files this test does not exercise').to.deep.equal([]);
      expect(Object.keys(EXERCISED).filter((name) => !files.includes(name)), 'exercised names with no file').to.deep.equal([]);
    });
  });

  describe('links', () => {
    it('every relative link of README.md, SECURITY.md and docs/ points at a file in the package, and at a heading that exists', function () {
      this.timeout(60_000);
      const packed = packedFiles();
      const problems: string[] = [];
      for (const page of ['SECURITY.md', ...pages()]) {
        const markdown = readFileSync(join(ROOT, page), 'utf8');
        if (!packed.has(page)) problems.push(`${page} is not in the package`);
        for (const target of links(markdown)) {
          if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
          const [path = '', anchor] = target.split('#');
          const file = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path)).replace(/\/$/, '');
          const inPackage = packed.has(file) || [...packed].some((packedFile) => packedFile.startsWith(`${file}/`));
          if (!inPackage) {
            problems.push(`${page}: (${target}) -> ${file} is not in the package`);
            continue;
          }
          if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(join(ROOT, file), 'utf8')).has(anchor)) {
            problems.push(`${page}: (${target}) -> no heading #${anchor} in ${file}`);
          }
        }
      }
      expect(problems).to.deep.equal([]);
    });
  });

  describe('every snippet type-checks against the built package', () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    for (const project of ['scripts/tsconfig.snippets.json', 'scripts/tsconfig.snippets-game.json']) {
      it(project, function () {
        this.timeout(120_000);
        const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, encoding: 'utf8' });
        expect(`${result.stdout}${result.stderr}`.trim(), 'tsc errors').to.equal('');
        expect(result.status).to.equal(0);
      });
    }

    it('the two projects hold every snippet, and only the built declarations of wx-session', function () {
      this.timeout(120_000);
      const listed = ['scripts/tsconfig.snippets.json', 'scripts/tsconfig.snippets-game.json'].flatMap((project) =>
        spawnSync(process.execPath, [tsc, '-p', project, '--listFilesOnly'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n'),
      );
      const inProject = new Set(listed.filter((file) => file.includes(`/${SNIPPETS}/`)).map((file) => file.slice(file.lastIndexOf('/') + 1)));
      expect(snippetFiles().filter((name) => !inProject.has(name)), 'snippets no project compiles').to.deep.equal([]);
      const ours = listed.filter((file) => file.startsWith(`${ROOT}src/`) || file.startsWith(`${ROOT}adapters/`));
      expect(ours, 'sources compiled instead of dist/ declarations').to.deep.equal([]);
    });
  });

  describe('every snippet runs', () => {
    let mock: MockWeChat;
    /** What a snippet needs to talk to the mock WeChat, as the real ones read it. */
    let env: Record<string, string>;

    before(async () => {
      mock = await startMockWeChat();
      addSecret(mock.appSecret, 'appSecret');
      addSecret(SECRET, 'signing secret');
      addSecret(NEW_SECRET, 'signing secret');
      env = { WX_APPID: mock.appId, WX_APPSECRET: mock.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: mock.url };
    });
    after(() => mock.close());
    afterEach(() => mock.clearFaults());

    describe('README.md', () => {
      it('quick-start.ts: its curl line logs in against its own mock WeChat; /me and /me/score answer as the page says', async () => {
        const server = await startServer('quick-start.ts', {});
        const curl = await until(() => /^curl .*$/m.exec(server.stdout)?.[0], 'curl line', server);
        expect((await call(`${server.url}/me`)).body.code).to.equal('WX_SESSION_MISSING');
        let answer: Record<string, unknown>;
        if (spawnSync('curl', ['--version']).status === 0) {
          const result = spawnSync('sh', ['-c', curl], { encoding: 'utf8' });
          answer = JSON.parse(result.stdout) as Record<string, unknown>;
        } else {
          const code = /"code":"([^"]+)"/.exec(curl)![1]!;
          answer = (await call(`${server.url}/wx/login`, { json: { code } })).body;
        }
        expect(answer).to.have.keys('token', 'expiresIn', 'openid');
        const token = answer.token as string;
        for (const score of ['abc', 1.5, -1, null]) {
          const refused = await call(`${server.url}/me/score`, { token, json: { score } });
          expect(refused.status, `score ${JSON.stringify(score)}`).to.equal(400);
          expect(refused.body.code).to.equal('WX_BAD_REQUEST');
        }
        expect((await call(`${server.url}/me/score`, { token, json: { score: 42 } })).body).to.deep.equal({ score: 42 });
        expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid: answer.openid, data: { score: 42 } });
        expect((await call(`${server.url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
        expect((await call(`${server.url}/me`, { token })).body.code).to.equal('WX_SESSION_EXPIRED');
        server.child.kill('SIGTERM');
      });

      it('real-credentials.ts: exits 0 once WeChat accepted the credentials; a wrong AppSecret or no AppID exits 1 saying which', async () => {
        mock.resetCalls();
        const good = runSnippet('real-credentials.ts', env);
        expect(await good.exit(), good.stderr).to.equal(0);
        expect(mock.callsTo('/cgi-bin/stable_token')).to.have.length(1);

        const wrong = runSnippet('real-credentials.ts', { ...env, WX_APPSECRET: 'a-wrong-app-secret-000000000000' });
        expect(await wrong.exit()).to.equal(1);
        expect(wrong.stderr).to.match(/AppSecret rejected \(40125\)/);

        const missing = runSnippet('real-credentials.ts', { ...env, WX_APPID: undefined });
        expect(await missing.exit()).to.equal(1);
        expect(missing.stderr).to.match(/wx-session: appId is required/);
      });
    });

    describe('docs/api.md', () => {
      it('koa.ts: login and logout on its own routes, /me behind wx.required', async () => {
        const server = await startServer('koa.ts', env);
        expect((await call(`${server.url}/wx/login`, { json: { code: mock.issueCode() } })).status, 'no default login route').to.equal(404);
        const { token, openid } = await login(server.url, mock.issueCode('oDocsKoa'), '/game/login');
        expect(openid).to.equal('oDocsKoa');
        expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid, data: {} });
        expect((await call(`${server.url}/me`)).status).to.equal(401);
        expect((await call(`${server.url}/game/logout`, { method: 'POST', token })).status).to.equal(204);
        expect((await call(`${server.url}/me`, { token })).body.code).to.equal('WX_SESSION_EXPIRED');
      });

      it('express-pieces.ts: login on loginPath, an optional route that says why there is no session, a required one', async () => {
        const server = await startServer('express-pieces.ts', env);
        expect((await call(`${server.url}/hello`)).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_MISSING' });
        const { token, openid } = await login(server.url, mock.issueCode(), '/game/login');
        expect((await call(`${server.url}/hello`, { token })).body).to.deep.equal({ hello: openid });
        expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid });
        expect((await call(`${server.url}/game/logout`, { method: 'POST', token })).status).to.equal(204);
        expect((await call(`${server.url}/hello`, { token })).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_EXPIRED' });
        const me = await call(`${server.url}/me`, { token });
        expect(me.status).to.equal(401);
        expect(me.headers.get('www-authenticate')).to.equal('Bearer realm="wx-session", error="invalid_token"');
      });

      it("crypto-helpers.ts: prints WeChat's own signature vector", async () => {
        const child = runSnippet('crypto-helpers.ts');
        expect(await child.exit(), child.stderr).to.equal(0);
        expect(child.stdout.trim()).to.equal('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
      });
    });

    describe('docs/session-key.md', () => {
      it('session-key.ts: a signed storage write; 87009 marks the session stale until X-WX-Code repairs it, same token; decrypt', async () => {
        const server = await startServer('session-key.ts', env);
        const openid = 'oDocsKeyPlayer';
        const { token } = await login(server.url, mock.issueCode(openid));
        expect((await call(`${server.url}/me/storage`, { token, json: { best: '4200' } })).status).to.equal(204);
        expect(mock.userStorage(openid)).to.deep.equal({ best: '4200' });
        mock.resetCalls();
        const notText = await call(`${server.url}/me/storage`, { token, json: { best: 4200 } });
        expect(notText.status).to.equal(400);
        expect(notText.body.code).to.equal('WX_BAD_REQUEST');
        expect(mock.callsTo('/wxa/set_user_storage'), 'no call to WeChat').to.deep.equal([]);

        const group = encryptUserData(mock.sessionKeyOf(openid)!, { openGId: 'tGDocsGroup', watermark: { appid: mock.appId, timestamp: Math.floor(Date.now() / 1000) } });
        expect((await call(`${server.url}/me/group`, { token, json: group })).body).to.deep.equal({ openGId: 'tGDocsGroup' });
        expect((await call(`${server.url}/me/group`, { token, json: { encryptedData: 'bm9wZQ==', iv: group.iv } })).body.code).to.equal('WX_BAD_REQUEST');

        mock.rotateSessionKey(openid); // a login on another device
        const refused = await call(`${server.url}/me/storage`, { token, json: { best: '4300' } });
        expect(refused.status).to.equal(401);
        expect(refused.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
        expect(refused.headers.get('www-authenticate')).to.equal('Bearer realm="wx-session", error="invalid_token"');
        expect((await call(`${server.url}/me`, { token })).body.code, 'the session is stale now').to.equal('WX_SESSION_KEY_EXPIRED');
        const repaired = await call(`${server.url}/me`, { token, code: mock.issueCode(openid) });
        expect(repaired.status).to.equal(200);
        expect(repaired.headers.get('x-wx-session-token'), 'same token').to.equal(null);
        expect((await call(`${server.url}/me/storage`, { token, json: { best: '4300' } })).status).to.equal(204);
        expect(mock.userStorage(openid)).to.deep.equal({ best: '4300' });
      });
    });

    describe('docs/access-tokens.md', () => {
      it("access-token-service.ts: checkKey uses the service's token; wx-session makes no stable_token call", async () => {
        const tokenAnswer = await fetch(`${mock.url}/cgi-bin/stable_token`, {
          method: 'POST',
          body: JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: false }),
        });
        const { access_token: accessToken } = (await tokenAnswer.json()) as { access_token: string };
        let asked = 0;
        const service = await listen((req, res) => {
          asked += 1;
          res.setHeader('Content-Type', 'application/json');
          res.end(req.url === '/cgi-bin/token-service' ? JSON.stringify({ token: accessToken }) : '{}');
        });
        try {
          const server = await startServer('access-token-service.ts', { ...env, TOKEN_SERVICE_URL: `${service.url}/cgi-bin/token-service` });
          const { token, openid } = await login(server.url, mock.issueCode());
          mock.resetCalls();
          expect((await call(`${server.url}/me/key`, { token })).body).to.deep.equal({ current: true });
          expect(asked, 'the service was asked').to.be.at.least(1);
          expect(mock.callsTo('/wxa/checksession')).to.have.length(1);
          expect(mock.callsTo('/cgi-bin/stable_token')).to.deep.equal([]);
          mock.rotateSessionKey(openid);
          expect((await call(`${server.url}/me/key`, { token })).body).to.deep.equal({ current: false });
        } finally {
          await close(service.server);
        }
      });
    });

    describe('docs/operators.md', () => {
      it('metrics.ts: /metrics counts logins, logouts and WeChat calls by endpoint and errcode', async () => {
        const server = await startServer('metrics.ts', env);
        const { token } = await login(server.url, mock.issueCode());
        mock.fault('/sns/jscode2session', { status: 500 }, { times: 1 });
        expect((await call(`${server.url}/wx/login`, { json: { code: mock.issueCode() } })).status).to.equal(502);
        expect((await call(`${server.url}/wx/login`, { json: { code: 'made-up' } })).status).to.equal(401);
        expect((await call(`${server.url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
        const metrics = await call(`${server.url}/metrics`);
        expect(metrics.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
        const lines = metrics.text.trim().split('\n').sort();
        expect(lines).to.deep.equal(
          [
            'wx_session_events_total{event="login"} 1',
            'wx_session_events_total{event="logout"} 1',
            'wx_session_wechat_calls_total{endpoint="/sns/jscode2session",errcode="0"} 1',
            'wx_session_wechat_calls_total{endpoint="/sns/jscode2session",errcode="40029"} 1',
            'wx_session_wechat_calls_total{endpoint="/sns/jscode2session",errcode="none"} 1',
          ].sort(),
        );
      });

      it('otel.ts: a span per WeChat call with its endpoint, errcode and status; none once stopped', async () => {
        const { traceWeChatCalls } = (await import('../docs/snippets/otel.js')) as typeof import('../docs/snippets/otel.js');
        interface Recorded {
          name: string;
          options: unknown;
          attributes: Record<string, string | number>;
          status?: { code: number; message?: string };
          ended: boolean;
        }
        const spans: Recorded[] = [];
        const tracer = {
          startSpan(name: string, options?: { attributes?: Record<string, string | number> }) {
            const span: Recorded = { name, options, attributes: { ...options?.attributes }, ended: false };
            spans.push(span);
            return {
              setAttribute: (key: string, value: string | number) => void (span.attributes[key] = value),
              setStatus: (status: { code: number; message?: string }) => void (span.status = status),
              end: () => void (span.ended = true),
            };
          },
        };
        const core = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret: SECRET });
        const stop = traceWeChatCalls(tracer);
        try {
          await core.login(mock.issueCode());
          await core.login('made-up').catch(() => {});
          mock.fault('/sns/jscode2session', { status: 500 }, { times: 1 });
          await core.login(mock.issueCode()).catch(() => {});
        } finally {
          stop();
        }
        await core.login(mock.issueCode());
        expect(spans.map((span) => [span.name, span.attributes['wechat.errcode'], span.status?.code, span.ended])).to.deep.equal([
          ['WeChat /sns/jscode2session', 0, 1, true],
          ['WeChat /sns/jscode2session', 40029, 2, true],
          ['WeChat /sns/jscode2session', undefined, 2, true],
        ]);
        expect(spans[0]!.attributes).to.include({ 'wechat.app_id': mock.appId, 'wechat.endpoint': '/sns/jscode2session', 'http.request.method': 'GET' });
        expect(spans[1]!.attributes['wechat.rid'], "WeChat's rid").to.be.a('string');
        expect(spans[2]!.status!.message).to.match(/HTTP 500/);
      });
    });

    describe('docs/testing.md', () => {
      it('app.spec.ts passes under mocha (it builds app.ts against the mock WeChat)', async () => {
        const child = run([join(ROOT, 'node_modules/mocha/bin/mocha.js'), '--no-config', '-n', 'import=tsx', `${SNIPPETS}/app.spec.ts`]);
        expect(await child.exit(60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
        expect(child.stdout).to.match(/\b4 passing\b/);
      });
    });

    describe('docs/stores.md', () => {
      it('my-store.spec.ts: MapStore passes the conformance suite under mocha', async () => {
        const child = run([join(ROOT, 'node_modules/mocha/bin/mocha.js'), '--no-config', '-n', 'import=tsx', `${SNIPPETS}/my-store.spec.ts`]);
        expect(await child.exit(60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
        expect(child.stdout).to.match(/\b\d{2} passing\b/);
        expect(child.stdout).to.not.match(/pending|failing/);
      });

      it('my-store.node-test.ts: and under node:test', async () => {
        const child = run(['--import', 'tsx', '--test', `${SNIPPETS}/my-store.node-test.ts`]);
        expect(await child.exit(60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
        expect(child.stdout).to.match(/^# pass \d{2}$/m);
        expect(child.stdout).to.match(/^# fail 0$/m);
      });
    });

    describe('docs/deploy.md', () => {
      it('server.ts: serves app.ts once WeChat accepted the credentials, and stops on SIGTERM', async () => {
        const server = await startServer('server.ts', env);
        const { token, openid } = await login(server.url, mock.issueCode());
        expect((await call(`${server.url}/me/score`, { token, json: { score: 7 } })).body).to.deep.equal({ score: 7 });
        expect((await call(`${server.url}/me/score`, { token, json: { score: '7' } })).status).to.equal(400);
        expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid, data: { score: 7 } });
        expect(await server.stop()).to.equal(0);
      });

      it('server.ts: exits 1 before listening when a variable is missing or WeChat refuses the credentials', async () => {
        const missing = runSnippet('server.ts', { ...env, WX_SESSION_SECRET: undefined });
        expect(await missing.exit()).to.equal(1);
        expect(missing.stderr.trim()).to.equal('not starting: WX_SESSION_SECRET is not set');
        mock.fault('/cgi-bin/stable_token', { errcode: 40164 }, { times: 1 });
        const blocked = runSnippet('server.ts', env);
        expect(await blocked.exit()).to.equal(1);
        expect(blocked.stderr).to.match(/^not starting: this server's IP is not on the API allow-list \(40164\)/);
        expect(blocked.stdout).to.not.match(/listening/);
      });

      describe('with REDIS_URL', function () {
        requireRedis(this);
        let redis: ControlledRedis | undefined;
        before(async function () {
          if (hasRedisServer) redis = await startControlledRedis();
        });
        after(async () => {
          await redis?.stop();
        });

        it('server.ts: two instances share sessions and logouts; a secret rotated with "new,old" keeps the old tokens, re-issued', async () => {
          const redisEnv = { ...env, REDIS_URL: `redis://127.0.0.1:${redis!.port}` };
          const [a, b] = await Promise.all([startServer('server.ts', redisEnv), startServer('server.ts', redisEnv)]);
          const first = await login(a.url, mock.issueCode());
          expect((await call(`${b.url}/me/score`, { token: first.token, json: { score: 3 } })).status).to.equal(200);
          expect((await call(`${a.url}/me`, { token: first.token })).body).to.deep.equal({ openid: first.openid, data: { score: 3 } });
          expect((await call(`${a.url}/wx/logout`, { method: 'POST', token: first.token })).status).to.equal(204);
          expect((await call(`${b.url}/me`, { token: first.token })).body.code).to.equal('WX_SESSION_EXPIRED');

          const second = await login(b.url, mock.issueCode());
          expect(await a.stop()).to.equal(0);
          const rotated = await startServer('server.ts', { ...redisEnv, WX_SESSION_SECRET: `${NEW_SECRET},${SECRET}` });
          const old = await call(`${rotated.url}/me`, { token: second.token });
          expect(old.status).to.equal(200);
          const reissued = old.headers.get('x-wx-session-token');
          expect(reissued).to.be.a('string').and.not.equal(second.token);
          expect((await call(`${rotated.url}/me`, { token: reissued! })).status).to.equal(200);
          expect((await call(`${b.url}/me`, { token: reissued! })).body.code, 'an instance without the new secret').to.equal('WX_SESSION_INVALID');
          expect(await Promise.all([b.stop(), rotated.stop()])).to.deep.equal([0, 0]);
        });
      });
    });

    describe('docs/redis.md', function () {
      requireRedis(this);
      let redis: ControlledRedis | undefined;
      before(async function () {
        if (hasRedisServer) redis = await startControlledRedis();
      });
      after(async () => {
        await redis?.stop();
      });

      it('redis.ts: two instances share sessions and logouts under its prefix, report ready, and close their connections on SIGTERM', async () => {
        const redisEnv = { ...env, REDIS_URL: `redis://127.0.0.1:${redis!.port}` };
        const [a, b] = await Promise.all([startServer('redis.ts', redisEnv), startServer('redis.ts', redisEnv)]);
        for (const instance of [a, b]) {
          const deadline = Date.now() + 5000;
          while ((await call(`${instance.url}/ready`)).status !== 200) {
            expect(Date.now(), 'ready within 5 s').to.be.below(deadline);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        const { token, openid } = await login(a.url, mock.issueCode());
        const client = redis!.client();
        expect(await client.keys('mygame:*'), 'keys under the prefix').to.not.deep.equal([]);
        expect(await client.keys('wxs:*'), 'keys under the default prefix').to.deep.equal([]);
        expect((await call(`${b.url}/me`, { token })).body).to.deep.equal({ openid });
        expect((await call(`${b.url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
        const refused = await call(`${a.url}/me`, { token });
        expect(refused.body.code, 'the logout on B, read on A').to.equal('WX_SESSION_EXPIRED');
        expect(await Promise.all([a.stop(), b.stop()])).to.deep.equal([0, 0]);
      });
    });

    describe('docs/client.md', () => {
      let game: Running;
      let codes: { server: Server; url: string };
      let codeOptions: MockIssueCodeOptions | undefined;
      before(async () => {
        game = await startServer('server.ts', env);
        children.delete(game.child); // the suite's, stopped in after(), not after each test
        codes = await listen((_req, res) => res.end(mock.issueCode('oDocsGamePlayer', codeOptions)));
      });
      after(async () => {
        await game.stop();
        await close(codes.server);
      });

      const play = () => runSnippet('game.ts', { DOCS_GAME_SERVER: game.url, DOCS_WX_CODES: codes.url }, ['./test/docs-wx.ts']);

      it('game.ts: logs in, shows the profile, saves a score, is told a bad one was refused, logs out', async () => {
        codeOptions = undefined;
        const child = play();
        expect(await child.exit(), child.stderr).to.equal(0);
        expect(child.stdout.trim().split('\n')).to.deep.equal([
          'player oDocsGamePlayer, best score 0',
          'saved 42',
          'not saved: WX_BAD_REQUEST',
          'player oDocsGamePlayer, best score 42',
        ]);
        expect(child.stderr.trim().split('\n')).to.deep.equal([
          'wx.request POST /wx/login -> 200',
          'wx.request GET /me -> 200',
          'wx.request POST /me/score -> 200',
          'wx.request POST /me/score -> 400',
          'wx.request GET /me -> 200',
          'wx.request POST /wx/logout -> 204',
        ]);
      });

      it('game.ts: a login WeChat rate-limits shows the toast with Retry-After', async () => {
        codeOptions = { errcode: 45011 };
        const child = play();
        expect(await child.exit(), child.stderr).to.equal(0);
        expect(child.stdout.trim(), child.stderr).to.equal('toast: Try again in 60 s');
        expect(child.stderr.trim()).to.equal('wx.request POST /wx/login -> 429');
      });
    });
  });
});
