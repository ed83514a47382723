// One example server, three games (issue 15): each example app serves a WeChat, a Douyin and a
// QQ game at once, each against its own mock. Logins name their game (body `appId` or
// X-WX-AppId); each player keeps a session and a score of their own; a code is redeemed by its own
// platform only; a Douyin guest plays without an openid; the player's user storage is written on
// each platform with that session's key. Express and Koa also run as programs, configured by
// WX_*, TT_* and QQ_* variables, checking all three apps' credentials before they listen.
import { expect } from 'chai';
import type { Server } from 'node:http';
import { closeServer, listen } from '../harness/apps.js';
import type { MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { call } from './support/http.js';
import { examples, runExample, SECRET } from './support/examples.js';
import { appOf, threePlatformMocks } from './support/platforms.js';

/** How each game's login names it: in the body, in the header, or both. */
const NAMED_BY = { wechat: 'body', douyin: 'header', qq: 'both' } as const;

/** Logs `openid` in on the mock's game through `loginUrl`, naming the game as NAMED_BY says. */
async function loginOn(loginUrl: string, mock: MockWeChat, openid: string): Promise<string> {
  const way = NAMED_BY[mock.platform];
  const answer = await call(loginUrl, {
    json: { code: mock.issueCode(openid), ...(way === 'header' ? {} : { appId: mock.appId }) },
    headers: way === 'body' ? {} : { 'X-WX-AppId': mock.appId },
  });
  expect(answer.status, `${mock.platform}: ${answer.text}`).to.equal(200);
  expect(answer.body.openid).to.equal(openid);
  expect(answer.body).to.not.have.any.keys('session_key', 'sessionKey');
  return answer.body.token as string;
}

const storageCalls = (mock: MockWeChat) => mock.calls.filter((c) => c.path.endsWith('/set_user_storage'));

for (const example of examples) {
  describe(`examples/${example.name}: a WeChat, a Douyin and a QQ game on one server`, () => {
    const mocks = threePlatformMocks();
    let url: string;
    startFor('block', async () => {
      let server: Server;
      ({ server, url } = await listen(example.handler({ apps: mocks().map((mock) => appOf(mock)), secret: SECRET, timeout: 1000 })));
      return { close: () => closeServer(server) };
    });
    const loginUrl = () => url + example.loginPath;

    it('a player on each game: each login names its game, each session keeps its own score', async () => {
      const tokens = new Map<MockWeChat, string>();
      for (const [index, mock] of mocks().entries()) {
        const token = await loginOn(loginUrl(), mock, `o-${example.name}-${mock.platform}`);
        expect((await call(`${url}/me/score`, { token, json: { score: 100 + index } })).status).to.equal(200);
        tokens.set(mock, token);
      }
      for (const [index, mock] of mocks().entries()) {
        const me = await call(`${url}/me`, { token: tokens.get(mock) });
        expect(me.body).to.deep.equal({ openid: `o-${example.name}-${mock.platform}`, data: { score: 100 + index } });
      }
    });

    it("a code is redeemed by its own game's platform only; no game or an unknown one is a 400 that asks none", async () => {
      const [wechat, douyin] = mocks();
      mocks().forEach((mock) => mock.resetCalls());
      const elsewhere = await call(loginUrl(), { json: { code: wechat.issueCode('oElsewhere'), appId: douyin.appId } });
      expect([elsewhere.status, elsewhere.body.code]).to.deep.equal([401, 'WX_CODE_INVALID']);
      expect([wechat.calls.length, douyin.calls.length]).to.deep.equal([0, 1]);
      const none = await call(loginUrl(), { json: { code: wechat.issueCode('oNone') } });
      expect([none.status, none.body.code]).to.deep.equal([400, 'WX_BAD_REQUEST']);
      const unknown = await call(loginUrl(), { json: { code: wechat.issueCode('oUnknown'), appId: 'wxnotours00000000' } });
      expect([unknown.status, unknown.body.code]).to.deep.equal([400, 'WX_APP_UNKNOWN']);
      expect(wechat.calls.length + douyin.calls.length).to.equal(1);
    });

    it('a Douyin guest (anonymousCode) plays without an openid', async () => {
      const douyin = mocks()[1];
      const guest = await call(loginUrl(), { json: { anonymousCode: douyin.issueAnonymousCode(`a-${example.name}`), appId: douyin.appId } });
      expect(guest.status, guest.text).to.equal(200);
      expect(guest.body).to.have.all.keys('token', 'expiresIn');
      const token = guest.body.token as string;
      expect((await call(`${url}/me/score`, { token, json: { score: 7 } })).status).to.equal(200);
      expect((await call(`${url}/me`, { token })).body).to.deep.equal({ data: { score: 7 } });
    });

    it("writes the player's user storage on each platform, signed with that session's key", async () => {
      for (const mock of mocks()) {
        const token = await loginOn(loginUrl(), mock, `o-storage-${mock.platform}`);
        const before = storageCalls(mock).length;
        const written = await call(`${url}/me/storage`, { token, json: { key: 'level', value: 3 } });
        expect(written.status, `${mock.platform}: ${written.text}`).to.equal(204);
        const made = storageCalls(mock).slice(before);
        expect(made.map((c) => [c.status, c.errcode]), mock.platform).to.deep.equal([[200, 0]]);
      }
    });
  });
}

for (const example of examples.filter((e) => e.name === 'express' || e.name === 'koa')) {
  describe(`examples/${example.name}: three games, run directly`, function () {
    this.timeout(20_000);
    const mocks = threePlatformMocks();

    it('reads WX_*, TT_* and QQ_* variables, checks each game with its platform before it listens, serves all three', async () => {
      const [wechat, douyin, qq] = mocks();
      mocks().forEach((mock) => mock.resetCalls());
      const child = runExample(example, {
        PORT: '0',
        WX_SESSION_SECRET: SECRET,
        WX_APPID: wechat.appId, WX_APPSECRET: wechat.appSecret, WX_API_BASE: wechat.url,
        TT_APPID: douyin.appId, TT_APPSECRET: douyin.appSecret, TT_API_BASE: douyin.url,
        QQ_APPID: qq.appId, QQ_APPSECRET: qq.appSecret, QQ_API_BASE: qq.url,
      });
      try {
        const [, url] = await child.waitFor(/listening on (http:\/\/localhost:\d+)/, 15_000);
        // verify() asked each platform for its access token once, before the server listened.
        expect(mocks().map((mock) => mock.calls.map((c) => c.errcode))).to.deep.equal([[0], [0], [0]]);
        for (const mock of mocks()) await loginOn(url + example.loginPath, mock, `o-run-${mock.platform}`);
      } finally {
        expect((await child.stop()).code).to.equal(0);
      }
      expect(child.stderr).to.equal('');
      for (const secret of [...mocks().map((mock) => mock.appSecret), SECRET]) expect(child.stdout + child.stderr).to.not.include(secret);
    });

    it('refuses to start, naming the game, when one platform refuses its AppSecret', async () => {
      const [wechat, douyin] = mocks();
      const child = runExample(example, {
        PORT: '0',
        WX_SESSION_SECRET: SECRET,
        WX_APPID: wechat.appId, WX_APPSECRET: wechat.appSecret, WX_API_BASE: wechat.url,
        TT_APPID: douyin.appId, TT_APPSECRET: 'a-wrong-douyin-secret-0000000000', TT_API_BASE: douyin.url,
      });
      expect((await child.exited(15_000)).code).to.equal(1);
      expect(child.stderr).to.include(douyin.appId).and.match(/douyin/i);
      expect(child.stdout).to.not.match(/listening/);
      expect(child.stdout + child.stderr).to.not.include('a-wrong-douyin-secret-0000000000');
    });

    it('exits 1 naming the variables when a game has an AppID and no AppSecret', async () => {
      const child = runExample(example, { PORT: '0', WX_SESSION_SECRET: SECRET, TT_APPID: 'ttapps0000000001' });
      expect((await child.exited(15_000)).code).to.equal(1);
      expect(child.stderr).to.match(/TT_APPID and TT_APPSECRET/);
    });
  });
}
