// What the person running the server sees (docs/operators.md; issue 11): core.verify() at start-up
// names the wrong credential; setup failures are logger.error and outages logger.warn, each with
// the endpoint, errcode and rid and no secret; every node:diagnostics_channel channel carries what
// it promises; answers keep WeChat's errcode and say how to recover; wx.errors answers a
// WxSessionError from route code.
import diagnostics from 'node:diagnostics_channel';
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import supertest from 'supertest';
import { createWxSession, MemoryStore, WxSessionError, type WxSessionCore } from '../src/index.js';
import { CHANNELS, type SessionEvent, type WeChatCallContext } from '../src/diagnostics.js';
import { wxSession as expressSession } from '../adapters/express.js';
import { wxSession as koaSession } from '../adapters/koa.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters, closeServer, coreOptions, listen, OLD_SECRET, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { captureLogger, expectNoSecrets } from './support/keys.js';
import { testClock } from './support/clock.js';

const CODE2SESSION = '/sns/jscode2session';
const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';

describe('operators see failures', () => {
  let mock: MockWeChat;
  before(async () => {
    mock = await startMockWeChat();
  });
  after(async () => {
    await mock.close();
  });
  afterEach(() => mock.clearFaults());

  describe('core.verify() at start-up', () => {
    it('resolves when the credentials work (one stable_token call)', async () => {
      mock.resetCalls();
      await createWxSession(coreOptions(mock)).verify();
      expect(mock.callsTo(STABLE)).to.have.length(1);
    });

    const cases: Array<[string, Parameters<typeof coreOptions>[1], RegExp]> = [
      ['a wrong AppSecret', { appSecret: 'not-the-right-secret-0000' }, /^AppSecret rejected \(40125\)/],
      ['a wrong AppID', { appId: 'wx00000000000wrong' }, /^the AppID is not valid \(40013\)/],
    ];
    for (const [what, options, reason] of cases) {
      it(`${what}: rejects WX_CONFIG_ERROR with a one-line reason naming the errcode and the endpoint, and logs nothing`, async () => {
        const logger = captureLogger();
        const error = await createWxSession(coreOptions(mock, { ...options, logger })).verify().then(() => undefined, (e: unknown) => e);
        expect(error).to.be.an.instanceOf(WxSessionError);
        const err = error as WxSessionError;
        expect(err.code).to.equal('WX_CONFIG_ERROR');
        expect(err.message).to.match(reason);
        expect(err.message).to.not.contain('\n');
        expect(err.endpoint).to.equal(STABLE);
        expect(err.rid, "WeChat's rid").to.match(/^[0-9a-f-]{26}$/);
        expect(logger.lines, 'the rejection is the report').to.deep.equal([]);
        expectNoSecrets(`${err.message} ${logger.text}`, [mock.appSecret, 'not-the-right-secret-0000', SECRET], 'the reason');
      });
    }

    it("this server's IP not on the allow-list (40164) names the allow-list", async () => {
      mock.fault(STABLE, { errcode: 40164 });
      const error = (await createWxSession(coreOptions(mock)).verify().catch((e: unknown) => e)) as WxSessionError;
      expect(error.errcode).to.equal(40164);
      expect(error.message).to.match(/IP is not on the API allow-list \(40164\)/);
    });

    it('WeChat unreachable: rejects WX_UPSTREAM_ERROR naming the endpoint', async () => {
      const logger = captureLogger();
      const core = createWxSession(coreOptions(mock, { apiBase: 'http://127.0.0.1:9', logger }));
      const error = (await core.verify().catch((e: unknown) => e)) as WxSessionError;
      expect(error.code).to.equal('WX_UPSTREAM_ERROR');
      expect(error.endpoint).to.equal(STABLE);
      expect(logger.lines).to.deep.equal([]);
    });

    it('WxSessionError is recognised across builds and copies (a brand, not only the prototype)', async () => {
      const esm = await import('../src/errors.js');
      const cjs = (await import('module')).createRequire(import.meta.url)('../dist/cjs/src/errors.js') as typeof esm;
      const fromCjs = new cjs.WxSessionError('WX_RATE_LIMITED');
      expect(fromCjs instanceof esm.WxSessionError).to.equal(true);
      expect(esm.isWxSessionError(fromCjs)).to.equal(true);
      expect(new esm.WxSessionError('WX_CODE_USED') instanceof cjs.WxSessionError).to.equal(true);
      expect({ code: 'WX_CODE_USED' } instanceof esm.WxSessionError).to.equal(false);
    });

    it('with an accessToken function: asks it, and reports its failure', async () => {
      let asked = 0;
      await createWxSession(coreOptions(mock, { accessToken: async () => `token-${++asked}` })).verify();
      expect(asked).to.equal(1);
      const failing = createWxSession(coreOptions(mock, { accessToken: async () => Promise.reject(new Error('vault down')) }));
      expect(((await failing.verify().catch((e: unknown) => e)) as WxSessionError).code).to.equal('WX_UPSTREAM_ERROR');
    });
  });

  describe('the log: stores and setup', () => {
    it('a failing store: the request answers 503 and the operator gets a warning naming what failed', async () => {
      const logger = captureLogger();
      const store = Object.assign(new MemoryStore(), { set: () => Promise.reject(new Error('disk full')) });
      const error = (await createWxSession(coreOptions(mock, { store, logger })).login(mock.issueCode()).catch((e: unknown) => e)) as WxSessionError;
      expect(error.code).to.equal('WX_STORE_UNAVAILABLE');
      expect(logger.lines).to.have.length(1);
      expect(logger.lines[0]![0]).to.equal('warn');
      expect(String(logger.lines[0]![1])).to.equal('wx-session: session store failed to save a new session');
      expect(logger.lines[0]![2]).to.deep.equal({ error: 'disk full' });
    });

    it('a store without update() gets one warning when the core is created (a logout may not be final)', () => {
      const logger = captureLogger();
      const bare = { get: async () => undefined, set: async () => {}, destroy: async () => {}, limitSessions: async () => 0 };
      createWxSession(coreOptions(mock, { store: bare, logger }));
      expect(logger.lines).to.have.length(1);
      expect(String(logger.lines[0]![1])).to.match(/no update\(\).*logout .*may not be final/);
    });

    it('48001 (API not authorised for this app) is WX_CONFIG_ERROR, and an error line', async () => {
      const logger = captureLogger();
      const core = createWxSession(coreOptions(mock, { logger, checkSessionKey: false }));
      const { token } = await core.login(mock.issueCode('o48001'));
      const session = (await core.authenticate(token)).session!;
      mock.fault('/wxa/set_user_storage', { errcode: 48001 }, { times: 1 });
      const error = (await session.setUserStorage([{ key: 'k', value: 'v' }]).catch((e: unknown) => e)) as WxSessionError;
      expect(error.code).to.equal('WX_CONFIG_ERROR');
      expect(error.errcode).to.equal(48001);
      const errors = logger.lines.filter((line) => line[0] === 'error');
      expect(errors).to.have.length(1);
      expect(String(errors[0]![1])).to.contain('not authorised for this API (48001)');
    });
  });

  for (const name of adapters) {
    describe(`the log while serving (${name})`, () => {
      let app: TestApp;
      let logger: ReturnType<typeof captureLogger>;
      afterEach(async () => {
        await app?.close();
      });

      it('a wrong AppSecret: the player gets 500 WX_CONFIG_ERROR, the operator an error line naming code2Session, 40125 and the rid', async () => {
        logger = captureLogger();
        app = await startApp(name, { mock, core: { appSecret: 'a-wrong-secret-0000000000', logger } });
        const res = await app.http.post('/wx/login').send({ code: mock.issueCode() });
        expect(res.status).to.equal(500);
        expect(res.body).to.include({ code: 'WX_CONFIG_ERROR', errcode: 40125 });
        const errors = logger.lines.filter((line) => line[0] === 'error');
        expect(errors).to.have.length(1);
        expect(String(errors[0]![1])).to.match(/code2Session: AppSecret rejected \(40125\)/);
        expect(errors[0]![2]).to.include({ endpoint: CODE2SESSION, errcode: 40125 });
        expect((errors[0]![2] as { rid?: string }).rid).to.be.a('string');
        expectNoSecrets(logger.text, ['a-wrong-secret-0000000000', mock.appSecret, SECRET], 'the log');
      });

      it('WeChat unreachable at login: 502 to the player, a warning to the operator; a bad code is the player’s and is not logged', async () => {
        logger = captureLogger();
        app = await startApp(name, { mock, core: { logger } });
        mock.fault(CODE2SESSION, { status: 502 }, { times: 1 });
        const res = await app.http.post('/wx/login').send({ code: mock.issueCode() });
        expect(res.status).to.equal(502);
        expect(logger.lines.map((line) => line[0])).to.deep.equal(['warn']);
        expect(logger.lines[0]![2]).to.include({ endpoint: CODE2SESSION, code: 'WX_UPSTREAM_ERROR' });
        expect((await app.http.post('/wx/login').send({ code: 'made-up' })).status).to.equal(401);
        expect(logger.lines, 'nothing more').to.have.length(1);
      });
    });

    describe(`honest answers (${name})`, () => {
      let app: TestApp;
      afterEach(async () => {
        await app?.close();
      });

      it("a failed refresh keeps WeChat's errcode, as login does", async () => {
        app = await startApp(name, { mock, core: { checkSessionKey: { interval: 0 } } });
        const { token, openid } = await app.login();
        mock.rotateSessionKey(openid);
        const res = await app.http.get('/me').set('X-WX-Session', token).set('X-WX-Code', 'a-made-up-code');
        expect(res.status).to.equal(401);
        expect(res.body).to.include({ code: 'WX_CODE_INVALID', errcode: 40029 });
      });

      it('WX_SESSION_KEY_EXPIRED says to retry with X-WX-Code, same token', async () => {
        app = await startApp(name, { mock, core: { checkSessionKey: { interval: 0 } } });
        const { token, openid } = await app.login();
        mock.rotateSessionKey(openid);
        const res = await app.http.get('/me').set('X-WX-Session', token);
        expect(res.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
        expect(res.body.message).to.match(/retry .*X-WX-Code.*same token/);
      });

      it('an answer that re-issues the token carries Cache-Control: no-store', async () => {
        const store = new MemoryStore();
        const old = createWxSession(coreOptions(mock, { store, secret: OLD_SECRET }));
        const { token } = await old.login(mock.issueCode());
        app = await startApp(name, { mock, core: { store, secret: [SECRET, OLD_SECRET] } });
        const res = await app.http.get('/me').set('X-WX-Session', token);
        expect(res.status).to.equal(200);
        expect(res.headers['x-wx-session-token']).to.be.a('string');
        expect(res.headers['cache-control']).to.equal('no-store');
      });
    });
  }

  describe('node:diagnostics_channel', () => {
    it('every channel: a trace per WeChat call, and login, refresh, eviction, expiry and logout events, none with a secret', async () => {
      const traced: Array<[string, WeChatCallContext]> = [];
      const events: SessionEvent[] = [];
      const wechat = diagnostics.tracingChannel<unknown, WeChatCallContext>(CHANNELS.wechat);
      const handlers = {
        start: (context: WeChatCallContext) => traced.push(['start', { ...context }]),
        end: () => {},
        asyncStart: () => {},
        asyncEnd: (context: WeChatCallContext) => traced.push(['asyncEnd', { ...context }]),
        error: (context: WeChatCallContext) => traced.push(['error', { ...context }]),
      };
      const onSession = (message: unknown) => events.push(message as SessionEvent);
      wechat.subscribe(handlers);
      diagnostics.subscribe(CHANNELS.session, onSession);
      try {
        // A store that keeps records past their TTL, so the core meets an expired one (MemoryStore
        // and RedisStore drop them themselves; then the token is just unknown).
        const kept = new MemoryStore();
        const store = Object.assign(kept, { set: (id: string, record: Parameters<MemoryStore['set']>[1]) => MemoryStore.prototype.set.call(kept, id, record, 60_000) });
        const clock = testClock();
        const core: WxSessionCore = createWxSession(coreOptions(mock, { store, checkSessionKey: { interval: 0 }, maxSessionsPerUser: 1, ttl: 1, now: clock.now }));
        const openid = 'oTraced';
        const first = await core.login(mock.issueCode(openid));
        await core.login(mock.issueCode(openid)); // evicts the first
        const { token } = await core.login(mock.issueCode('oTraced2'));
        mock.rotateSessionKey('oTraced2');
        expect((await core.authenticate(token, { code: mock.issueCode('oTraced2') })).session).to.not.equal(null); // check -> 87009 -> refresh
        mock.fault(CHECK, { status: 503 }, { times: 1 });
        await core.logout(token);
        expect((await core.authenticate(first.token)).code).to.equal('WX_SESSION_EXPIRED');
        const late = await core.login(mock.issueCode('oTraced3'));
        clock.advance(1000);
        expect((await core.authenticate(late.token)).code).to.equal('WX_SESSION_EXPIRED');

        const endpoints = traced.filter(([kind]) => kind === 'start').map(([, context]) => context.endpoint);
        expect(endpoints).to.include.members([CODE2SESSION, STABLE, CHECK]);
        const ends = traced.filter(([kind]) => kind === 'asyncEnd').map(([, context]) => context);
        expect(ends.some((context) => context.endpoint === CHECK && context.errcode === 87009), 'the errcode is on the context').to.equal(true);
        expect(ends.every((context) => context.appId === mock.appId)).to.equal(true);
        expect(events.map((event) => event.event)).to.include.members(['login', 'eviction', 'refresh', 'logout', 'expiry']);
        expect(events.find((event) => event.event === 'eviction')).to.deep.equal({ event: 'eviction', appId: mock.appId, openid, count: 1 });
        expect(events.find((event) => event.event === 'expiry')).to.include({ openid: 'oTraced3', reason: 'ttl' });
        const published = JSON.stringify({ traced, events });
        expectNoSecrets(published, [mock.appSecret, mock.sessionKeyOf(openid), mock.sessionKeyOf('oTraced2'), mock.currentAccessToken(), SECRET, token], 'what was published');
      } finally {
        wechat.unsubscribe(handlers);
        diagnostics.unsubscribe(CHANNELS.session, onSession);
      }
    });

    it('a failing WeChat call is traced on the error channel', async () => {
      const errors: WeChatCallContext[] = [];
      const wechat = diagnostics.tracingChannel<unknown, WeChatCallContext>(CHANNELS.wechat);
      const none = () => {};
      const handlers = { start: none, end: none, asyncStart: none, asyncEnd: none, error: (context: WeChatCallContext) => errors.push({ ...context }) };
      wechat.subscribe(handlers);
      try {
        mock.fault(CODE2SESSION, { status: 500 }, { times: 1 });
        await createWxSession(coreOptions(mock)).login(mock.issueCode()).catch(() => {});
        expect(errors.map((context) => context.endpoint)).to.deep.equal([CODE2SESSION]);
      } finally {
        wechat.unsubscribe(handlers);
      }
    });
  });

  describe('wx.errors: a WxSessionError from route code answers its table row', () => {
    let mockApp: TestApp;
    before(async () => {
      mockApp = await startApp('express5', { mock });
    });
    after(async () => {
      await mockApp.close();
    });

    function expressServer() {
      const app = express();
      const wx = expressSession(createWxSession(coreOptions(mock)));
      app.use(wx);
      app.get('/limited', () => {
        throw new WxSessionError('WX_RATE_LIMITED', { errcode: 45011 });
      });
      app.get('/stale', (_req, _res, next) => next(new WxSessionError('WX_SESSION_KEY_EXPIRED')));
      app.get('/boom', () => {
        throw new Error('not ours');
      });
      app.use(wx.errors);
      app.use(((error, _req, res, _next) => res.status(500).json({ mine: String((error as Error).message) })) as express.ErrorRequestHandler);
      return app;
    }

    function koaServer() {
      const app = new Koa();
      const wx = koaSession(createWxSession(coreOptions(mock)));
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (error) {
          ctx.status = 500;
          ctx.body = { mine: (error as Error).message };
        }
      });
      app.use(wx.errors);
      app.use(wx);
      app.use(async (ctx) => {
        if (ctx.path === '/limited') throw new WxSessionError('WX_RATE_LIMITED', { errcode: 45011 });
        if (ctx.path === '/stale') throw new WxSessionError('WX_SESSION_KEY_EXPIRED');
        throw new Error('not ours');
      });
      return app.callback();
    }

    for (const [label, make] of [['express', expressServer], ['koa', koaServer]] as const) {
      it(`${label}: status, WWW-Authenticate, Retry-After and body; other errors pass on`, async () => {
        const { server, url } = await listen(make() as Parameters<typeof listen>[0]);
        try {
          const http = supertest(url);
          const limited = await http.get('/limited');
          expect(limited.status).to.equal(429);
          expect(limited.headers['retry-after']).to.equal('60');
          expect(limited.body).to.deep.equal({ code: 'WX_RATE_LIMITED', message: 'too many logins for this user; retry later', errcode: 45011 });
          const stale = await http.get('/stale').set('X-WX-Session', 'a.b');
          expect(stale.status).to.equal(401);
          expect(stale.headers['www-authenticate']).to.equal('Bearer realm="wx-session", error="invalid_token"');
          const boom = await http.get('/boom');
          expect(boom.status).to.equal(500);
          expect(boom.body).to.deep.equal({ mine: 'not ours' });
        } finally {
          await closeServer(server);
        }
      });
    }
  });
});
