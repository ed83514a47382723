// Several apps on one core (docs/several-games.md): the `apps` option and its validation, a login
// naming its app (core, body `appId`, header `X-WX-AppId`), WX_APP_UNKNOWN, a body and a header
// that disagree, one core serving a WeChat, a Douyin and a QQ app against three mocks, a token
// valid only for its app, access tokens, the per-user cap and the logs kept per app. The same over
// HTTP through every adapter: apps-adapters.test.ts.
import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import { SECRET } from '../harness/apps.js';
import { createWxSession, MemoryStore, type SessionStore, type WxSessionCoreOptions } from '../src/index.js';
import { sampleId, sampleRecord, type MockWeChat } from '../src/testing/index.js';
import { captureLogger } from './support/keys.js';
import { APP_IDS, appOf, appsCore, platformCore, rejection, startPlatformMock, threePlatformMocks, who } from './support/platforms.js';
import { useRedisStores } from './support/redis-store-kit.js';
import { SharingStore } from './support/stores.js';

const app = (appId: string, extra: Record<string, unknown> = {}) => ({ appId, appSecret: `secret-of-${appId}`, ...extra });
const build = (options: Record<string, unknown>) => () => createWxSession({ secret: SECRET, ...options } as unknown as WxSessionCoreOptions);

describe('several apps: options', () => {
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['apps and a top-level appId', { appId: 'wxa', appSecret: 's', apps: [app('wxb')] }, /apps or a top-level appId/],
    ['apps and a top-level payment', { apps: [app('wxb')], payment: { offerId: '1', appKey: 'k' } }, /top-level payment/],
    ['apps and a top-level apiBase', { apps: [app('wxb')], apiBase: 'http://127.0.0.1:1' }, /top-level apiBase/],
    ['an empty apps', { apps: [] }, /apps must be a non-empty array/],
    ['apps that is not an array', { apps: { appId: 'wxb' } }, /apps must be a non-empty array/],
    ['an entry that is not an object', { apps: [app('wxb'), 'wxc'] }, /apps\[1\] must be/],
    ['a duplicate appId', { apps: [app('wxb'), app('wxc'), app('wxb')] }, /apps\[2\]\.appId repeats/],
    ['an unknown platform', { apps: [app('wxb', { platform: 'weibo' })] }, /apps\[0\]\.platform must be 'wechat', 'douyin' or 'qq'/],
    ['an app without appSecret', { apps: [app('wxb'), { appId: 'wxc' }] }, /apps\[1\]\.appSecret is required/],
    ['an app with an empty appId', { apps: [app('')] }, /apps\[0\]\.appId is required/],
    ['a payment on a Douyin app', { apps: [app('tta', { platform: 'douyin', payment: { offerId: '1', appKey: 'k' } })] }, /apps\[0\]\.payment .*only for platform 'wechat'/],
    ['a bad payment on a WeChat app', { apps: [app('wxb', { payment: { offerId: '', appKey: 'k' } })] }, /apps\[0\]\.payment\.offerId/],
    ['an apiBase that is not a URL', { apps: [app('wxb', { apiBase: 'api.weixin.qq.com' })] }, /apps\[0\]\.apiBase must be an http\(s\) URL/],
    ['a field no app has (a typo)', { apps: [{ appId: 'wxb', appSecret: 's', checkSessionKey: false }] }, /apps\[0\]\.checkSessionKey is not an app option/],
    ['an unknown top-level platform', { appId: 'wxa', appSecret: 's', platform: 'weibo' }, /^wx-session: platform must be/],
    ['a payment on a one-app QQ core', { appId: '111', appSecret: 's', platform: 'qq', payment: { offerId: '1', appKey: 'k' } }, /^wx-session: payment .*only for platform 'wechat'/],
  ];
  for (const [what, options, message] of refused) {
    it(`throws a TypeError naming the field for ${what}`, () => {
      expect(build(options)).to.throw(TypeError).with.property('message').that.matches(/^wx-session: /).and.matches(message);
    });
  }

  it('never puts an AppSecret or AppKey in the message', () => {
    const secretValue = 'the-douyin-app-secret-value';
    const appKey = 'the-wechat-app-key-value';
    for (const options of [
      { apps: [{ appId: 'tta', appSecret: secretValue, platform: 'douyin', payment: { offerId: '1', appKey } }] },
      { apps: [{ appId: 'wxa', appSecret: secretValue, payment: { offerId: '1', appKey: { production: appKey } } }] },
    ]) {
      expect(build(options)).to.throw(TypeError).with.property('message').that.does.not.contain(secretValue).and.not.contain(appKey);
    }
  });

  it('accepts three platforms; config lists the apps in order and config.appId is the first', () => {
    const core = createWxSession({ secret: SECRET, apps: [app('ttb', { platform: 'douyin' }), app('wxa'), app('111', { platform: 'qq' })] });
    expect(core.config.appId).to.equal('ttb');
    expect(core.config.apps).to.deep.equal([
      { appId: 'ttb', platform: 'douyin' },
      { appId: 'wxa', platform: 'wechat' },
      { appId: '111', platform: 'qq' },
    ]);
    expect(Object.isFrozen(core.config.apps)).to.equal(true);
    const single = createWxSession({ appId: 'wxone', appSecret: 's', secret: SECRET });
    expect(single.config.apps).to.deep.equal([{ appId: 'wxone', platform: 'wechat' }]);
  });

  it("each platform's code2Session goes to its own default API base", async () => {
    const asked: string[] = [];
    const fetch = async (url: string) => {
      asked.push(url.slice(0, url.indexOf('?')));
      return new Response('{"errcode":40029,"error":1}', { status: 200 });
    };
    const core = createWxSession({ secret: SECRET, fetch, apps: [app('wxa'), app('tta', { platform: 'douyin' }), app('111', { platform: 'qq' })] });
    for (const appId of ['wxa', 'tta', '111']) await core.login('some-code', { appId }).catch(() => undefined);
    expect(asked).to.deep.equal([
      'https://api.weixin.qq.com/sns/jscode2session',
      'https://minigame.zijieapi.com/mgplatform/api/apps/jscode2session',
      'https://api.q.qq.com/sns/jscode2session',
    ]);
  });
});

