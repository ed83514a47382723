// wx-session/nestjs beyond the wire protocol every adapter shares (those suites run through the
// nest* apps of harness/apps.ts): forRootAsync, the app-wide guard's modes, @WxSessionOptional(),
// the filter answering a handler's WxSessionError, option errors, and that the Nest 10 apps really
// run on Nest 10. On NestJS 11 and 10, each on the Express and the Fastify platform.
import { createRequire } from 'node:module';
import { expect } from 'chai';
import supertest from 'supertest';
import * as nest11 from '../harness/apps-nestjs.js';
import type { NestRoute } from '../harness/apps-nestjs.js';
import { coreOptions } from '../harness/apps.js';
import { createWxSession, WxSessionError, type WxSessionCore } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { INVALID_REQUEST } from './support/wire.js';
import { requireBuilt } from './support/built.js';

const variants = [
  { major: 11, platform: 'express' },
  { major: 11, platform: 'fastify' },
  { major: 10, platform: 'express' },
  { major: 10, platform: 'fastify' },
] as const;

const route = (method: 'GET' | 'POST', path: string, extra: Partial<NestRoute>, run: NestRoute['run']): NestRoute => ({ method, path, session: false, ...extra, run });

for (const { major, platform } of variants) describe(`nestjs module (Nest ${major}, ${platform})`, () => {
  let mock: MockWeChat;
  let core: WxSessionCore;
  let nest: typeof nest11;
  const running: Array<{ close(): Promise<void> }> = [];
  const start = async (...args: Parameters<typeof nest11.startNest> extends [unknown, ...infer Rest] ? Rest : never) => {
    const app = await nest.startNest(platform, ...args);
    running.push(app);
    return supertest(app.url);
  };
  const login = async (http: ReturnType<typeof supertest>, path = '/wx/login') => {
    const res = await http.post(path).send({ code: mock.issueCode() }).expect(200);
    return res.body.token as string;
  };

  before(async () => {
    mock = await startMockWeChat();
    core = createWxSession(coreOptions(mock));
    nest = major === 11 ? nest11 : await nest11.nest10();
  });
  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
  });
  after(() => mock.close());

  it(`runs on @nestjs/core ${major}`, () => {
    expect(nest.nestMajor()).to.equal(major);
  });

  it('forRootAsync: options from a factory with injected providers, routes at their paths', async () => {
    const paths = { module: class PathsModule {}, providers: [{ provide: 'PATHS', useValue: { loginPath: '/game/login', logoutPath: '/game/logout' } }], exports: ['PATHS'] };
    const me = route('GET', '/secret', { session: true }, async (req) => ({ status: 200, body: { openid: req.wxSession.openid } }));
    const http = await start([nest.routesController([me])], (M) => M.forRootAsync({
      imports: [paths],
      useFactory: async (given: { loginPath: string; logoutPath: string }) => ({ core, ...given }),
      inject: ['PATHS'],
    }));
    const token = await login(http, '/game/login');
    expect((await http.get('/secret').set('X-WX-Session', token).expect(200)).body.openid).to.be.a('string');
    await http.post('/wx/login').send({ code: mock.issueCode() }).expect(404);
    await http.post('/game/logout').set('X-WX-Session', token).expect(204);
    const after = await http.get('/secret').set('X-WX-Session', token).expect(401);
    expect(after.body.code).to.equal('WX_SESSION_EXPIRED');
  });

  it("guard: 'required' refuses every route without a session but those marked @WxSessionOptional()", async () => {
    const whoami = (req: { wxSession?: unknown }) => Promise.resolve({ status: 200, body: { session: req.wxSession !== undefined } });
    const http = await start([nest.routesController([
      route('GET', '/private', {}, whoami),
      route('GET', '/public', { optional: true }, whoami),
    ])], { core, guard: 'required' });
    const refused = await http.get('/private').expect(401);
    expect(refused.body.code).to.equal('WX_SESSION_MISSING');
    expect(refused.headers['www-authenticate']).to.equal(INVALID_REQUEST);
    expect(refused.headers['cache-control']).to.equal('no-store');
    expect((await http.get('/public').expect(200)).body).to.deep.equal({ session: false });
    const token = await login(http);
    expect((await http.get('/private').set('X-WX-Session', token).expect(200)).body).to.deep.equal({ session: true });
  });

  it("guard: false authenticates nothing app-wide: WxSessionGuard on a route still does", async () => {
    const http = await start([nest.routesController([
      route('GET', '/open', {}, async (req) => ({ status: 200, body: { session: req.wxSession !== undefined } })),
      route('GET', '/closed', { session: true }, async () => ({ status: 200, body: {} })),
    ])], { core, guard: false });
    const token = await login(http);
    expect((await http.get('/open').set('X-WX-Session', token).expect(200)).body).to.deep.equal({ session: false });
    await http.get('/closed').set('X-WX-Session', token).expect(200);
    expect((await http.get('/closed').expect(401)).body.code).to.equal('WX_SESSION_MISSING');
  });

  it("a WxSessionError a handler throws is answered with the table's status, headers and body", async () => {
    const http = await start([nest.routesController([
      route('POST', '/busy', {}, async () => {
        throw new WxSessionError('WX_RATE_LIMITED', { errcode: 45011 });
      }),
    ])], { core });
    const res = await http.post('/busy').send({}).expect(429);
    expect(res.headers['retry-after']).to.equal('60');
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(res.body).to.include({ code: 'WX_RATE_LIMITED', errcode: 45011 });
  });

  it('refuses bad options with a TypeError naming them', async () => {
    const routes = [nest.routesController([])];
    for (const [options, message] of [
      [{ core, guard: 'sometimes' as never }, /^wx-session: guard/],
      [{ core, loginPath: 'login' }, /^wx-session: loginPath/],
      [{ core, bodyTimeout: -1 }, /^wx-session: bodyTimeout/],
      [{ appId: 'wxapp', appSecret: 'secret', secret: 'short' }, /^wx-session: /],
    ] as const) {
      const error = await nest.startNest(platform, routes, options).then(() => undefined, (e: unknown) => e);
      expect(error, JSON.stringify(options, (k, v) => (k === 'core' ? '[core]' : v))).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.match(message);
    }
  });
});

