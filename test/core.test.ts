// The framework-agnostic core on its own (docs/api.md, "The core"): options validated at
// construction, what counts as a core, authenticate() that never throws and looks at the store once
// per request, login/logout, the error class and codes. A failing store: store-failures.test.ts.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { adapters, coreOptions, SECRET, startApp } from '../harness/apps.js';
import { forgeToken } from './support/wire.js';
import { testClock } from './support/clock.js';
import { ErrorCode, MemoryStore, WxSessionError, createWxSession, isWxSessionCore, type SessionRecord, type WxSessionOptions } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { wxSession as expressSession } from '../adapters/express.js';
import { wxSession as koaSession } from '../adapters/koa.js';

/** The error a promise rejects with, or a failure if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<WxSessionError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.an.instanceOf(WxSessionError);
    return error as WxSessionError;
  }
  expect.fail('expected a rejection');
}

const TABLE: Record<string, number> = {
  WX_CODE_MISSING: 400,
  WX_BAD_REQUEST: 400,
  WX_PAYLOAD_TOO_LARGE: 413,
  WX_CODE_INVALID: 401,
  WX_CODE_USED: 401,
  WX_USER_BLOCKED: 403,
  WX_RATE_LIMITED: 429,
  WX_SESSION_MISSING: 401,
  WX_SESSION_INVALID: 401,
  WX_SESSION_EXPIRED: 401,
  WX_SESSION_KEY_EXPIRED: 401,
  WX_UPSTREAM_ERROR: 502,
  WX_UPSTREAM_TIMEOUT: 504,
  WX_CONFIG_ERROR: 500,
  WX_STORE_UNAVAILABLE: 503,
  // SECURITY.md, "Denial of service" (slow bodies): a login body that did not arrive within
  // bodyTimeout.
  WX_REQUEST_TIMEOUT: 408,
  // docs/several-games.md: a login naming an app this server does not serve.
  WX_APP_UNKNOWN: 400,
};

describe('core', () => {
  let mock: MockWeChat;
  before(async () => { mock = await startMockWeChat(); });
  after(async () => { await mock.close(); });

  describe('option validation', () => {
    const good = (): WxSessionOptions => ({ appId: 'wxapp', appSecret: 'app-secret', secret: SECRET });
    const bad: Array<[string, () => unknown]> = [
      ['no options at all', () => undefined],
      ['a missing appId', () => ({ ...good(), appId: undefined })],
      ['an empty appId', () => ({ ...good(), appId: '' })],
      ['a missing appSecret', () => ({ ...good(), appSecret: undefined })],
      ['an empty appSecret', () => ({ ...good(), appSecret: '' })],
      ['a missing secret', () => ({ ...good(), secret: undefined })],
      ['a secret of 31 characters', () => ({ ...good(), secret: 's'.repeat(31) })],
      ['secret: []', () => ({ ...good(), secret: [] })],
      ['a secret array with a short one', () => ({ ...good(), secret: [SECRET, 'short-old-secret'] })],
      ['a secret array with a non-string', () => ({ ...good(), secret: [SECRET, 42] })],
      ["keyExpired: 'bogus'", () => ({ ...good(), keyExpired: 'bogus' })],
      ['ttl: -1', () => ({ ...good(), ttl: -1 })],
      ['ttl: 0', () => ({ ...good(), ttl: 0 })],
      ['ttl: NaN', () => ({ ...good(), ttl: NaN })],
      ["ttl: '60'", () => ({ ...good(), ttl: '60' })],
      ['checkSessionKey: { interval: -1 }', () => ({ ...good(), checkSessionKey: { interval: -1 } })],
      ['checkSessionKey: true', () => ({ ...good(), checkSessionKey: true })],
      ['timeout: -5', () => ({ ...good(), timeout: -5 })],
      ['a store without get/set/destroy', () => ({ ...good(), store: { get: async () => undefined } })],
    ];
    for (const [what, options] of bad) {
      it(`throws TypeError('wx-session: ...') for ${what}`, () => {
        expect(() => createWxSession(options() as WxSessionOptions))
          .to.throw(TypeError)
          .with.property('message')
          .that.match(/^wx-session: /);
      });
    }

    it('accepts the minimal options and the edge values', () => {
      expect(() => createWxSession(good())).to.not.throw();
      expect(() => createWxSession({ ...good(), secret: 's'.repeat(32) })).to.not.throw();
      expect(() => createWxSession({ ...good(), secret: [SECRET, 'o'.repeat(32)] })).to.not.throw();
      expect(() => createWxSession({ ...good(), checkSessionKey: false })).to.not.throw();
      expect(() => createWxSession({ ...good(), checkSessionKey: { interval: 0 } })).to.not.throw();
      expect(() => createWxSession({ ...good(), keyExpired: 'reject' })).to.not.throw();
    });

    it('does not put the secrets in the validation message', () => {
      const secret = 'short-secret-xyz';
      try {
        createWxSession({ ...good(), appSecret: 'the-app-secret-value', secret });
        expect.fail('expected a TypeError');
      } catch (error) {
        expect((error as Error).message).to.not.contain(secret).and.not.contain('the-app-secret-value');
      }
    });
  });

  describe('isWxSessionCore', () => {
    const methods = ['login', 'authenticate', 'authenticateSync', 'logout'] as const;
    /** A core's methods, bound, as a plain object: what a wrapper around a core would look like. */
    const wrapped = () => {
      const core = createWxSession(coreOptions(mock));
      return Object.fromEntries(methods.map((name) => [name, core[name].bind(core)]));
    };

    it('is true for a core and for an object with its four methods, false for options', () => {
      expect(isWxSessionCore(createWxSession(coreOptions(mock)))).to.equal(true);
      expect(isWxSessionCore(wrapped())).to.equal(true);
      expect(isWxSessionCore(coreOptions(mock))).to.equal(false);
      for (const value of [null, undefined, 'core', () => {}]) expect(isWxSessionCore(value)).to.equal(false);
    });

    for (const missing of methods) {
      it(`an object without ${missing} is no core: false, and the adapters refuse it as they refuse bad options`, () => {
        const partial = { ...wrapped(), [missing]: undefined };
        expect(isWxSessionCore(partial)).to.equal(false);
        for (const adapter of [expressSession, koaSession]) {
          expect(() => adapter(partial as never)).to.throw(TypeError, /^wx-session: /);
        }
      });
    }
  });

  describe('authenticate', () => {
    const core = () => createWxSession(coreOptions(mock));
    const garbage: Array<[string, unknown, string]> = [
      ['undefined', undefined, 'WX_SESSION_MISSING'],
      ['null', null, 'WX_SESSION_MISSING'],
      ["''", '', 'WX_SESSION_MISSING'],
      ['42', 42, 'WX_SESSION_INVALID'],
      ['{}', {}, 'WX_SESSION_INVALID'],
      ['[]', [], 'WX_SESSION_INVALID'],
      ['a function', () => 'x', 'WX_SESSION_INVALID'],
      ['a Symbol', Symbol('token'), 'WX_SESSION_INVALID'],
      ['an object with toString', { toString: () => 'a.b' }, 'WX_SESSION_INVALID'],
      ["'a.b'", 'a.b', 'WX_SESSION_INVALID'],
      ["'.'", '.', 'WX_SESSION_INVALID'],
      ['a token with an empty id', forgeToken('', SECRET), 'WX_SESSION_INVALID'],
      ['no dot', 'abcdef', 'WX_SESSION_INVALID'],
      ['1 MB of dots', '.'.repeat(1_000_000), 'WX_SESSION_INVALID'],
      ['1 MB string', 'x'.repeat(1_000_000) + '.y', 'WX_SESSION_INVALID'],
      ['control characters', 'ab\u0000c.d\n', 'WX_SESSION_INVALID'],
      ['unicode', 'héllo.wörld', 'WX_SESSION_INVALID'],
      ['a signed token for an unknown id', forgeToken(randomBytes(32).toString('base64url'), SECRET), 'WX_SESSION_EXPIRED'],
    ];
    for (const [what, token, code] of garbage) {
      it(`never throws for ${what}: {session: null, code: ${code}}`, async () => {
        const result = await core().authenticate(token);
        expect(result.session).to.equal(null);
        expect(result.code).to.equal(code);
        expect(result.token).to.equal(undefined);
      });
    }

    it('ignores a refresh code when the key is fine (no extra WeChat call)', async () => {
      const c = core();
      const { token } = await c.login(mock.issueCode('oIgnoreCode'));
      const spare = mock.issueCode('oIgnoreCode');
      mock.resetCalls();
      const result = await c.authenticate(token, { code: spare });
      expect(result.session?.openid).to.equal('oIgnoreCode');
      expect(mock.callsTo('/sns/jscode2session')).to.have.length(0);
    });
  });

  describe('login and logout', () => {
    it('login(code) resolves {token, session, expiresIn}', async () => {
      const core = createWxSession(coreOptions(mock));
      const result = await core.login(mock.issueCode('oCoreLogin', { unionid: 'uCore' }));
      expect(result).to.have.all.keys('token', 'session', 'expiresIn');
      expect(result.token).to.be.a('string').and.match(/^[A-Za-z0-9._~+/=-]+\.[A-Za-z0-9+/=_-]+$/);
      expect(result.token.length).to.be.at.most(512);
      expect(result.expiresIn).to.equal(604800);
      expect(result.session.openid).to.equal('oCoreLogin');
      expect(result.session.unionid).to.equal('uCore');
      expect(result.session.id).to.be.a('string');
      expect(result.token).to.not.equal(result.session.id);
      expect(result.session.data).to.deep.equal({});
      expect(result.session.expiresAt - result.session.createdAt).to.equal(604800_000);
      const auth = await core.authenticate(result.token);
      expect(auth.session?.id).to.equal(result.session.id);
      expect(auth.code).to.equal(undefined);
    });

    it('login with a ttl option reports it in expiresIn', async () => {
      const core = createWxSession(coreOptions(mock, { ttl: 3600 }));
      const { expiresIn, session } = await core.login(mock.issueCode());
      expect(expiresIn).to.equal(3600);
      expect(session.expiresAt - session.createdAt).to.equal(3600_000);
    });

    it('logout(token), then authenticate -> WX_SESSION_EXPIRED', async () => {
      const core = createWxSession(coreOptions(mock));
      const { token } = await core.login(mock.issueCode());
      await core.logout(token);
      const result = await core.authenticate(token);
      expect(result.session).to.equal(null);
      expect(result.code).to.equal('WX_SESSION_EXPIRED');
    });

    it('logout of nothing or garbage resolves', async () => {
      const core = createWxSession(coreOptions(mock));
      for (const token of [undefined, null, '', 42, 'a.b', 'x'.repeat(10_000), forgeToken('unknown', SECRET)]) {
        await core.logout(token);
      }
    });

    it('login rejects client mistakes with WxSessionError before calling WeChat', async () => {
      const core = createWxSession(coreOptions(mock));
      mock.resetCalls();
      const missing = await rejection(core.login(undefined));
      expect(missing.code).to.equal('WX_CODE_MISSING');
      expect(missing.status).to.equal(400);
      expect(missing.errcode).to.equal(undefined);
      expect((await rejection(core.login(7))).code).to.equal('WX_BAD_REQUEST');
      expect((await rejection(core.login('c'.repeat(257)))).code).to.equal('WX_BAD_REQUEST');
      expect((await rejection(core.login(mock.issueCode(), { encryptedData: 'abc' }))).code).to.equal('WX_BAD_REQUEST');
      expect(mock.callsTo('/sns/jscode2session')).to.have.length(0);
    });

    it('login rejects a WeChat refusal with WxSessionError carrying errcode', async () => {
      const core = createWxSession(coreOptions(mock));
      const error = await rejection(core.login('never-issued'));
      expect(error.code).to.equal('WX_CODE_INVALID');
      expect(error.status).to.equal(401);
      expect(error.errcode).to.equal(40029);
      expect(error.message).to.be.a('string').and.not.equal('');
    });
  });

  describe('WxSessionError and ErrorCode', () => {
    it('WxSessionError has code, status, message, errcode and cause', () => {
      const cause = new Error('underlying');
      const error = new WxSessionError('WX_CODE_USED', { errcode: 40163, cause, message: 'used up' });
      expect(error).to.be.an.instanceOf(Error);
      expect(error).to.be.an.instanceOf(WxSessionError);
      expect(error.code).to.equal('WX_CODE_USED');
      expect(error.status).to.equal(401);
      expect(error.message).to.equal('used up');
      expect(error.errcode).to.equal(40163);
      // The cause is a scrubbed copy (SECURITY.md, "Secrets in logs, answers and errors"):
      // the original's class name, message and code, and nothing else of it.
      const kept = error.cause as Error & { code?: unknown };
      expect(kept).to.be.an.instanceOf(Error);
      expect(kept).to.not.equal(cause);
      expect(kept.name).to.equal('Error');
      expect(kept.message).to.equal('underlying');
      expect(kept.code).to.equal(undefined);
      const coded = Object.assign(new TypeError('with a code'), { code: 'ECONNRESET', command: { args: ['SET', 'k', 'record'] } });
      const fromCoded = new WxSessionError('WX_STORE_UNAVAILABLE', { cause: coded }).cause as Error & Record<string, unknown>;
      expect(fromCoded).to.not.equal(coded);
      expect(fromCoded.name).to.equal('TypeError');
      expect(fromCoded.message).to.equal('with a code');
      expect(fromCoded.code).to.equal('ECONNRESET');
      expect(Object.keys(fromCoded)).to.deep.equal(['code']);
      expect(fromCoded.command).to.equal(undefined);
      const plain = new WxSessionError('WX_RATE_LIMITED');
      expect(plain.status).to.equal(429);
      expect(plain.message).to.be.a('string').and.not.equal('');
      expect(plain.errcode).to.equal(undefined);
    });

    it('every code maps to the status of the README error table', () => {
      for (const [code, status] of Object.entries(TABLE)) {
        expect(new WxSessionError(code as ErrorCode).status, code).to.equal(status);
      }
    });

    it('ErrorCode is frozen, its keys equal its values, and it has exactly the table codes', () => {
      expect(Object.isFrozen(ErrorCode)).to.equal(true);
      for (const [key, value] of Object.entries(ErrorCode)) expect(value).to.equal(key);
      expect(Object.keys(ErrorCode).sort()).to.deep.equal(Object.keys(TABLE).sort());
      expect(ErrorCode.WX_SESSION_EXPIRED).to.equal('WX_SESSION_EXPIRED');
      expect(() => {
        (ErrorCode as Record<string, string>).WX_NEW = 'WX_NEW';
      }).to.throw(TypeError);
    });
  });
});

