// No secret ever leaves the server (SECURITY.md, "Secrets in logs, answers and errors"): a whole
// scenario (logins, config errors, upstream faults, bad tokens, data writes, store failures,
// rotation, logouts) through every adapter, with a capturing logger, and then a search of every
// response body and header, every error and every logged line for the app secret, the signing
// secrets and every session_key WeChat issued.
import { inspect } from 'node:util';
import { expect } from 'chai';
import type { Response } from 'supertest';
import { adapters, OLD_SECRET, SECRET, coreOptions, startApp, type TestApp } from '../harness/apps.js';
import { SwitchableStore } from './support/stores.js';
import { encryptForSession } from './support/keys.js';
import { forgeToken } from './support/wire.js';
import { createWxSession, type Logger } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { witnessLog } from './support/witness.js';

const WRONG_APP_SECRET = 'wrong-app-secret-that-must-not-leak-77';

/** Every form a secret could take in text: as is, URL-encoded, JSON-escaped. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), secret.replace(/\//g, '\\/')])];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : inspect(value, { depth: 20, showHidden: true, breakLength: Infinity, maxStringLength: Infinity, maxArrayLength: Infinity });
}

function errorText(error: unknown): string {
  const e = error as Error & { cause?: unknown };
  return [text(e), String(e?.message), String(e?.stack), text(e?.cause), JSON.stringify(e)].join('\n');
}

for (const name of adapters) describe(`secrets never leak (${name})`, () => {
  let mock: MockWeChat;
  let app: TestApp;
  let wrongId: TestApp;
  let wrongSecret: TestApp;
  let oldDeploy: TestApp;
  let store: SwitchableStore;
  const logged: unknown[][] = [];
  const answers: string[] = [];
  const errors: string[] = [];
  const openids = new Set<string>();
  const keys = new Set<string>();
  const tokens: string[] = [];
  const logger: Logger = {
    warn: (...args: unknown[]) => void (logged.push(args), witnessLog('a logger line', args)),
    error: (...args: unknown[]) => void (logged.push(args), witnessLog('a logger line', args)),
  };

  /** Awaits a request and keeps everything the client saw. */
  async function seen(request: PromiseLike<Response>): Promise<Response> {
    const res = await request;
    answers.push(`${res.status} ${JSON.stringify(res.headers)}\n${res.text ?? ''}`);
    return res;
  }

  /** Notes the openid and its current session_key (call after anything that may rotate it). */
  function track(openid: string): void {
    openids.add(openid);
    const key = mock.sessionKeyOf(openid);
    if (key) keys.add(key);
  }

  before(async () => {
    mock = await startMockWeChat();
    store = new SwitchableStore();
    const core = { logger, store, timeout: 300 };
    app = await startApp(name, { mock, core });
    wrongId = await startApp(name, { mock, core: { ...core, appId: 'wxnotthisapp000000' } });
    wrongSecret = await startApp(name, { mock, core: { ...core, appSecret: WRONG_APP_SECRET } });
    oldDeploy = await startApp(name, { mock, core: { ...core, secret: OLD_SECRET } });
  });
  after(async () => {
    await oldDeploy.close();
    await wrongSecret.close();
    await wrongId.close();
    await app.close();
    await mock.close();
  });

  /** Logins: JSON body, header, unionid, encryptedData, a rotating re-login. */
  async function logins(): Promise<void> {
    const http = app.http;
    for (const [openid, how] of [['oLeak1', 'body'], ['oLeak2', 'header'], ['oLeak3', 'union']] as const) {
      const code = mock.issueCode(openid, how === 'union' ? { unionid: 'uLeak3' } : {});
      track(openid);
      const res = await seen(how === 'header' ? http.post('/wx/login').set('X-WX-Code', code) : http.post('/wx/login').send({ code }));
      expect(res.status).to.equal(200);
      tokens.push(res.body.token);
    }
    {
      const code = mock.issueCode('oLeak4');
      track('oLeak4');
      const pair = encryptForSession(mock.sessionKeyOf('oLeak4')!, { nickName: 'n', watermark: { appid: mock.appId, timestamp: 1 } });
      expect((await seen(http.post('/wx/login').send({ code, ...pair }))).status).to.equal(200);
      const bad = encryptForSession(mock.sessionKeyOf('oLeak4')!, { watermark: { appid: 'wxother', timestamp: 1 } });
      expect((await seen(http.post('/wx/login').send({ code: mock.issueCode('oLeak4'), ...bad }))).status).to.equal(400);
      expect((await seen(http.post('/wx/login').send({ code: mock.issueCode('oLeak4'), encryptedData: pair.encryptedData, iv: 'AAAA' }))).status).to.equal(400);
    }
    {
      const code = mock.issueCode('oLeak1', { rotate: true });
      const res = await seen(http.post('/wx/login').send({ code }));
      track('oLeak1');
      expect(res.status).to.equal(200);
      tokens.push(res.body.token);
    }
    mock.rotateSessionKey('oLeak2');
    track('oLeak2');
  }

  /** Config errors, from the wire and from the core directly. */
  async function configErrors(): Promise<void> {
    expect((await seen(wrongId.http.post('/wx/login').send({ code: mock.issueCode('oLeak5') }))).status).to.equal(500);
    expect((await seen(wrongSecret.http.post('/wx/login').send({ code: mock.issueCode('oLeak5') }))).status).to.equal(500);
    track('oLeak5');
    for (const options of [{ appSecret: WRONG_APP_SECRET }, { appId: 'wxnotthisapp000000' }]) {
      const core = createWxSession(coreOptions(mock, { ...options, logger }));
      try {
        await core.login(mock.issueCode('oLeak5'));
        expect.fail('config error expected');
      } catch (error) {
        errors.push(errorText(error));
      }
    }
  }

  /** Upstream faults. */
  async function upstreamFaults(): Promise<void> {
    const http = app.http;
    const C2S = '/sns/jscode2session';
    const faults = [{ errcode: -1 }, { status: 500 }, { body: 'not json' }, { body: '{"openid":"x","session_k' }, { reset: true as const }, { hang: true as const }, { errcode: 40226 }, { errcode: 45011 }];
    for (const fault of faults) {
      mock.fault(C2S, fault, { times: fault.errcode === -1 ? 3 : 1 });
      const res = await seen(http.post('/wx/login').send({ code: mock.issueCode('oLeak6') }));
      expect(res.status).to.be.at.least(400);
    }
    track('oLeak6');
    mock.clearFaults();
    expect((await seen(http.post('/wx/login').send({ code: 'unknown-code' }))).status).to.equal(401);
  }

  /** Bad input and bad tokens. */
  async function badInput(): Promise<void> {
    const http = app.http;
    await seen(http.post('/wx/login').set('Content-Type', 'application/json').send('{"code":'));
    await seen(http.post('/wx/login').send({ code: 5 }));
    await seen(http.post('/wx/login').set('Content-Type', 'application/json').send(`{"code":"${'x'.repeat(9000)}"}`));
    const good = tokens[0]!;
    for (const bad of ['', 'nodot', `${good}x`, good.slice(0, -2), forgeToken('nobody', SECRET), forgeToken('nobody', 'another-secret-0123456789abcdefghij'), 'ü.ü']) {
      await seen(http.get('/me').set('X-WX-Session', bad));
      await seen(http.get('/whoami').set('Authorization', `Bearer ${bad}`));
    }
  }

  /** Data writes, JSON, destroy, logout. */
  async function dataWrites(): Promise<void> {
    const http = app.http;
    for (const token of tokens) {
      await seen(http.post('/me/coins').set('X-WX-Session', token));
      await seen(http.get('/me/json').set('X-WX-Session', token));
      await seen(http.get('/me').set('Authorization', `Bearer ${token}`));
    }
    await seen(http.post('/me/destroy').set('X-WX-Session', tokens[1]!));
    await seen(http.post('/wx/logout').set('X-WX-Session', tokens[2]!));
    await seen(http.post('/wx/logout').set('X-WX-Session', 'garbage'));
    await seen(http.post('/wx/logout'));
  }

  /** Secret rotation: an OLD-signed token through a [NEW, OLD] core re-issues. */
  async function rotation(): Promise<void> {
    {
      const rotating = await startApp(name, { mock, core: { logger, store, secret: [SECRET, OLD_SECRET] } });
      try {
        const old = await seen(oldDeploy.http.post('/wx/login').send({ code: mock.issueCode('oLeak7') }));
        track('oLeak7');
        const res = await seen(rotating.http.get('/me').set('X-WX-Session', old.body.token));
        expect(res.headers['x-wx-session-token']).to.be.a('string');
      } finally {
        await rotating.close();
      }
    }
  }

  /** Store failures: reads, saves, logins, logouts. */
  async function storeFailures(): Promise<void> {
    const http = app.http;
    store.failing = true;
    await seen(http.get('/me').set('X-WX-Session', tokens[0]!));
    await seen(http.get('/whoami').set('X-WX-Session', tokens[0]!));
    await seen(http.post('/wx/login').send({ code: mock.issueCode('oLeak8') }));
    await seen(http.post('/wx/logout').set('X-WX-Session', tokens[0]!));
    store.heal();
    store.failOn.add('set');
    await seen(http.post('/me/coins').set('X-WX-Session', tokens[0]!));
    store.heal();
    track('oLeak8');
  }

  /** The core's own errors and results. */
  async function coreErrors(): Promise<void> {
    {
      const core = createWxSession(coreOptions(mock, { logger }));
      const { token, session } = await core.login(mock.issueCode('oLeak9'));
      track('oLeak9');
      errors.push(text(session), JSON.stringify(session), text(await core.authenticate(token)), text(core), JSON.stringify(core.config));
      const closed = await startMockWeChat({ appSecret: mock.appSecret });
      await closed.close();
      const offline = createWxSession({ ...coreOptions(mock, { logger }), apiBase: closed.url });
      try {
        await offline.login('any-code');
        expect.fail('network error expected');
      } catch (error) {
        errors.push(errorText(error));
      }
    }
  }

  /** Searches everything kept for every secret, in every form. */
  function search(): void {
    expect(keys.size, 'session keys issued').to.be.at.least(openids.size);
    expect(answers.length).to.be.above(50);
    expect(logged.length, 'the scenario made the logger speak (store failures)').to.be.above(0);
    const secrets: Array<[string, string]> = [
      ['appSecret', mock.appSecret],
      ['a wrong appSecret', WRONG_APP_SECRET],
      ['the signing SECRET', SECRET],
      ['the OLD signing secret', OLD_SECRET],
      ...[...keys].map((key): [string, string] => ['a session_key', key]),
    ];
    const haystacks: Array<[string, string[]]> = [
      ['a response', answers],
      ['an error', errors],
      ['a log line', logged.map((args) => args.map(text).join(' '))],
      ['mock.calls', [JSON.stringify(mock.calls)]],
    ];
    for (const [where, texts] of haystacks) {
      for (const [what, secret] of secrets) {
        for (const form of forms(secret)) {
          const hit = texts.find((t) => t.includes(form));
          expect(hit, `${what} found in ${where}: ${hit?.slice(0, 300)}`).to.equal(undefined);
        }
      }
      for (const t of texts) expect(t, `session_key named in ${where}`).to.not.match(/"session_key"\s*:|sessionKey['"]?\s*[:=]\s*['"]/);
    }
  }

  it('runs the scenario, then finds no secret anywhere', async function () {
    this.timeout(8000);
    for (const step of [logins, configErrors, upstreamFaults, badInput, dataWrites, rotation, storeFailures, coreErrors]) await step();
    search();
  });
});
