// wx-session/client on Douyin (`tt`) and QQ (`qq`) as on WeChat (docs/client.md, "Douyin and QQ"):
// the platform object goes in the `wx` option, `appId` becomes header X-WX-AppId on the login (and
// only then), a Douyin guest logs in with `anonymousCode`, Douyin's `force` is passed through as
// given, and login failures are reported as for `wx.login`. Real HTTP: the fakes of
// harness/fake-wx.ts in front of a tiny node:http server on loopback that records what the client
// sends.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { expect } from 'chai';
import { createSessionClient, SessionClientError, type WxApi } from 'wx-session/client';
import { createFakeQq, createFakeTt, createFakeWx, type FakeTt, type FakeWx } from '../harness/fake-wx.js';
import { closeServer } from '../harness/apps.js';

/** One request the server received: its JSON body parsed (undefined when empty). */
interface Hit {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Reply {
  status: number;
  body: unknown;
}

interface TestServer {
  url: string;
  hits: Hit[];
  hitsTo(method: string, path: string): Hit[];
  /** Answers a request its own way when it returns a reply (else the default below). */
  answer?: (hit: Hit) => Reply | undefined;
}

/**
 * The default answers: POST /wx/login → 200 `{ token: 't<n>', expiresIn, openid | anonymousOpenid }`
 * (400 WX_CODE_MISSING without code and anonymousCode; 400 WX_APP_UNKNOWN for an X-WX-AppId not in
 * `apps`); GET /me → 200 `{ token }` with the token it got, 401 WX_SESSION_MISSING without one.
 */
function defaultReply(hit: Hit, count: number): Reply {
  if (hit.method === 'POST' && hit.path === '/wx/login') {
    const body = (hit.body ?? {}) as { code?: unknown; anonymousCode?: unknown };
    const appId = hit.headers['x-wx-appid'];
    if (appId !== undefined && !APPS.includes(String(appId))) return { status: 400, body: { code: 'WX_APP_UNKNOWN', message: 'unknown app' } };
    if (typeof body.code === 'string') return { status: 200, body: { token: `t${count}`, expiresIn: 3600, openid: `o-${body.code}` } };
    if (typeof body.anonymousCode === 'string') return { status: 200, body: { token: `t${count}`, expiresIn: 3600, anonymousOpenid: `a-${body.anonymousCode}` } };
    return { status: 400, body: { code: 'WX_CODE_MISSING', message: 'no code' } };
  }
  if (hit.path === '/me') {
    const token = hit.headers['x-wx-session'];
    if (token === undefined) return { status: 401, body: { code: 'WX_SESSION_MISSING', message: 'no token' } };
    return { status: 200, body: { token } };
  }
  return { status: 404, body: { code: 'NOT_FOUND', message: hit.path } };
}

const APPS = ['wxApp1', 'ttApp1', 'qqApp1'];

async function startServer(): Promise<{ server: Server; state: TestServer }> {
  const state: TestServer = {
    url: '',
    hits: [],
    hitsTo: (method, path) => state.hits.filter((hit) => hit.method === method && hit.path === path),
  };
  let logins = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const hit: Hit = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, headers: { ...req.headers }, body: text === '' ? undefined : JSON.parse(text) };
      state.hits.push(hit);
      if (hit.method === 'POST' && hit.path === '/wx/login') logins += 1;
      const reply = state.answer?.(hit) ?? defaultReply(hit, logins);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  state.url = `http://127.0.0.1:${address.port}`;
  return { server, state };
}

/** Codes numbered per kind, so a test knows which one the client sent. */
function counter(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** What a client's login() rejected with (fails the test when it resolved). */
async function loginError(promise: Promise<unknown>): Promise<SessionClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(SessionClientError);
    return error as SessionClientError;
  }
  throw new Error('expected a rejection');
}

