// The server snippets of README.md, docs/api.md, docs/session-key.md, docs/access-tokens.md and
// docs/operators.md run as their pages say: each started as a child process against the mock
// WeChat (the README quick start brings its own), driven over HTTP through the routes its page
// documents, then stopped (test/support/snippets.ts). otel.ts, a recipe module, is loaded here
// with a recording tracer around real WeChat calls.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createWxSession } from 'wx-session';
import type { MockWeChat } from 'wx-session/testing';
import { closeServer, listen } from '../harness/apps.js';
import { call } from './support/http.js';
import { encryptUserData } from './support/keys.js';
import { exitOf, login, runSnippet, SECRET, snippetWeChat, startServer, type SnippetWeChat } from './support/snippets.js';

/** WeChat's official payment vectors (test/fixtures/wechat-vectors.json, each naming its source). */
const payVectors = (JSON.parse(readFileSync(new URL('./fixtures/wechat-vectors.json', import.meta.url), 'utf8')) as { paySignatures: Array<{ uri: string; paySig: string; signature: string }> }).paySignatures;

const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';

/** What the quick start's printed curl line answers: run with curl when there is one, else with fetch. */
async function runCurlLine(curl: string, url: string): Promise<Record<string, unknown>> {
  if (spawnSync('curl', ['--version']).status === 0) {
    return JSON.parse(spawnSync('sh', ['-c', curl], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
  }
  const code = /"code":"([^"]+)"/.exec(curl)![1]!;
  return (await call(`${url}/wx/login`, { json: { code } })).body;
}

interface RecordedSpan {
  name: string;
  attributes: Record<string, string | number>;
  status?: { code: number; message?: string };
  ended: boolean;
}

