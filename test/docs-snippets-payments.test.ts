// The snippets of docs/payments.md and of docs/session-key.md's player APIs, run as users run
// them (test/support/snippets.ts) against the mock WeChat with its payment settings: each row of
// payments.md's "what the game sees" table that a route shows (90012 done, 90013, 45011, a config
// errcode, 90010 repaired with X-WX-Code, -1 retried, a wrong AppKey logged without the key, the
// sandbox), and the phone number, risk rank and encrypted-data check of player-apis.ts. (pay-sig.ts
// runs in docs-snippets-servers.test.ts, with the crypto helpers.)
import { expect } from 'chai';
import { call, type Answer } from './support/http.js';
import { login, snippetWeChat, startServer, type Server, type SnippetWeChat } from './support/snippets.js';

const ZONE = '1';
const PAY = '/wxa/game/pay';
const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';

/** The environment payments.ts reads: the mock's credentials and payment settings, `env` and a chosen production AppKey. */
function paymentEnv(wechat: SnippetWeChat, env: '0' | '1' = '0', appKey = wechat.mock.payment.appKey): Record<string, string> {
  const { offerId, sandboxAppKey } = wechat.mock.payment;
  return { ...wechat.env, WX_OFFER_ID: offerId, WX_PAY_APPKEY: appKey, WX_PAY_SANDBOX_APPKEY: sandboxAppKey, WX_PAY_ENV: env };
}

function expectError(answer: Answer, status: number, code: string, errcode?: number): void {
  expect(answer.status, answer.text).to.equal(status);
  expect(answer.body.code, answer.text).to.equal(code);
  expect(answer.body.errcode, answer.text).to.equal(errcode);
}