describe('wx-session/client on Douyin (tt) and QQ (qq)', () => {
  let server: Server;
  let app: TestServer;

  beforeEach(async () => {
    ({ server, state: app } = await startServer());
  });

  afterEach(async () => {
    await closeServer(server);
  });

  const loginHits = () => app.hitsTo('POST', '/wx/login');

  describe('X-WX-AppId', () => {
    it('is sent with the login when appId is given, and on no other request', async () => {
      const wx = createFakeWx({ code: counter('wxcode') });
      const client = createSessionClient({ baseUrl: app.url, wx, appId: 'wxApp1' });
      const me = await client.request<{ token: string }>({ url: '/me' });
      expect(me.statusCode).to.equal(200);
      const [login] = loginHits();
      expect(login!.headers['x-wx-appid']).to.equal('wxApp1');
      expect(login!.body).to.deep.equal({ code: 'wxcode1' });
      const [request] = app.hitsTo('GET', '/me');
      expect(request!.headers['x-wx-session']).to.equal('t1');
      expect(request!.headers).not.to.have.property('x-wx-appid');
      await client.logout();
      expect(app.hitsTo('POST', '/wx/logout')[0]!.headers).not.to.have.property('x-wx-appid');
    });

    it('is not sent when appId is not given (nor when it is empty)', async () => {
      for (const appId of [undefined, '']) {
        const wx = createFakeWx({ code: counter('wxcode') });
        await createSessionClient({ baseUrl: app.url, wx, ...(appId === undefined ? {} : { appId }) }).login();
      }
      expect(loginHits()).to.have.length(2);
      for (const hit of loginHits()) expect(hit.headers).not.to.have.property('x-wx-appid');
    });

    it('is sent again with each new login (a session 401 logs in afresh)', async () => {
      const tt = createFakeTt({ code: counter('ttcode') });
      const client = createSessionClient({ baseUrl: app.url, wx: tt, appId: 'ttApp1' });
      await client.login();
      let refused = false;
      app.answer = (hit) => (hit.path === '/me' && !refused ? ((refused = true), { status: 401, body: { code: 'WX_SESSION_EXPIRED', message: 'expired' } }) : undefined);
      const me = await client.request<{ token: string }>({ url: '/me' });
      expect(me.statusCode).to.equal(200);
      expect(me.data.token).to.equal('t2');
      expect(loginHits().map((hit) => hit.headers['x-wx-appid'])).to.deep.equal(['ttApp1', 'ttApp1']);
    });

    it('a login the server refuses for its appId rejects with the server\'s code', async () => {
      const qq = createFakeQq({ code: counter('qqcode') });
      const client = createSessionClient({ baseUrl: app.url, wx: qq, appId: 'notServed' });
      const error = await loginError(client.login());
      expect(error.code).to.equal('WX_APP_UNKNOWN');
      expect(error.statusCode).to.equal(400);
      expect(client.token()).to.equal(undefined);
      // An implicit login's refusal is the request's answer.
      const me = await client.request({ url: '/me' });
      expect(me.statusCode).to.equal(400);
      expect((me.data as { code: string }).code).to.equal('WX_APP_UNKNOWN');
      expect(app.hitsTo('GET', '/me')).to.have.length(0);
    });
  });

  describe('Douyin (tt)', () => {
    it('a user logged into Douyin sends both code and anonymousCode', async () => {
      const tt = createFakeTt({ code: counter('ttcode'), anonymousCode: counter('anon') });
      const client = createSessionClient({ baseUrl: app.url, wx: tt, appId: 'ttApp1' });
      const result = await client.login();
      expect(result.token).to.equal('t1');
      expect(result.openid).to.equal('o-ttcode1');
      expect(loginHits()[0]!.body).to.deep.equal({ code: 'ttcode1', anonymousCode: 'anon1' });
      expect(loginHits()[0]!.headers['x-wx-appid']).to.equal('ttApp1');
      expect(client.token()).to.equal('t1');
      expect(tt.storage.get('wx-session-token')).to.equal('t1');
    });

    it('a guest (force: false) logs in with anonymousCode alone, and its requests carry the token', async () => {
      const tt = createFakeTt({ anonymousCode: counter('anon') });
      expect(tt.isLogin).to.equal(false);
      const client = createSessionClient({ baseUrl: app.url, wx: tt, force: false });
      const me = await client.request<{ token: string }>({ url: '/me' });
      expect(me.statusCode).to.equal(200);
      expect(me.data.token).to.equal('t1');
      expect(loginHits()).to.have.length(1);
      expect(loginHits()[0]!.body).to.deep.equal({ anonymousCode: 'anon1' });
      expect(tt.loginOptions).to.deep.equal([{ force: false }]);
    });

    it('force is passed to tt.login only when given', async () => {
      const given = createFakeTt({ code: counter('ttcode') });
      await createSessionClient({ baseUrl: app.url, wx: given, force: true }).login();
      expect(given.loginOptions).to.deep.equal([{ force: true }]);
      const notGiven = createFakeTt({ code: counter('ttcode') });
      await createSessionClient({ baseUrl: app.url, wx: notGiven }).login();
      expect(notGiven.loginOptions).to.deep.equal([{}]);
    });

    it('a guest without force: false meets the login sheet; cancelled, it is LOGIN_FAILED with tt\'s errMsg', async () => {
      const tt = createFakeTt({ code: counter('ttcode'), anonymousCode: counter('anon') });
      tt.isLogin = false;
      const client = createSessionClient({ baseUrl: app.url, wx: tt });
      const error = await loginError(client.login());
      expect(error.code).to.equal('LOGIN_FAILED');
      expect(error.errMsg).to.equal('login:fail auth cancel');
      expect((await loginError(client.request({ url: '/me' }))).code).to.equal('LOGIN_FAILED');
      expect(app.hits).to.have.length(0);
      expect(tt.loginOptions).to.deep.equal([{}, {}]);
      // Once the user logs into Douyin, the next login works, with the code.
      tt.isLogin = true;
      await client.login();
      expect(loginHits().map((hit) => hit.body)).to.deep.equal([{ code: 'ttcode1', anonymousCode: 'anon1' }]);
    });

    it('a user who logs out of Douyin becomes a guest at the next login (force: false)', async () => {
      const tt = createFakeTt({ code: counter('ttcode'), anonymousCode: counter('anon') });
      const client = createSessionClient({ baseUrl: app.url, wx: tt, force: false });
      await client.login();
      tt.isLogin = false;
      await client.login();
      expect(loginHits().map((hit) => hit.body)).to.deep.equal([{ code: 'ttcode1', anonymousCode: 'anon1' }, { anonymousCode: 'anon2' }]);
    });

    it('a login result with neither code nor anonymousCode is LOGIN_FAILED, and nothing is sent', async () => {
      const tt = createFakeTt({ code: counter('ttcode') });
      const broken: WxApi = { ...tt, login: (options) => setImmediate(() => options.success?.({ errMsg: 'login:ok', code: '', anonymousCode: '', isLogin: false })) };
      const client = createSessionClient({ baseUrl: app.url, wx: broken });
      const error = await loginError(client.login());
      expect(error.code).to.equal('LOGIN_FAILED');
      expect(error.message).to.match(/no code/);
      const failed = await loginError(client.request({ url: '/me' }));
      expect(failed.code).to.equal('LOGIN_FAILED');
      expect(app.hits).to.have.length(0);
    });

    it('tt.login failing is LOGIN_FAILED with its errMsg, as wx.login failing is', async () => {
      const tt = createFakeTt({ code: counter('ttcode') });
      tt.loginFails = 'login:fail network error';
      const client = createSessionClient({ baseUrl: app.url, wx: tt });
      const error = await loginError(client.login());
      expect(error.code).to.equal('LOGIN_FAILED');
      expect(error.errMsg).to.equal('login:fail network error');
      expect(app.hits).to.have.length(0);
    });

    it('a key refresh sends the code, never the anonymousCode, in X-WX-Code', async () => {
      const tt = createFakeTt({ code: counter('ttcode'), anonymousCode: counter('anon') });
      const client = createSessionClient({ baseUrl: app.url, wx: tt });
      await client.login();
      app.answer = (hit) => (hit.path === '/me' && hit.headers['x-wx-code'] === undefined ? { status: 401, body: { code: 'WX_SESSION_KEY_EXPIRED', message: 'stale' } } : undefined);
      const me = await client.request<{ token: string }>({ url: '/me' });
      expect(me.statusCode).to.equal(200);
      expect(me.data.token).to.equal('t1'); // the same session, repaired
      const [first, retry] = app.hitsTo('GET', '/me');
      expect(first!.headers).not.to.have.property('x-wx-code');
      expect(retry!.headers['x-wx-code']).to.equal('ttcode2');
      expect(loginHits()).to.have.length(1);
    });

    it('a key refresh that gets no code (the user is now a guest) is LOGIN_FAILED and sends no retry', async () => {
      const tt = createFakeTt({ code: counter('ttcode'), anonymousCode: counter('anon') });
      const client = createSessionClient({ baseUrl: app.url, wx: tt, force: false });
      await client.login();
      tt.isLogin = false;
      app.answer = (hit) => (hit.path === '/me' ? { status: 401, body: { code: 'WX_SESSION_KEY_EXPIRED', message: 'stale' } } : undefined);
      const error = await loginError(client.request({ url: '/me' }));
      expect(error.code).to.equal('LOGIN_FAILED');
      expect(tt.loginCalls).to.equal(2);
      expect(app.hitsTo('GET', '/me')).to.have.length(1);
      expect(client.token()).to.equal('t1'); // kept: the session itself was not refused
    });
  });

  describe('QQ (qq)', () => {
    it('logs in with { code } and X-WX-AppId, and requests carry the token, as with wx', async () => {
      const qq = createFakeQq({ code: counter('qqcode') });
      const client = createSessionClient({ baseUrl: app.url, wx: qq, appId: 'qqApp1' });
      const [a, b] = await Promise.all([client.request<{ token: string }>({ url: '/me' }), client.request<{ token: string }>({ url: '/me' })]);
      expect([a.data.token, b.data.token]).to.deep.equal(['t1', 't1']);
      expect(loginHits()).to.have.length(1);
      expect(loginHits()[0]!.body).to.deep.equal({ code: 'qqcode1' });
      expect(loginHits()[0]!.headers['x-wx-appid']).to.equal('qqApp1');
      expect(qq.loginOptions).to.deep.equal([{}]);
    });

    it('qq.login failing is LOGIN_FAILED with its errMsg', async () => {
      const qq: FakeWx = createFakeQq({ code: counter('qqcode') });
      qq.loginFails = 'login:fail timeout';
      const client = createSessionClient({ baseUrl: app.url, wx: qq, appId: 'qqApp1' });
      const error = await loginError(client.request({ url: '/me' }));
      expect(error.code).to.equal('LOGIN_FAILED');
      expect(error.errMsg).to.equal('login:fail timeout');
      expect(app.hits).to.have.length(0);
    });
  });

  describe('the fakes', () => {
    it('tt.login answers in Douyin\'s shape; a guest gets only anonymousCode', async () => {
      const login = (tt: FakeTt, force?: boolean) =>
        new Promise<unknown>((resolve, reject) => tt.login({ ...(force === undefined ? {} : { force }), success: resolve, fail: (error) => reject(new Error(error.errMsg)) }));
      const user = createFakeTt({ code: () => 'c1', anonymousCode: () => 'a1' });
      expect(await login(user)).to.deep.equal({ errMsg: 'login:ok', code: 'c1', anonymousCode: 'a1', isLogin: true });
      const guest = createFakeTt({});
      const answer = (await login(guest, false)) as Record<string, unknown>;
      expect(Object.keys(answer).sort()).to.deep.equal(['anonymousCode', 'errMsg', 'isLogin']);
      expect(answer.isLogin).to.equal(false);
      expect(answer.anonymousCode).to.be.a('string').and.not.equal('');
      await login(guest).then(
        () => expect.fail('a guest with force not false must fail'),
        (error: Error) => expect(error.message).to.equal('login:fail auth cancel'),
      );
    });

    it('qq.login answers { code }', async () => {
      const qq = createFakeQq({ code: () => Promise.resolve('q1') });
      const answer = await new Promise((resolve) => qq.login({ success: resolve }));
      expect(answer).to.deep.equal({ code: 'q1' });
    });
  });
});