describe('nestjs module: the built package (dist/), with Nest 11 installed', () => {
  requireBuilt();
  const EXPORTS = ['WX_SESSION_CORE', 'WX_SESSION_OPTIONAL', 'WxSession', 'WxSessionFilter', 'WxSessionGuard', 'WxSessionModule', 'WxSessionOptional', 'WxSessionReason', 'WxSessionSaver'];

  it('loads from the CommonJS and the ESM build with the same names, decorated for Nest', async () => {
    const cjs = createRequire(import.meta.url)('../dist/cjs/adapters/nestjs.js') as Record<string, unknown>;
    const esm = (await import('../dist/esm/adapters/nestjs.js' as string)) as Record<string, unknown>;
    for (const built of [cjs, esm]) {
      expect(Object.keys(built).filter((k) => k !== 'default' && k !== '__esModule').sort()).to.deep.equal(EXPORTS);
      expect(typeof (built.WxSessionModule as { forRoot?: unknown }).forRoot).to.equal('function');
      // @Inject's explicit tokens, not design:paramtypes, tell Nest what the guard takes.
      const deps = Reflect.getMetadata('self:paramtypes', built.WxSessionGuard as object) as Array<{ index: number }>;
      expect(deps.map((d) => d.index).sort()).to.deep.equal([0, 1, 2]);
      expect(Reflect.getMetadata('design:paramtypes', built.WxSessionGuard as object)).to.equal(undefined);
    }
    expect(cjs.WX_SESSION_CORE, 'one token for both builds').to.equal(esm.WX_SESSION_CORE);
  });
});