describe('several apps: one core, a WeChat, a Douyin and a QQ app', () => {
  const mocks = threePlatformMocks();
  let wechat: MockWeChat;
  let douyin: MockWeChat;
  let qq: MockWeChat;
  before(() => ([wechat, douyin, qq] = mocks()));
  const resetCalls = () => mocks().forEach((mock) => mock.resetCalls());

  it('logs in on each app named by appId: session.appId and platform, the record carries both', async () => {
    const store = new MemoryStore();
    const core = appsCore(mocks(), { store });
    for (const mock of mocks()) {
      const openid = `o-${mock.platform}-1`;
      const { session, token } = await core.login(mock.issueCode(openid), { appId: mock.appId });
      expect(who(session)).to.deep.equal({ appId: mock.appId, platform: mock.platform, openid, anonymous: false, anonymousOpenid: null });
      expect(await store.get(token.slice(0, token.lastIndexOf('.')))).to.include({ appId: mock.appId, platform: mock.platform, openid });
      const auth = await core.authenticate(token);
      expect(auth.session && who(auth.session)).to.deep.equal(who(session));
    }
  });

  it('a login naming no app is WX_BAD_REQUEST, and asks no platform', async () => {
    const core = appsCore(mocks());
    resetCalls();
    const error = await rejection(core.login(wechat.issueCode('oNoApp')));
    expect(error).to.include({ code: 'WX_BAD_REQUEST', status: 400 });
    expect(error.message).to.match(/several apps.*appId.*X-WX-AppId/);
    expect(mocks().flatMap((mock) => mock.calls)).to.deep.equal([]);
  });

  it('an appId this core does not serve is WX_APP_UNKNOWN (400), and asks no platform', async () => {
    const core = appsCore(mocks());
    resetCalls();
    for (const appId of ['wxnotours00000000', APP_IDS.wechat.toUpperCase()]) {
      expect(await rejection(core.login(wechat.issueCode('oUnknown'), { appId }))).to.include({ code: 'WX_APP_UNKNOWN', status: 400 });
    }
    expect(await rejection(core.login(wechat.issueCode('oUnknown'), { appId: 42 }))).to.include({ code: 'WX_BAD_REQUEST' });
    expect(mocks().flatMap((mock) => mock.calls)).to.deep.equal([]);
  });

  it('the login goes to the platform of the app it names: a WeChat code named as the QQ app is refused by QQ', async () => {
    const core = appsCore(mocks());
    resetCalls();
    const error = await rejection(core.login(wechat.issueCode('oWrongApp'), { appId: qq.appId }));
    expect(error).to.include({ code: 'WX_CODE_INVALID', errcode: 40029 });
    expect(qq.callsTo('/sns/jscode2session')).to.have.length(1);
    expect(wechat.calls).to.deep.equal([]);
  });

  it('with one app, appId may be left out; naming it works; naming another is WX_APP_UNKNOWN', async () => {
    const core = platformCore(douyin);
    expect((await core.login(douyin.issueCode('oOnly'))).session.appId).to.equal(douyin.appId);
    expect((await core.login(douyin.issueCode('oOnly'), { appId: douyin.appId })).session.openid).to.equal('oOnly');
    expect(await rejection(core.login(douyin.issueCode('oOnly'), { appId: wechat.appId }))).to.include({ code: 'WX_APP_UNKNOWN' });
  });

  it("a token whose record's app this core does not serve is WX_SESSION_INVALID (same secret, same store)", async () => {
    const store = new MemoryStore();
    const several = appsCore([wechat, douyin], { store });
    const qqOnly = platformCore(qq, { store });
    const { token: qqToken } = await qqOnly.login(qq.issueCode('oQqPlayer'));
    const { token: douyinToken } = await several.login(douyin.issueCode('oDyPlayer'), { appId: douyin.appId });
    expect(await several.authenticate(qqToken)).to.deep.equal({ session: null, code: 'WX_SESSION_INVALID' });
    expect(several.authenticateSync(qqToken)).to.deep.equal({ session: null, code: 'WX_SESSION_INVALID' });
    expect(await qqOnly.authenticate(douyinToken)).to.deep.equal({ session: null, code: 'WX_SESSION_INVALID' });
    expect((await qqOnly.authenticate(qqToken)).session?.openid).to.equal('oQqPlayer');
  });

  it('access tokens are per app: two WeChat apps on one shared store never use each other’s', async () => {
    const other = await startPlatformMock('wechat', 'wxapps0000000002');
    try {
      const store = new SharingStore();
      const core = appsCore([wechat, other], { store });
      for (const mock of [wechat, other]) {
        const { session } = await core.login(mock.issueCode('oTokens'), { appId: mock.appId });
        await session.setUserStorage([{ key: 'k', value: mock.appId }]);
        expect(mock.userStorage('oTokens')).to.deep.equal({ k: mock.appId });
        expect(mock.callsTo('/wxa/set_user_storage').map((call) => call.errcode)).to.deep.equal([0]);
      }
      const shared = await Promise.all([wechat, other].map((mock) => store.accessTokens.get(mock.appId)));
      expect(shared.every(Boolean)).to.equal(true);
      // Sealed at rest, and each under its own appId: the two stored values differ from each other and from the tokens.
      expect(shared[0]!.token).to.not.equal(shared[1]!.token);
      expect([shared[0]!.token, shared[1]!.token]).to.not.include.members([wechat.currentAccessToken(), other.currentAccessToken()]);
    } finally {
      await other.close();
    }
  });

  it('the accessToken option is asked with the appId of the call', async () => {
    const tokens = new Map([
      [wechat.appId, await tokenFrom(wechat)],
      [qq.appId, await tokenFrom(qq)],
    ]);
    const asked: string[] = [];
    const core = appsCore([wechat, qq], {
      accessToken: async (appId: string) => {
        asked.push(appId);
        return tokens.get(appId)!;
      },
    });
    const { session: wx } = await core.login(wechat.issueCode('oAsked'), { appId: wechat.appId });
    const { session: q } = await core.login(qq.issueCode('oAsked'), { appId: qq.appId });
    expect(await wx.checkKey()).to.equal(true);
    await q.setUserStorage([{ key: 'k', value: 'v' }]);
    expect(qq.userStorage('oAsked')).to.deep.equal({ k: 'v' });
    expect(asked).to.deep.equal([wechat.appId, qq.appId]);
  });

  it('the per-user cap counts one app’s sessions: the same openid on two apps does not evict across them', async () => {
    const other = await startPlatformMock('wechat', 'wxapps0000000003');
    try {
      const core = appsCore([wechat, other], { maxSessionsPerUser: 1 });
      const first = await core.login(wechat.issueCode('oSameEverywhere'), { appId: wechat.appId });
      const elsewhere = await core.login(other.issueCode('oSameEverywhere'), { appId: other.appId });
      expect((await core.authenticate(first.token)).session?.appId, 'another app’s login evicts nothing').to.equal(wechat.appId);
      await core.login(wechat.issueCode('oSameEverywhere'), { appId: wechat.appId });
      expect(await core.authenticate(first.token)).to.deep.equal({ session: null, code: 'WX_SESSION_EXPIRED' });
      expect((await core.authenticate(elsewhere.token)).session?.appId).to.equal(other.appId);
    } finally {
      await other.close();
    }
  });

  it('logs and session events name the app', async () => {
    const logger = captureLogger();
    const core = appsCore(mocks(), { logger });
    const events: Array<Record<string, unknown>> = [];
    const listen = (message: unknown) => events.push(message as Record<string, unknown>);
    diagnostics.subscribe('wx-session:session', listen);
    try {
      qq.fault('/sns/jscode2session', { status: 503 }, { times: 1 });
      expect(await rejection(core.login(qq.issueCode('oLogged'), { appId: qq.appId }))).to.include({ code: 'WX_UPSTREAM_ERROR' });
      expect(logger.lines).to.have.length(1);
      expect(logger.lines[0]![2]).to.include({ appId: qq.appId, endpoint: '/sns/jscode2session' });
      expect(logger.lines[0]![1]).to.match(/code2Session failed/);
      await core.login(douyin.issueCode('oEvent'), { appId: douyin.appId });
      expect(events).to.deep.equal([{ event: 'login', appId: douyin.appId, openid: 'oEvent' }]);
    } finally {
      diagnostics.unsubscribe('wx-session:session', listen);
    }
  });

  it('verify() checks every app; a failure names the app', async () => {
    await appsCore(mocks()).verify();
    const core = createWxSession({ secret: SECRET, timeout: 1000, apps: [appOf(wechat), appOf(douyin, { appSecret: 'not-the-douyin-secret' }), appOf(qq)] });
    const error = await rejection(core.verify());
    expect(error).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40017 });
    expect(error.message).to.match(new RegExp(`^app ${douyin.appId} \\(douyin\\): Douyin refused the AppSecret \\(40017\\)`));
  });
});