describe('docs/payments.md: the snippets, run', function () {
  this.timeout(30_000);
  const wechat = snippetWeChat();
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** payments.ts started, and `openid` logged in with `coins` in the zone; its token. */
  async function started(openid: string, coins: number, vars = paymentEnv(wechat)): Promise<{ url: string; token: string }> {
    server = await startServer('payments.ts', vars);
    wechat.mock.setBalance(openid, ZONE, coins, vars.WX_PAY_ENV === '1' ? 1 : 0);
    return { url: server.url, token: (await login(server.url, wechat.mock.issueCode(openid))).token };
  }

  it('payments.ts: the balance, a buy, its retry with the same billNo (90012, one debit), a bad billNo before any call', async () => {
    const { mock } = wechat;
    const openid = 'oDocsPayBuyer';
    const { url, token } = await started(openid, 100);
    expect((await call(`${url}/me/coins`, { token })).body).to.deep.equal({ balance: 100 });
    const bought = await call(`${url}/me/buy-sword`, { token, json: { billNo: 'docs-order-1' } });
    expect(bought.body, bought.text).to.deep.equal({ balance: 70 });
    const again = await call(`${url}/me/buy-sword`, { token, json: { billNo: 'docs-order-1' } });
    expect(again.body, again.text).to.deep.equal({ alreadyPaid: true });
    expect(mock.callsTo(PAY).map((c) => c.errcode)).to.deep.equal([0, 90012]);
    expect(mock.balanceOf(openid, ZONE).balance, 'one debit').to.equal(70);

    for (const billNo of ['_docs', 'docs order', 'x'.repeat(64), undefined]) {
      expectError(await call(`${url}/me/buy-sword`, { token, json: { billNo } }), 400, 'WX_BAD_REQUEST');
    }
    expect(mock.callsTo(PAY), 'no call to WeChat for a bad billNo').to.have.length(2);
  });

  it('payments.ts: -1 retried with the same billNo (one debit); 90013, 45011 and a config errcode as the table says', async () => {
    const { mock } = wechat;
    const openid = 'oDocsPayFaults';
    const { url, token } = await started(openid, 40);
    const buy = (billNo: string) => call(`${url}/me/buy-sword`, { token, json: { billNo } });
    mock.fault(PAY, { errcode: -1 }, { times: 2 });
    expect((await buy('docs-busy')).body).to.deep.equal({ balance: 10 });
    expect(mock.payments.filter((p) => p.openid === openid)).to.have.length(1);

    expectError(await buy('docs-poor'), 502, 'WX_UPSTREAM_ERROR', 90013);
    mock.fault(PAY, { errcode: 45011 }, { times: 1 });
    const limited = await buy('docs-limited');
    expectError(limited, 429, 'WX_RATE_LIMITED', 45011);
    expect(limited.headers.get('retry-after')).to.equal('60');
    mock.fault(PAY, { errcode: 40013 }, { times: 1 });
    expectError(await buy('docs-config'), 500, 'WX_CONFIG_ERROR', 40013);
    expect(mock.balanceOf(openid, ZONE).balance).to.equal(10);
  });

  it('payments.ts: a replaced session_key (90010) is 401 WX_SESSION_KEY_EXPIRED; the retry with X-WX-Code pays, same token', async () => {
    const { mock } = wechat;
    const openid = 'oDocsPayStale';
    const { url, token } = await started(openid, 100);
    mock.rotateSessionKey(openid); // a login on another device
    const stale = await call(`${url}/me/buy-sword`, { token, json: { billNo: 'docs-stale' } });
    expectError(stale, 401, 'WX_SESSION_KEY_EXPIRED', 90010);
    expect(stale.headers.get('www-authenticate')).to.equal(INVALID_TOKEN);
    expect(mock.balanceOf(openid, ZONE).balance).to.equal(100);
    const repaired = await call(`${url}/me/buy-sword`, { token, code: mock.issueCode(openid), json: { billNo: 'docs-stale' } });
    expect(repaired.body, repaired.text).to.deep.equal({ balance: 70 });
    expect(repaired.headers.get('x-wx-session-token'), 'same token').to.equal(null);
  });

  it('payments.ts: WX_PAY_ENV=1 moves the sandbox balance only; a wrong AppKey is 502 errcode 90011, logged without the key', async () => {
    const { mock } = wechat;
    const sandbox = await started('oDocsPaySandbox', 50, paymentEnv(wechat, '1'));
    expect((await call(`${sandbox.url}/me/buy-sword`, { token: sandbox.token, json: { billNo: 'docs-sandbox' } })).body).to.deep.equal({ balance: 20 });
    expect(mock.balanceOf('oDocsPaySandbox', ZONE, 1).balance).to.equal(20);
    expect(mock.balanceOf('oDocsPaySandbox', ZONE, 0).balance, 'production untouched').to.equal(0);
    await server!.stop();

    const wrongKey = 'docs-wrong-app-key-0123456789abcdef';
    const wrong = await started('oDocsPayWrongKey', 50, paymentEnv(wechat, '0', wrongKey));
    expectError(await call(`${wrong.url}/me/coins`, { token: wrong.token }), 502, 'WX_UPSTREAM_ERROR', 90011);
    await server!.child.waitFor(/pay_sig \(90011\): check the payment option's appKey and env/, 5000, 'stderr');
    expect(server!.child.stderr + server!.child.stdout).to.not.include(wrongKey);
  });
});

describe('docs/session-key.md: player-apis.ts, run', function () {
  this.timeout(30_000);
  const wechat = snippetWeChat();

  it("binds the player's phone number into session.data; a spent code is 401 WX_CODE_INVALID, a long one 400 before any call", async () => {
    const { mock } = wechat;
    const server = await startServer('player-apis.ts', wechat.env);
    const openid = 'oDocsPhone';
    const { token } = await login(server.url, mock.issueCode(openid));
    const code = mock.issuePhoneCode(openid, { phoneNumber: '13812345678' });
    const bound = await call(`${server.url}/me/phone`, { token, json: { code } });
    expect(bound.body, bound.text).to.deep.equal({ countryCode: '86' });
    expect((await call(`${server.url}/me`, { token })).body, 'kept in the player\'s data').to.deep.equal({ phone: '+86 13812345678' });
    expectError(await call(`${server.url}/me/phone`, { token, json: { code } }), 401, 'WX_CODE_INVALID', 40029);
    const asked = mock.callsTo('/wxa/business/getuserphonenumber').length;
    expectError(await call(`${server.url}/me/phone`, { token, json: { code: 'c'.repeat(257) } }), 400, 'WX_BAD_REQUEST');
    expect(mock.callsTo('/wxa/business/getuserphonenumber')).to.have.length(asked);
    const other = (await login(server.url, mock.issueCode('oDocsPhoneOther'))).token;
    const theirs = mock.issuePhoneCode(openid);
    expectError(await call(`${server.url}/me/phone`, { token: other, json: { code: theirs } }), 401, 'WX_CODE_INVALID', 40029);
    mock.fault('/wxa/business/getuserphonenumber', { errcode: 45011 }, { times: 1 });
    expectError(await call(`${server.url}/me/phone`, { token, json: { code: theirs } }), 429, 'WX_RATE_LIMITED', 45011);
    expect(JSON.parse(mock.callsTo('/wxa/business/getuserphonenumber')[0]!.body!)).to.deep.equal({ code, openid });
  });

  it('asks the risk rank before a reward, and checks encryptedData with no session', async () => {
    const { mock } = wechat;
    const server = await startServer('player-apis.ts', wechat.env);
    const openid = 'oDocsRisk';
    const { token } = await login(server.url, mock.issueCode(openid));
    expect((await call(`${server.url}/me/daily-reward`, { token, method: 'POST' })).body).to.deep.equal({ reward: 10 });
    mock.setRiskRank(openid, 4);
    const refused = await call(`${server.url}/me/daily-reward`, { token, method: 'POST' });
    expect(refused.status).to.equal(403);
    expect(JSON.parse(mock.callsTo('/wxa/getuserriskrank')[1]!.body!)).to.include({ openid, scene: 1, appid: mock.appId });

    const createTime = mock.registerEncryptedData('docs-encrypted-data==');
    expect((await call(`${server.url}/check-data`, { json: { encryptedData: 'docs-encrypted-data==' } })).body).to.deep.equal({ valid: true, createTime });
    expect((await call(`${server.url}/check-data`, { json: { encryptedData: 'never-issued==' } })).body).to.deep.equal({ valid: false, createTime: 0 });
    expectError(await call(`${server.url}/check-data`, { json: {} }), 400, 'WX_BAD_REQUEST');
  });
});
