// One server, three games, through every adapter (docs/several-games.md): a core serving a WeChat,
// a Douyin and a QQ app behind Express, Koa, Fastify, Hono and NestJS. The login picks its app by
// body `appId` or `X-WX-AppId`; the token then opens its own app's session and no other; a login
// naming no app, an unknown app, two apps, or a Douyin guest code on a WeChat app is a 400 that
// asks no platform and stores nothing.
import { expect } from 'chai';
import supertest from 'supertest';
import { adapters, serve } from '../harness/apps.js';
import { MemoryStore, type WxSessionCore } from '../src/index.js';
import type { MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { appsCore, threePlatformMocks } from './support/platforms.js';

describe('several apps through every adapter', () => {
  const mocks = threePlatformMocks();
  let wechat: MockWeChat;
  let douyin: MockWeChat;
  let qq: MockWeChat;
  before(() => ([wechat, douyin, qq] = mocks()));
  const callCount = () => mocks().reduce((sum, mock) => sum + mock.calls.length, 0);

  for (const name of adapters) describe(name, () => {
    let store: MemoryStore;
    let core: WxSessionCore;
    let http: ReturnType<typeof supertest>;
    startFor('block', async () => {
      store = new MemoryStore();
      core = appsCore(mocks(), { store });
      const server = await serve(name, core, {});
      http = supertest(server.url);
      return server;
    });

    it('logs in on each app (body appId, X-WX-AppId, both agreeing); each token opens its own app’s session', async () => {
      const ways: Array<[MockWeChat, Record<string, unknown>, Record<string, string>]> = [
        [wechat, { appId: wechat.appId }, {}],
        [douyin, {}, { 'X-WX-AppId': douyin.appId }],
        [qq, { appId: qq.appId }, { 'X-WX-AppId': qq.appId }],
      ];
      for (const [mock, body, headers] of ways) {
        const openid = `o-${name}-${mock.platform}`;
        const login = await http.post('/wx/login').set(headers).send({ code: mock.issueCode(openid), ...body });
        expect(login.status, mock.platform).to.equal(200);
        expect(login.body).to.have.all.keys('token', 'expiresIn', 'openid');
        const me = await http.get('/me').set('X-WX-Session', login.body.token);
        expect([me.status, me.body.openid]).to.deep.equal([200, openid]);
        const { session } = await core.authenticate(login.body.token);
        expect([session?.appId, session?.platform]).to.deep.equal([mock.appId, mock.platform]);
      }
    });

    it('a Douyin guest (X-WX-Anonymous-Code) gets a session without an openid', async () => {
      const guest = await http.post('/wx/login').set({ 'X-WX-AppId': douyin.appId, 'X-WX-Anonymous-Code': douyin.issueAnonymousCode(`a-${name}`) }).send({});
      expect(guest.status).to.equal(200);
      expect(guest.body).to.have.all.keys('token', 'expiresIn');
      const json = await http.get('/me/json').set('X-WX-Session', guest.body.token);
      expect(json.body).to.include({ anonymous: true, anonymousOpenid: `a-${name}` });
      expect(json.body).to.not.have.property('openid');
    });

    it('refuses, with a 400 that asks no platform and stores nothing: no app, an unknown app, two apps, an oversized one, a guest code on WeChat', async () => {
      const refusals: Array<[string, Record<string, unknown>, Record<string, string>, string]> = [
        ['no app named', { code: wechat.issueCode('oNone') }, {}, 'WX_BAD_REQUEST'],
        ['an unknown app', { code: wechat.issueCode('oUnknown') }, { 'X-WX-AppId': 'wxnotours00000000' }, 'WX_APP_UNKNOWN'],
        ['two apps', { code: wechat.issueCode('oTwo'), appId: wechat.appId }, { 'X-WX-AppId': qq.appId }, 'WX_BAD_REQUEST'],
        ['an oversized X-WX-AppId', { code: wechat.issueCode('oLong') }, { 'X-WX-AppId': 'w'.repeat(5000) }, 'WX_BAD_REQUEST'],
        ['a guest code on WeChat', { appId: wechat.appId }, { 'X-WX-Anonymous-Code': douyin.issueAnonymousCode('aWrong') }, 'WX_BAD_REQUEST'],
      ];
      const sessions = store.size;
      const calls = callCount();
      for (const [what, body, headers, code] of refusals) {
        const answer = await http.post('/wx/login').set(headers).send(body);
        expect([answer.status, answer.body.code], what).to.deep.equal([400, code]);
        expect(answer.body.message, what).to.be.a('string').and.not.be.empty;
      }
      expect(callCount(), 'calls to a platform').to.equal(calls);
      expect(store.size, 'sessions stored').to.equal(sessions);
    });
  });
});
