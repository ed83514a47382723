// Every row of the error table (README.md, "Errors") gets the same answer through every adapter
// (issue 14 "Bad input"): the same request sent to each test app of harness/apps.ts, and the
// answers compared byte for byte in status, body, Content-Type, WWW-Authenticate, Retry-After,
// Cache-Control and (where the table closes the connection) Connection.
import { connect } from 'node:net';
import { expect } from 'chai';
import { adapters, OLD_SECRET, startApp, type TestApp } from '../harness/apps.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { forgeToken, rawRequest } from './support/wire.js';
import { SwitchableStore } from './support/stores.js';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | undefined>;
}

const COMPARED = ['content-type', 'www-authenticate', 'retry-after', 'cache-control'];

function answerOf(status: number, body: string, headers: Record<string, string | string[] | undefined>, closes: boolean): Answer {
  const picked: Record<string, string | undefined> = {};
  for (const name of closes ? [...COMPARED, 'connection'] : COMPARED) picked[name] = headers[name] as string | undefined;
  return { status, body, headers: picked };
}

const CODE2SESSION = '/sns/jscode2session';

/** The app, its store, and how a case reaches it. */
interface Target {
  app: TestApp;
  store: SwitchableStore;
}

/** A login body that trickles in: the server answers 408 once `bodyTimeout` (300 ms) has passed. */
function trickle(app: TestApp): Promise<Answer> {
  const { port } = new URL(app.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      const end = text.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, end).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      // Content-Length or chunked: either way the JSON is the one object in the rest.
      const body = /\{.*\}/s.exec(text.slice(end + 4))?.[0] ?? '';
      resolve(answerOf(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]), body, headers, true));
    });
    socket.write('POST /wx/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
  });
}

const login = (t: Target, body: string | object, headers: Record<string, string> = {}) => async () => {
  const res = await t.app.http.post('/wx/login').set({ 'Content-Type': 'application/json', ...headers }).send(typeof body === 'string' ? body : JSON.stringify(body));
  return answerOf(res.status, res.text, res.headers, res.status === 413);
};
const me = (t: Target, headers: Record<string, string> = {}) => async () => {
  const res = await t.app.http.get('/me').set(headers);
  return answerOf(res.status, res.text, res.headers, false);
};
/** A login with WeChat answering `errcode` (or hanging past the core's timeout). */
const wechatSays = (mock: MockWeChat, t: Target, fault: Parameters<MockWeChat['fault']>[1], times = 1) => async () => {
  mock.fault(CODE2SESSION, fault, { times });
  return login(t, { code: mock.issueCode() })();
};

type Case = [code: string, what: string, run: (t: Target, mock: MockWeChat) => Promise<Answer>];

const cases: Case[] = [
  ['WX_CODE_MISSING', 'a login without a code', (t) => login(t, {})()],
  ['WX_BAD_REQUEST', 'malformed JSON', (t) => login(t, '{"code":')()],
  ['WX_BAD_REQUEST', 'a code that is a number', (t) => login(t, { code: 42 })()],
  ['WX_BAD_REQUEST', 'an X-WX-Code header over 4096 characters', (t) => login(t, '', { 'X-WX-Code': 'c'.repeat(4097) })()],
  ['WX_PAYLOAD_TOO_LARGE', 'a login body of 8 KiB + 1', (t) => login(t, `{"code":"x","pad":"${'p'.repeat(8192 - 20)}"}`)()],
  ['WX_REQUEST_TIMEOUT', 'a login body that does not arrive', (t) => trickle(t.app)],
  ['WX_CODE_INVALID', 'WeChat 40029', (t, mock) => wechatSays(mock, t, { errcode: 40029 })()],
  ['WX_CODE_USED', 'WeChat 40163', (t, mock) => wechatSays(mock, t, { errcode: 40163 })()],
  ['WX_USER_BLOCKED', 'WeChat 40226', (t, mock) => wechatSays(mock, t, { errcode: 40226 })()],
  ['WX_RATE_LIMITED', 'WeChat 45011', (t, mock) => wechatSays(mock, t, { errcode: 45011 })()],
  ['WX_UPSTREAM_ERROR', 'WeChat -1 after the retries', (t, mock) => wechatSays(mock, t, { errcode: -1 }, 3)()],
  ['WX_UPSTREAM_TIMEOUT', 'WeChat slower than the timeout', (t, mock) => wechatSays(mock, t, { delay: 600 })()],
  ['WX_CONFIG_ERROR', 'WeChat 40013', (t, mock) => wechatSays(mock, t, { errcode: 40013 })()],
  ['WX_SESSION_MISSING', 'a required route without a token', (t) => me(t)()],
  ['WX_SESSION_INVALID', 'a malformed token', (t) => me(t, { 'X-WX-Session': 'not a token!' })()],
  ['WX_SESSION_INVALID', 'a token signed with another secret', (t) => me(t, { Authorization: `Bearer ${forgeToken('some-id', OLD_SECRET)}` })()],
  ['WX_SESSION_EXPIRED', 'a logged-out token', async (t) => {
    const { token } = await t.app.login();
    await t.app.http.post('/wx/logout').set('X-WX-Session', token).expect(204);
    return me(t, { 'X-WX-Session': token })();
  }],
  ['WX_SESSION_KEY_EXPIRED', 'WeChat 87009 and no X-WX-Code', async (t, mock) => {
    const { token } = await t.app.login();
    mock.fault('/wxa/checksession', { errcode: 87009 }, { times: 1 });
    return me(t, { 'X-WX-Session': token })();
  }],
  ['WX_STORE_UNAVAILABLE', 'a store that fails', async (t) => {
    const { token } = await t.app.login();
    t.store.failing = true;
    try {
      return await me(t, { 'X-WX-Session': token })();
    } finally {
      t.store.heal();
    }
  }],
];

describe('the error table through every adapter: the same answers, byte for byte', () => {
  let mock: MockWeChat;
  const targets: Target[] = [];
  before(async () => {
    mock = await startMockWeChat();
    for (const name of adapters) {
      const store = new SwitchableStore();
      const core = { store, timeout: 300, checkSessionKey: { interval: 0 } };
      targets.push({ app: await startApp(name, { mock, core, adapter: { bodyTimeout: 300 } }), store });
    }
  });
  after(async () => {
    for (const { app } of targets.splice(0)) await app.close();
    await mock.close();
  });

  for (const [code, what, run] of cases) {
    it(`${code}: ${what}`, async () => {
      const answers: Array<[string, Answer]> = [];
      for (const target of targets) answers.push([target.app.name, await run(target, mock)]);
      const [first, reference] = answers[0]!;
      expect(JSON.parse(reference.body).code, `${first}'s answer`).to.equal(code);
      for (const [name, answer] of answers.slice(1)) expect(answer, `${name} vs ${first}`).to.deep.equal(reference);
    });
  }

  it('(control) a request over a raw socket reaches every app', async () => {
    for (const { app } of targets) {
      const res = await rawRequest(app.url, 'GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(res.status, app.name).to.equal(200);
    }
  });
});
