// docs/several-games.md: docs/snippets/several-games.ts, one Express server for a WeChat, a
// Douyin and a QQ game, run as the page says against three mocks (startMockWeChat({ platform })).
// A login on each game (body appId, X-WX-AppId, both); /me saying whose session it is; a signed
// storage write reaching the game's own platform; a Douyin guest; the 400s of a login naming no
// game, two games or one not served (no platform asked), and the 401 of a code of another
// platform; core.verify() stopping the start, naming the game whose AppSecret is refused.
import { expect } from 'chai';
import { startMockWeChat, type MockPlatform, type MockWeChat } from 'wx-session/testing';
import { exitOf, runSnippet, SECRET, startServer, type Server, type Vars } from './support/snippets.js';
import { addSecret } from './support/witness.js';

const APP_IDS: Readonly<Record<MockPlatform, string>> = { wechat: 'wxdocsgames00001', douyin: 'ttdocsgames00001', qq: '1110000042' };

/** Where each platform's signed user storage write goes. */
const SET_STORAGE: Readonly<Record<MockPlatform, string>> = {
  wechat: '/wxa/set_user_storage',
  douyin: '/mgplatform/api/apps/set_user_storage',
  qq: '/api/openDataContext/set_user_storage',
};

const CODE2SESSION: Readonly<Record<MockPlatform, string>> = {
  wechat: '/sns/jscode2session',
  douyin: '/mgplatform/api/apps/jscode2session',
  qq: '/sns/jscode2session',
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One request to the snippet's server: a JSON body when given, the token in X-WX-Session. */
async function send(url: string, options: { json?: unknown; headers?: Record<string, string>; token?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['X-WX-Session'] = options.token;
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const response = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('docs: docs/several-games.md, one server for a WeChat, a Douyin and a QQ game', function () {
  this.timeout(60_000);
  this.slow(10_000);
  const mocks = {} as Record<MockPlatform, MockWeChat>;
  let env: Vars;
  let server: Server | undefined;
  const all = () => Object.values(mocks);
  const callCount = () => all().reduce((sum, mock) => sum + mock.calls.length, 0);

  before(async () => {
    for (const platform of ['wechat', 'douyin', 'qq'] as const) {
      mocks[platform] = await startMockWeChat({ platform, appId: APP_IDS[platform] });
      addSecret(mocks[platform].appSecret, 'appSecret');
    }
    addSecret(SECRET, 'signing secret');
    const { wechat, douyin, qq } = mocks;
    env = {
      WX_APPID: wechat.appId,
      WX_APPSECRET: wechat.appSecret,
      WX_API_BASE: wechat.url,
      TT_APPID: douyin.appId,
      TT_APPSECRET: douyin.appSecret,
      TT_API_BASE: douyin.url,
      QQ_APPID: qq.appId,
      QQ_APPSECRET: qq.appSecret,
      QQ_API_BASE: qq.url,
      WX_SESSION_SECRET: SECRET,
    };
    server = await startServer('several-games.ts', env, { suite: true });
  });
  after(async () => {
    await server?.stop();
    await Promise.all(all().map((mock) => mock.close()));
  });
  beforeEach(() => all().forEach((mock) => mock.resetCalls()));

  it('logs in on each game (body appId, X-WX-AppId, both); /me names the game; a signed write goes to that game’s platform', async () => {
    const { wechat, douyin, qq } = mocks;
    const ways: Array<[MockWeChat, Record<string, unknown>, Record<string, string>]> = [
      [wechat, { appId: wechat.appId }, {}],
      [douyin, {}, { 'X-WX-AppId': douyin.appId }],
      [qq, { appId: qq.appId }, { 'X-WX-AppId': qq.appId }],
    ];
    for (const [mock, body, headers] of ways) {
      const openid = `oDocsGames-${mock.platform}`;
      const login = await send(`${server!.url}/wx/login`, { json: { code: mock.issueCode(openid), ...body }, headers });
      expect(login.status, mock.platform).to.equal(200);
      expect(login.body).to.have.all.keys('token', 'expiresIn', 'openid');
      const token = login.body.token as string;
      expect((await send(`${server!.url}/me`, { token })).body).to.deep.equal({ game: mock.appId, platform: mock.platform, openid });
      expect((await send(`${server!.url}/me/best`, { token, json: { best: '4200' } })).status, mock.platform).to.equal(204);
      expect(mock.userStorage(openid)).to.deep.equal({ best: '4200' });
      expect(mock.callsTo(SET_STORAGE[mock.platform]).map((call) => call.errcode), mock.platform).to.deep.equal([0]);
      const notText = await send(`${server!.url}/me/best`, { token, json: { best: 4200 } });
      expect([notText.status, notText.body.code]).to.deep.equal([400, 'WX_BAD_REQUEST']);
    }
    // Each platform was asked for its own game only.
    for (const mock of all()) expect(mock.callsTo(CODE2SESSION[mock.platform]), mock.platform).to.have.length(1);
  });

  it('a Douyin guest logs in with anonymousCode alone: no openid; its signed write is 400 WX_BAD_REQUEST, asking nothing', async () => {
    const { douyin } = mocks;
    const login = await send(`${server!.url}/wx/login`, { json: { appId: douyin.appId, anonymousCode: douyin.issueAnonymousCode('aDocsGuest') } });
    expect(login.status).to.equal(200);
    expect(login.body).to.have.all.keys('token', 'expiresIn');
    const token = login.body.token as string;
    expect((await send(`${server!.url}/me`, { token })).body).to.deep.equal({ game: douyin.appId, platform: 'douyin', guest: 'aDocsGuest' });
    douyin.resetCalls();
    const write = await send(`${server!.url}/me/best`, { token, json: { best: '1' } });
    expect([write.status, write.body.code]).to.deep.equal([400, 'WX_BAD_REQUEST']);
    expect(douyin.calls).to.deep.equal([]);
  });

  it('refuses a login naming no game, two games or one not served (400, no platform asked); a code of another platform is 401 WX_CODE_INVALID', async () => {
    const { wechat, douyin, qq } = mocks;
    const refusals: Array<[string, Record<string, unknown>, Record<string, string>, string]> = [
      ['no game named', { code: wechat.issueCode('oDocsNone') }, {}, 'WX_BAD_REQUEST'],
      ['two games', { code: wechat.issueCode('oDocsTwo'), appId: wechat.appId }, { 'X-WX-AppId': qq.appId }, 'WX_BAD_REQUEST'],
      ['a game not served', { code: wechat.issueCode('oDocsUnknown') }, { 'X-WX-AppId': 'wxnotservedhere00' }, 'WX_APP_UNKNOWN'],
      ['a guest code on WeChat', { appId: wechat.appId, anonymousCode: douyin.issueAnonymousCode('aDocsWrong') }, {}, 'WX_BAD_REQUEST'],
    ];
    for (const [what, body, headers, code] of refusals) {
      const answer = await send(`${server!.url}/wx/login`, { json: body, headers });
      expect([answer.status, answer.body.code], what).to.deep.equal([400, code]);
    }
    expect(callCount(), 'calls to a platform').to.equal(0);

    // A wx.login() code named as the Douyin or the QQ game: that platform refuses it.
    for (const [mock, errcode] of [[douyin, 40018], [qq, 40029]] as const) {
      const answer = await send(`${server!.url}/wx/login`, { json: { code: wechat.issueCode('oDocsElsewhere'), appId: mock.appId } });
      expect([answer.status, answer.body.code, answer.body.errcode], mock.platform).to.deep.equal([401, 'WX_CODE_INVALID', errcode]);
      expect(mock.callsTo(CODE2SESSION[mock.platform]), mock.platform).to.have.length(1);
    }
    expect(wechat.calls).to.deep.equal([]);
  });

  it('exits 1 before listening when a platform refuses a game’s AppSecret, naming the game', async () => {
    const wrongSecret = 'not-the-douyin-app-secret-0000000';
    addSecret(wrongSecret, 'appSecret');
    const child = runSnippet('several-games.ts', { ...env, TT_APPSECRET: wrongSecret });
    expect(await exitOf(child)).to.equal(1);
    expect(child.stderr).to.match(/app ttdocsgames00001 \(douyin\): Douyin refused the AppSecret \(40017\)/);
    expect(child.stdout).to.not.match(/listening on/);
  });
});