/** An access token from the mock WeChat, as a token service holds one. */
async function accessTokenOf(mock: MockWeChat): Promise<string> {
  const answer = await fetch(`${mock.url}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: false }),
  });
  return ((await answer.json()) as { access_token: string }).access_token;
}

/** An OpenTelemetry-shaped tracer that keeps the spans it is given. */
function recordingTracer(spans: RecordedSpan[]) {
  return {
    startSpan(name: string, options?: { attributes?: Record<string, string | number> }) {
      const span: RecordedSpan = { name, attributes: { ...options?.attributes }, ended: false };
      spans.push(span);
      return {
        setAttribute: (key: string, value: string | number) => void (span.attributes[key] = value),
        setStatus: (status: { code: number; message?: string }) => void (span.status = status),
        end: () => void (span.ended = true),
      };
    },
  };
}

/** The README's quick start (its own mock WeChat) and its check of real credentials. */
function readmeSnippets(wechat: SnippetWeChat): void {
  it('quick-start.ts: its curl line logs in against its own mock WeChat; /me and /me/score answer as the page says', async () => {
    const server = await startServer('quick-start.ts', {});
    const [curl] = await server.child.waitFor(/^curl .*$/m);
    expect((await call(`${server.url}/me`)).body.code).to.equal('WX_SESSION_MISSING');
    const answer = await runCurlLine(curl, server.url);
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
  });

  it('real-credentials.ts: exits 0 once WeChat accepted the credentials; a wrong AppSecret or no AppID exits 1 saying which', async () => {
    const { mock, env } = wechat;
    mock.resetCalls();
    const good = runSnippet('real-credentials.ts', env);
    expect(await exitOf(good), good.stderr).to.equal(0);
    expect(mock.callsTo('/cgi-bin/stable_token')).to.have.length(1);

    const wrong = runSnippet('real-credentials.ts', { ...env, WX_APPSECRET: 'a-wrong-app-secret-000000000000' });
    expect(await exitOf(wrong)).to.equal(1);
    expect(wrong.stderr).to.match(/AppSecret rejected \(40125\)/);

    const missing = runSnippet('real-credentials.ts', { ...env, WX_APPID: undefined });
    expect(await exitOf(missing)).to.equal(1);
    expect(missing.stderr).to.match(/wx-session: appId is required/);
  });
}

/** docs/api.md: the Koa adapter's mountable pieces, the Express pieces, the crypto helpers. */
function apiSnippets(wechat: SnippetWeChat): void {
  it('koa.ts: login and logout on its own routes, /me behind wx.required', async () => {
    const { mock, env } = wechat;
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
    const { mock, env } = wechat;
    const server = await startServer('express-pieces.ts', env);
    expect((await call(`${server.url}/hello`)).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_MISSING' });
    const { token, openid } = await login(server.url, mock.issueCode(), '/game/login');
    expect((await call(`${server.url}/hello`, { token })).body).to.deep.equal({ hello: openid });
    expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid });
    expect((await call(`${server.url}/game/logout`, { method: 'POST', token })).status).to.equal(204);
    expect((await call(`${server.url}/hello`, { token })).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_EXPIRED' });
    const me = await call(`${server.url}/me`, { token });
    expect(me.status).to.equal(401);
    expect(me.headers.get('www-authenticate')).to.equal(INVALID_TOKEN);
  });

  it("crypto-helpers.ts: prints WeChat's own signature vector", async () => {
    const child = runSnippet('crypto-helpers.ts');
    expect(await exitOf(child), child.stderr).to.equal(0);
    expect(child.stdout.trim()).to.equal('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
  });

  it("pay-sig.ts: prints the pay_sig and signature of WeChat's mini-game payment vector", async () => {
    const child = runSnippet('pay-sig.ts');
    expect(await exitOf(child), child.stderr).to.equal(0);
    const vector = payVectors.find((v) => v.uri === '/wxa/game/getbalance')!;
    expect(child.stdout.trim().split('\n')).to.deep.equal([vector.paySig, vector.signature]);
  });
}

/** docs/session-key.md: signed calls, the stale session_key repaired, decrypt. */
function sessionKeySnippets(wechat: SnippetWeChat): void {
  it('session-key.ts: a signed storage write; 87009 marks the session stale until X-WX-Code repairs it, same token; decrypt', async () => {
    const { mock, env } = wechat;
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
    expect(refused.headers.get('www-authenticate')).to.equal(INVALID_TOKEN);
    expect((await call(`${server.url}/me`, { token })).body.code, 'the session is stale now').to.equal('WX_SESSION_KEY_EXPIRED');
    const repaired = await call(`${server.url}/me`, { token, code: mock.issueCode(openid) });
    expect(repaired.status).to.equal(200);
    expect(repaired.headers.get('x-wx-session-token'), 'same token').to.equal(null);
    expect((await call(`${server.url}/me/storage`, { token, json: { best: '4300' } })).status).to.equal(204);
    expect(mock.userStorage(openid)).to.deep.equal({ best: '4300' });
  });
}

/** docs/access-tokens.md: the access token from the app's own token service. */
function accessTokenSnippets(wechat: SnippetWeChat): void {
  it("access-token-service.ts: checkKey uses the service's token; wx-session makes no stable_token call", async () => {
    const { mock, env } = wechat;
    const accessToken = await accessTokenOf(mock);
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
      await closeServer(service.server);
    }
  });
}

/** docs/operators.md: metrics from the diagnostics channels, OpenTelemetry spans. */
function operatorSnippets(wechat: SnippetWeChat): void {
  it('metrics.ts: /metrics counts logins, logouts and WeChat calls by endpoint and errcode', async () => {
    const { mock, env } = wechat;
    const server = await startServer('metrics.ts', env);
    const { token } = await login(server.url, mock.issueCode());
    mock.fault('/sns/jscode2session', { status: 500 }, { times: 1 });
    expect((await call(`${server.url}/wx/login`, { json: { code: mock.issueCode() } })).status).to.equal(502);
    expect((await call(`${server.url}/wx/login`, { json: { code: 'made-up' } })).status).to.equal(401);
    expect((await call(`${server.url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
    const metrics = await call(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    expect(metrics.text.trim().split('\n').sort()).to.deep.equal(
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
    const { mock } = wechat;
    const { traceWeChatCalls } = (await import('../docs/snippets/otel.js')) as typeof import('../docs/snippets/otel.js');
    const spans: RecordedSpan[] = [];
    const core = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, apiBase: mock.url, secret: SECRET });
    const stop = traceWeChatCalls(recordingTracer(spans));
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
}

describe('docs: the server snippets run as their pages say', function () {
  this.timeout(60_000);
  this.slow(10_000);
  const wechat = snippetWeChat();
  describe('README.md', () => readmeSnippets(wechat));
  describe('docs/api.md', () => apiSnippets(wechat));
  describe('docs/session-key.md', () => sessionKeySnippets(wechat));
  describe('docs/access-tokens.md', () => accessTokenSnippets(wechat));
  describe('docs/operators.md', () => operatorSnippets(wechat));
});
