// The playground of `npm start` (examples/demo-playground.ts, examples/playground/) in a real
// browser: headless Chromium (Debian's `chromium`, driven by playwright-core) opens the page the
// demo names on its first line and presses every button in the order of the story. After each
// press the diagram must show the arrows of what happened (from, to, method and path, status),
// read from the page itself. Then: an arrow shows its details; no secret is anywhere the browser
// saw (the DOM, localStorage, every request and answer: headers and bodies); the console has no
// error but the browser's own line for each 4xx/5xx answer the diagram shows. Screenshots at
// 375 px and at desktop width go to test/.tmp/playground/ (ignored by git); docs/playground.png,
// which README shows, is written only when missing or with PLAYGROUND_README_SHOT=1.
//
// Under CI=true a missing Chromium fails this file; elsewhere it is skipped with a message.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SecretScanner } from '../harness/secret-scan.js';
import { requireProgram, startChild, type Child } from '../harness/process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const MOCK_SECRET = 'playground-test-mock-app-secret-3b8e0c';
const SHOTS = join(ROOT, 'test', '.tmp', 'playground');
const README_SHOT = join(ROOT, 'docs', 'playground.png');
const README_SHOT_MAX_BYTES = 150 * 1024;
const README_SHOT_SIZE = { width: 1200, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
/** A WeChat session_key: 16 bytes in base64. */
const SESSION_KEY_SHAPE = /[A-Za-z0-9+/]{22}==/;
/** How long the server waits for WeChat in the demo (examples/demo.ts), and checks pause after an outage (src/key-freshness.ts). */
const CHECK_PAUSE_MS = 5000;

type SecretKind = 'appSecret' | 'signing secret' | 'session_key' | 'access_token';

/** One thing the browser saw: where, and the text (headers and body). */
interface Seen {
  where: string;
  text: string;
}

/** A row of the diagram as the test reads it: `1 game>server GET /me`, `wechat>server 200 · errcode 0`, `note wechat`. */
async function diagramRows(page: Page): Promise<string[]> {
  return page.$$eval('#diagram > li', (rows) =>
    rows.map((row) => {
      const { kind, from, to, device, label, on } = (row as HTMLElement).dataset;
      if (kind === 'note') return `note ${on}`;
      const who = device ? `${device.slice(-1)} ` : '';
      return `${who}${from}>${to} ${kind === 'wx-code' ? 'code' : label}`;
    }),
  );
}

const login = (phone: 1 | 2) => [`${phone} game>wechat wx.login()`, `${phone} wechat>game code`];
const wechat = (call: string, answer: string) => [`server>wechat ${call}`, `wechat>server ${answer}`];
const CHECKED = wechat('GET /wxa/checksession', '200 · errcode 0');
const STALE = wechat('GET /wxa/checksession', '200 · errcode 87009');
/** GET /me of a session whose session_key WeChat replaced: 401, wx.login, the retry with X-WX-Code, 200. */
const repaired = (phone: 1 | 2) => [
  `${phone} game>server GET /me`,
  ...STALE,
  `${phone} server>game 401 WX_SESSION_KEY_EXPIRED`,
  ...login(phone),
  `${phone} game>server GET /me + X-WX-Code`,
  ...wechat('GET /sns/jscode2session', '200 · errcode 0'),
  `${phone} server>game 200`,
];

describe('npm start: the playground in a real browser (headless Chromium)', function () {
  this.timeout(90_000);
  requireProgram(this, existsSync(CHROMIUM), `Chromium (${CHROMIUM})`, 'the playground browser test', 'chromium');

  let demo: Child;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  const secrets = new SecretScanner<SecretKind>();
  const secretCounts: Record<SecretKind, number> = { appSecret: 0, 'signing secret': 0, session_key: 0, access_token: 0 };
  const seen: Array<Promise<Seen | undefined>> = [];
  const consoleErrors: Array<{ text: string; url: string }> = [];
  const pageErrors: string[] = [];
  /** The diagram rows already checked. */
  let checked = 0;

  before(async () => {
    // The demo tells a parent with an IPC channel each secret it comes to know.
    demo = startChild({
      name: 'the demo',
      args: ['--import', 'tsx', 'examples/demo.ts'],
      env: { ...withoutDemoVariables(process.env), PORT: '0', DEMO_MOCK_SECRET: MOCK_SECRET },
      cwd: ROOT,
      ipc: true,
    });
    demo.process.on('message', (message: { playgroundSecret?: { kind: SecretKind; value: string } }) => {
      const secret = message?.playgroundSecret;
      if (!secret) return;
      secrets.add(secret.value, secret.kind);
      secretCounts[secret.kind] += 1;
    });
    // The walk-through runs first, in the terminal; the page is opened once it is over.
    await demo.waitFor(/Serving on http:\/\/127\.0\.0\.1:\d+/);
    const first = demo.stdout.split('\n')[0]!;
    const printed = /^Playground: (http:\/\/localhost:\d+\/) /.exec(first);
    expect(printed, `the first line names the playground: ${first}`).to.not.equal(null);
    url = printed![1]!;

    profile = mkdtempSync(join(tmpdir(), 'wx-session-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: DESKTOP,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push({ text: message.text(), url: message.location().url });
    });
    page.on('pageerror', (error) => pageErrors.push(error.stack ?? error.message));
    page.on('requestfinished', (request) => {
      seen.push(
        (async () => {
          const response = await request.response();
          const sent = `${request.method()} ${request.url()}\n${JSON.stringify(await request.allHeaders())}\n${request.postData() ?? ''}`;
          const answered = response ? `${response.status()}\n${JSON.stringify(await response.allHeaders())}\n${(await response.body()).toString('utf8')}` : '';
          return { where: `${request.method()} ${request.url()}`, text: `${sent}\n${answered}` };
        })().catch(() => undefined),
      );
    });
    await page.goto(url);
    await page.waitForSelector('#connection[data-state="live"]');
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (profile) rmSync(profile, { recursive: true, force: true });
    await demo?.stop();
  });

  /** Presses a button, waits for the page's actions to settle, and for the diagram to show `expected` after the rows already checked. */
  async function press(selector: string, expected: string[], how: 'click' | 'keyboard' = 'click'): Promise<void> {
    if (how === 'keyboard') {
      await page.focus(selector);
      await page.keyboard.press('Enter');
    } else {
      await page.click(selector);
    }
    await page.waitForFunction(() => document.body.dataset.pending === '0');
    await expectRows(expected);
  }

  async function expectRows(expected: string[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    let rows = await diagramRows(page);
    while (rows.length < checked + expected.length && Date.now() < deadline) {
      await page.waitForTimeout(50);
      rows = await diagramRows(page);
    }
    expect(rows.slice(checked), 'the diagram rows drawn').to.deep.equal(expected);
    checked = rows.length;
  }

  const phone = (n: 1 | 2, action: string) => `#phone-${n} button[data-action="${action}"]`;
  const said = (n: 1 | 2) => page.textContent(`#phone-${n} [data-field="said"]`);
  const token = (n: 1 | 2) => page.textContent(`#phone-${n} [data-field="token"]`);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, name) });

  it('serves the page and the compiled client from the demo, with no external resource', async () => {
    expect(await page.title()).to.equal('wx-session playground: the login dance');
    const hosts = await page.evaluate(() => performance.getEntriesByType('resource').map((entry) => new URL(entry.name).host));
    expect(hosts.every((host) => host === new URL(url).host), `resources from elsewhere: ${hosts}`).to.equal(true);
    const client = await page.request.get(new URL('/playground/client/index.js', url).href);
    expect(client.status()).to.equal(200);
    expect(await client.text(), 'the build of wx-session/client, as it is').to.equal(readFileSync(join(ROOT, 'dist/esm/src/client/index.js'), 'utf8'));
    // The demo's own calls answer only this server by its own name.
    const foreign = await page.request.get(new URL('/playground/api/events?after=0', url).href, { headers: { Host: 'evil.example:80' } });
    expect(foreign.status()).to.equal(403);
    mkdirSync(SHOTS, { recursive: true });
    await shot('0-start-desktop.png');
  });

  it('logs in, calls /me and saves a score: each exchange drawn with the calls to WeChat it caused', async () => {
    await press(phone(1, 'login'), [...login(1), '1 game>server POST /wx/login', ...wechat('GET /sns/jscode2session', '200 · errcode 0'), '1 server>game 200']);
    expect(await said(1)).to.match(/^Logged in/);
    expect(await token(1)).to.match(/^\S{8}…\S{4} \(\d+ chars\)$/);
    await press(phone(1, 'me'), ['1 game>server GET /me', ...CHECKED, '1 server>game 200'], 'keyboard');
    await press(phone(1, 'score'), ['1 game>server POST /me/score', ...CHECKED, '1 server>game 200']);
    expect(await page.textContent('#phone-1 [data-field="score"]')).to.equal('100');
  });

  it('rotates the session_key on the mock: 87009, WX_SESSION_KEY_EXPIRED, the retry with X-WX-Code, the same token', async () => {
    const before = await token(1);
    await press('[data-control="rotate-session-key"]', ['note wechat']);
    await press(phone(1, 'me'), repaired(1));
    expect(await token(1)).to.equal(before);
    expect(await said(1)).to.equal('GET /me answered 200. Same token.');
    // The arrow of the 401 answer, chosen with the keyboard, shows the whole exchange.
    const refused = page.locator('#diagram > li[data-kind="answer"][data-status="401"] button').last();
    await refused.focus();
    await page.keyboard.press('Enter');
    const details = await page.textContent('#details');
    expect(details).to.include('Phone 1 → your server: GET /me');
    expect(details).to.match(/Status\s*401/);
    expect(details).to.include('WX_SESSION_KEY_EXPIRED');
    expect(details).to.include('www-authenticate');
    expect(details).to.match(/x-wx-session\s*\S{8}…\S{4} \(\d+ chars\)/);
    await shot('1-key-repaired-desktop.png');
    if (process.env.PLAYGROUND_README_SHOT === '1' || !existsSync(README_SHOT)) {
      await page.setViewportSize(README_SHOT_SIZE);
      await page.$eval('#diagram', (list) => list.scrollTo(0, list.scrollHeight));
      await page.screenshot({ path: README_SHOT });
      await page.setViewportSize(DESKTOP);
    }
  });

  it('expires the access token on the mock: 42001, a new one from stable_token, the check again', async () => {
    await press('[data-control="expire-access-token"]', ['note wechat']);
    await press(phone(1, 'me'), [
      '1 game>server GET /me',
      ...wechat('GET /wxa/checksession', '200 · errcode 42001'),
      ...wechat('POST /cgi-bin/stable_token', '200 · errcode 0'),
      ...CHECKED,
      '1 server>game 200',
    ]);
    // WeChat's side comes from the mock's log: the AppSecret and the access token read [redacted].
    await page.locator('#diagram > li[data-kind="wechat-call"][data-path="/cgi-bin/stable_token"] button').last().click();
    const details = await page.textContent('#details');
    expect(details).to.include('"secret": "[redacted]"');
    await page.locator('#diagram > li[data-kind="wechat-call"][data-path="/wxa/checksession"] button').last().click();
    expect(await page.textContent('#details')).to.match(/access_token\s*\[redacted\]/);
  });

  it('rotates the signing secret: the answer carries X-WX-Session-Token, and the client keeps the new token', async () => {
    const before = await token(1);
    await press('[data-control="rotate-signing-secret"]', ['note server']);
    // The new core fetches its own access token first.
    await press(phone(1, 'me'), ['1 game>server GET /me', ...wechat('POST /cgi-bin/stable_token', '200 · errcode 0'), ...CHECKED, '1 server>game 200 + X-WX-Session-Token']);
    const after = await token(1);
    expect(after).to.not.equal(before);
    expect(after!.slice(0, 8), 'the same session id, re-signed').to.equal(before!.slice(0, 8));
    expect(await said(1)).to.include('X-WX-Session-Token');
    await page.locator('#diagram > li[data-kind="answer"] button').last().click();
    expect(await page.textContent('#details')).to.match(/x-wx-session-token\s*\S{8}…\S{4} \(\d+ chars\)/);
    await press(phone(1, 'me'), ['1 game>server GET /me', ...CHECKED, '1 server>game 200']);
  });

  it('logs the player in on a second device: each login leaves the other phone with a stale session_key, repaired in place', async () => {
    await press(phone(2, 'login'), [...login(2), '2 game>server POST /wx/login', ...wechat('GET /sns/jscode2session', '200 · errcode 0'), '2 server>game 200']);
    expect(await token(2)).to.not.equal(await token(1));
    expect(await page.textContent('#phone-2 [data-field="openid"]')).to.equal(await page.textContent('#phone-1 [data-field="openid"]'));
    const one = await token(1);
    const two = await token(2);
    await press(phone(1, 'me'), repaired(1));
    await press(phone(2, 'me'), repaired(2));
    expect([await token(1), await token(2)]).to.deep.equal([one, two]);
    await page.locator('#diagram > li[data-kind="request"] button').last().click();
    const details = await page.textContent('#details');
    expect(details).to.include('Phone 2 → your server: GET /me');
    expect(details).to.match(/x-wx-code\s*\S{8}… \(32 chars\)/);
  });

  it('makes WeChat slow, then down: logins answer 504 and 502, and the check of the session_key fails open', async () => {
    await press('[data-wechat="slow"]', ['note wechat']);
    expect(await page.getAttribute('[data-wechat="slow"]', 'aria-pressed')).to.equal('true');
    await press(phone(1, 'me'), ['1 game>server GET /me', ...wechat('GET /wxa/checksession', 'no answer in time'), '1 server>game 200']);
    const checkFailed = Date.now();
    await press(phone(2, 'login'), [...login(2), '2 game>server POST /wx/login', ...wechat('GET /sns/jscode2session', 'no answer in time'), '2 server>game 504 WX_UPSTREAM_TIMEOUT']);
    expect(await said(2)).to.equal('Login refused: 504 WX_UPSTREAM_TIMEOUT.');

    await press('[data-wechat="down"]', ['note wechat']);
    await press(phone(2, 'login'), [...login(2), '2 game>server POST /wx/login', ...wechat('GET /sns/jscode2session', '502'), '2 server>game 502 WX_UPSTREAM_ERROR']);
    // After a failed check the server skips checks for a while (one failing call per pause).
    await page.waitForTimeout(Math.max(0, checkFailed + CHECK_PAUSE_MS + 300 - Date.now()));
    await press(phone(1, 'me'), ['1 game>server GET /me', ...wechat('GET /wxa/checksession', '502'), '1 server>game 200']);
    await shot('2-wechat-down-desktop.png');
    await press('[data-wechat="normal"]', ['note wechat']);
  });

  it('logs both phones out', async () => {
    await press(phone(1, 'logout'), ['1 game>server POST /wx/logout', '1 server>game 204']);
    await press(phone(2, 'logout'), ['2 game>server POST /wx/logout', '2 server>game 204']);
    expect([await token(1), await token(2)]).to.deep.equal(['none', 'none']);
  });

  it('is readable at 375 px wide', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    // Nothing wider than the screen: no sideways scrolling.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(375);
    await page.screenshot({ path: join(SHOTS, '3-narrow-375.png'), fullPage: true });
    await page.locator('#diagram').scrollIntoViewIfNeeded();
    await shot('3-narrow-375-diagram.png');
    await page.setViewportSize(DESKTOP);
    await shot('4-end-desktop.png');
  });

  it('shows no secret anywhere the browser saw: the DOM, localStorage, every request and answer', async () => {
    expect(secretCounts.appSecret, 'the AppSecret, from the demo').to.equal(1);
    expect(secretCounts['signing secret'], 'signing secrets: the first, and the rotated one').to.equal(2);
    expect(secretCounts.session_key, "the player's session_keys").to.be.at.least(6);
    expect(secretCounts.access_token, 'access tokens').to.be.at.least(2);
    secrets.add(MOCK_SECRET, 'appSecret');

    const dom = await page.evaluate(() => `${document.documentElement.outerHTML}\n${document.body.innerText}\n${JSON.stringify({ ...localStorage })}`);
    const network = (await Promise.all(seen)).filter((item): item is Seen => item !== undefined);
    expect(network.length, 'requests seen').to.be.greaterThan(40);
    expect(network.some((item) => item.where.includes('/playground/api/events')), 'the events the diagram is drawn from').to.equal(true);
    const everything: Seen[] = [{ where: 'the DOM and localStorage', text: dom }, ...network];
    const leaks = everything.flatMap(({ where, text }) => secrets.find(text, where));
    expect(leaks.map((leak) => `${leak.kind} in ${leak.where}: ${leak.context}`)).to.deep.equal([]);
    for (const { where, text } of everything) {
      expect(SESSION_KEY_SHAPE.test(text), `something shaped like a session_key in ${where}`).to.equal(false);
      expect(/"session_?key"\s*:\s*"|[?&]session_?key=/i.test(text), `a session_key field or parameter in ${where}`).to.equal(false);
    }
  });

  it('logs no error to the console but the browser’s own line for each 4xx/5xx answer drawn', async () => {
    expect(pageErrors, 'page errors').to.deep.equal([]);
    const answered = await page.$$eval('#diagram > li[data-kind="answer"]', (rows) => rows.map((row) => Number((row as HTMLElement).dataset.status)).filter((status) => status >= 400));
    const network = /^Failed to load resource: the server responded with a status of (\d{3})\b/;
    const others = consoleErrors.filter((error) => !network.test(error.text) || new URL(error.url).pathname.startsWith('/playground/'));
    expect(others, 'console errors').to.deep.equal([]);
    const statuses = consoleErrors.map((error) => Number(network.exec(error.text)![1]));
    expect(statuses.sort(), 'the browser logs a line for each 4xx/5xx answer of the game').to.deep.equal(answered.sort());
    expect(answered.sort()).to.deep.equal([401, 401, 401, 502, 504]);
  });

  it('has a README screenshot in docs/ small enough to commit', () => {
    expect(existsSync(README_SHOT), 'docs/playground.png').to.equal(true);
    expect(statSync(README_SHOT).size, 'docs/playground.png bytes').to.be.below(README_SHOT_MAX_BYTES);
  });
});

/** The environment without the demo's variables (WX_*, DEMO_*, PORT), so the demo runs with the embedded mock. */
function withoutDemoVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (/^(WX_|DEMO_)/.test(name) || name === 'PORT') delete copy[name];
  return copy;
}