describe('several apps on one store: limitSessions(openid, max, appId) keeps the caps apart', function () {
  const kit = useRedisStores(this);
  const stores: Array<[string, () => SessionStore]> = [
    ['MemoryStore', () => new MemoryStore()],
    ['RedisStore', () => kit.store({ prefix: 'apps-cap:' })],
  ];
  for (const [name, make] of stores) {
    it(`${name}: with appId only that app's sessions count and go; without, the oldest of all`, async () => {
      const store = make();
      const openid = 'oOnTwoApps';
      const now = Date.now();
      const ids = { a1: sampleId(), b1: sampleId(), a2: sampleId(), b2: sampleId() };
      let at = 0;
      for (const [key, id] of Object.entries(ids)) {
        await store.set(id, sampleRecord(60_000, { appId: key.startsWith('a') ? 'wxAppA' : 'wxAppB', openid, createdAt: now + at++ }), 60_000);
      }
      const alive = async () => Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([key, id]) => [key, (await store.get(id)) !== undefined])));
      expect(await store.limitSessions!(openid, 1, 'wxAppA')).to.equal(1);
      expect(await alive()).to.deep.equal({ a1: false, b1: true, a2: true, b2: true });
      expect(await store.limitSessions!(openid, 2, 'wxAppB')).to.equal(0);
      expect(await store.limitSessions!(openid, 2)).to.equal(1);
      expect(await alive()).to.deep.equal({ a1: false, b1: false, a2: true, b2: true });
    });
  }
});

/** A token the mock issues, fetched as a token service would (WeChat: stable_token; QQ: getToken). */
async function tokenFrom(mock: MockWeChat): Promise<string> {
  const response =
    mock.platform === 'qq'
      ? await fetch(`${mock.url}/api/getToken?${new URLSearchParams({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret })}`)
      : await fetch(`${mock.url}/cgi-bin/stable_token`, {
          method: 'POST',
          body: JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: false }),
        });
  return ((await response.json()) as { access_token: string }).access_token;
}