/** A MemoryStore that counts look-ups: the synchronous peek and the asynchronous get. */
class LookupCountingStore extends MemoryStore {
  peeks = 0;
  gets = 0;
  override peek(id: string): SessionRecord | null | undefined {
    this.peeks++;
    return super.peek(id);
  }
  override async get(id: string): Promise<SessionRecord | undefined> {
    this.gets++;
    return super.get(id);
  }
}

for (const name of adapters) describe(`one look at the store per request (${name})`, () => {
  it('answered at once: one peek and no get; a session due a renewal: one peek, then one get', async () => {
    const clock = testClock();
    const store = new LookupCountingStore({ now: clock.now });
    const app = await startApp(name, { core: { store, ttl: 60, now: clock.now } });
    try {
      const { token } = await app.login();
      store.peeks = store.gets = 0;
      await app.http.get('/me').set('X-WX-Session', token).expect(200);
      expect({ peeks: store.peeks, gets: store.gets }, 'at once').to.deep.equal({ peeks: 1, gets: 0 });
      clock.advance(31_000); // less than half left: the renewal needs the store
      store.peeks = store.gets = 0;
      await app.http.get('/me').set('X-WX-Session', token).expect(200);
      expect({ peeks: store.peeks, gets: store.gets }, 'with a renewal').to.deep.equal({ peeks: 1, gets: 1 });
    } finally {
      await app.close();
    }
  });
});
