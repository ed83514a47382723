// wx-session/client end to end: the client with a fake `wx` doing real HTTP to the Express example
// server (examples/express/server.ts), with the mock WeChat behind it. The last block runs the
// BUILT files (dist/, ES2017, ESM and CommonJS) through the same story.
import { createRequire } from 'node:module';
import { expect } from 'chai';
import express from 'express';
import { wxSession } from 'wx-session/express';
import { createSessionClient, SessionClientError, type SessionClient } from 'wx-session/client';
import { createWxSession, MemoryStore } from '../src/index.js';
import { startMockWeChat } from '../src/testing/index.js';
import { coreOptions, listen, closeServer, OLD_SECRET, SECRET } from './helpers.js';
import { fakeWx, startGameServer, type FakeWx, type GameServer } from './support-client.js';

// The example is plain JavaScript (as a game's game.js is): loaded untyped, described here.
interface Game {
  loadProfile(): Promise<{ openid: string; data: { score?: number } }>;
  submitScore(score: number): Promise<number>;
  quit(): Promise<void>;
}
interface GameModule {
  createGame(options: { wx: unknown; baseUrl?: string; notify?: (text: string) => void }): Game;
  playRound(game: Game, score: number): Promise<{ openid: string; best: number; before: number | undefined }>;
}
const loadGame = async () => (await import('../examples/minigame/game.js' as string)) as GameModule;

const KEY = 'wx-session-token';
const OPENID = 'oClientTestUser0000000000001';

describe('wx-session/client', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;

  /** A new server (closing the default one) with these core options. */
  async function restart(extra: Parameters<typeof startGameServer>[0]) {
    await app.close();
    app = await startGameServer(extra);
    wx = fakeWx(app.mock, OPENID);
    client = createSessionClient({ baseUrl: app.url, wx });
  }

  const logins = () => app.hitsTo('POST', '/wx/login').length;
  const code2Sessions = () => app.mock.callsTo('/sns/jscode2session').length;

  beforeEach(async () => {
    app = await startGameServer();
    wx = fakeWx(app.mock, OPENID);
    client = createSessionClient({ baseUrl: app.url, wx });
  });

  afterEach(async () => {
    await app.close();
  });

  describe('options', () => {
    it('needs a baseUrl and a wx object', () => {
      expect(() => createSessionClient({ wx } as never)).to.throw(TypeError, /^wx-session\/client: baseUrl/);
      expect(() => createSessionClient({ baseUrl: 'http://x' })).to.throw(TypeError, /no wx object/);
      expect(() => createSessionClient({ baseUrl: 'http://x', wx, loginPath: 'wx/login' })).to.throw(TypeError, /loginPath/);
    });
  });

  describe('request', () => {
    it('logs in first when there is no token, then sends X-WX-Session', async () => {
      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      expect(wx.loginCalls).to.equal(1);
      expect(logins()).to.equal(1);
      const token = wx.storage.get(KEY);
      expect(token).to.be.a('string').and.not.equal('');
      expect(client.token()).to.equal(token);
      const [me] = app.hitsTo('GET', '/me');
      expect(me!.headers['x-wx-session']).to.equal(token);
      expect(me!.headers['x-wx-code']).to.equal(undefined);
      // The next request reuses the token.
      await client.request({ url: '/me' });
      expect(logins()).to.equal(1);
    });

    it('makes exactly one login for 10 concurrent requests', async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/me' })));
      expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(10).fill(200));
      expect(wx.loginCalls).to.equal(1);
      expect(logins()).to.equal(1);
      expect(code2Sessions()).to.equal(1);
      expect(new Set(app.hitsTo('GET', '/me').map((hit) => hit.headers['x-wx-session'])).size).to.equal(1);
    });

    it('sends method, data and the caller\'s headers (its own session header cannot override)', async () => {
      await client.login();
      const token = client.token();
      const res = await client.request<{ score: number }>({ url: 'me/score', method: 'POST', data: { score: 7 }, header: { 'X-Game': 'yes', 'x-wx-session': 'forged' } });
      expect(res.statusCode).to.equal(200);
      expect(res.data.score).to.equal(7);
      const [hit] = app.hitsTo('POST', '/me/score');
      expect(hit!.headers['x-game']).to.equal('yes');
      expect(hit!.headers['x-wx-session']).to.equal(token);
      const me = await client.request<{ data: { score: number } }>({ url: '/me' });
      expect(me.data.data.score).to.equal(7);
    });

    it('logs in once more and succeeds when the server session was destroyed', async () => {
      await client.request({ url: '/me' });
      const first = wx.storage.get(KEY) as string;
      // Destroy the server session behind the client's back (as another device's logout would).
      const out = await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': first } });
      expect(out.status).to.equal(204);

      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      expect(logins()).to.equal(2);
      expect(wx.loginCalls).to.equal(2);
      const second = wx.storage.get(KEY);
      expect(second).to.be.a('string').and.not.equal(first);
      const hits = app.hitsTo('GET', '/me');
      expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([first, first, second]);
    });

    it('re-logs in once for many concurrent requests refused with WX_SESSION_EXPIRED', async () => {
      await client.login();
      await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': client.token()! } });
      const answers = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/me' })));
      expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(5).fill(200));
      expect(logins()).to.equal(2);
    });

    it('refreshes a rotated session_key (87009) with X-WX-Code, keeping the same token', async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      await client.request({ url: '/me' });
      const token = wx.storage.get(KEY);
      const callsBefore = code2Sessions();
      app.mock.rotateSessionKey(OPENID);

      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      expect(wx.storage.get(KEY)).to.equal(token);
      expect(logins()).to.equal(1); // no new login: the session was repaired in place
      expect(wx.loginCalls).to.equal(2); // one wx.login for the code
      expect(code2Sessions()).to.equal(callsBefore + 1);
      const hits = app.hitsTo('GET', '/me').slice(1);
      expect(hits).to.have.length(2);
      expect(hits[0]!.headers['x-wx-code']).to.equal(undefined);
      expect(hits[1]!.headers['x-wx-code']).to.be.a('string');
      expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([token, token]);
      // Repaired: the next request goes straight through.
      expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
      expect(app.hitsTo('GET', '/me')).to.have.length(4);
      expect(app.hitsTo('GET', '/me').at(-1)!.headers['x-wx-code']).to.equal(undefined);
    });

    it('repairs a rotated session_key for concurrent requests with one wx.login, each retrying at most once', async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      await client.login();
      const token = client.token();
      const callsBefore = code2Sessions();
      app.mock.rotateSessionKey(OPENID);
      const answers = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/me' })));
      expect(answers.map((res) => res.statusCode)).to.deep.equal(Array(5).fill(200));
      expect(client.token()).to.equal(token);
      expect(logins()).to.equal(1);
      expect(wx.loginCalls).to.equal(2); // the login, and one wx.login shared by the key refresh
      expect(code2Sessions()).to.equal(callsBefore + 1);
      const me = app.hitsTo('GET', '/me');
      expect(me.length).to.be.within(6, 10);
      expect(me.filter((hit) => hit.headers['x-wx-code'] !== undefined)).to.have.length(1);
    });

    it('reuses a stored token in a new client (a relaunched game) without logging in', async () => {
      await client.request({ url: '/me' });
      const relaunched = createSessionClient({ baseUrl: app.url, wx: fakeWx(app.mock, OPENID, wx.storage) });
      const res = await relaunched.request({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(logins()).to.equal(1);
    });

    it('picks up a token another client stored after it was created', async () => {
      const other = createSessionClient({ baseUrl: app.url, wx });
      const sameDevice = fakeWx(app.mock, OPENID, wx.storage);
      const late = createSessionClient({ baseUrl: app.url, wx: sameDevice });
      await other.login();
      const res = await late.request({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(sameDevice.loginCalls).to.equal(0);
      expect(logins()).to.equal(1);
    });

    it('stores the token of an X-WX-Session-Token answer (re-issued under a new secret)', async () => {
      const store = new MemoryStore();
      await restart({ secret: [SECRET, OLD_SECRET], store });
      // A session that was created while the server still signed with the old secret.
      const before = createWxSession(coreOptions(app.mock, { secret: OLD_SECRET, store }));
      const { token: old } = await before.login(app.mock.issueCode(OPENID));
      wx.storage.set(KEY, old);

      const res = await client.request<{ openid: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(200);
      expect(res.data.openid).to.equal(OPENID);
      // The fake wx hands header names over title-cased: the client reads them in any case.
      const reissued = res.header['X-Wx-Session-Token'];
      expect(reissued).to.be.a('string').and.not.equal(old);
      expect(wx.storage.get(KEY)).to.equal(reissued);
      expect(client.token()).to.equal(reissued);

      await client.request({ url: '/me' });
      const hits = app.hitsTo('GET', '/me');
      expect(hits.map((hit) => hit.headers['x-wx-session'])).to.deep.equal([old, reissued]);
      expect(logins()).to.equal(0);
    });

    it('returns a 500 and keeps the session', async () => {
      await client.login();
      const token = client.token();
      const res = await client.request<{ code: string }>({ url: '/boom' });
      expect(res.statusCode).to.equal(500);
      expect(res.data.code).to.equal('INTERNAL_ERROR');
      expect(app.hitsTo('GET', '/boom')).to.have.length(1);
      expect(wx.storage.get(KEY)).to.equal(token);
      expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
      expect(logins()).to.equal(1);
    });

    it('returns a second 401 after the retry instead of retrying again, and forgets that token', async () => {
      await client.login();
      const res = await client.request<{ code: string }>({ url: '/always-401' });
      expect(res.statusCode).to.equal(401);
      expect(res.data.code).to.equal('WX_SESSION_EXPIRED');
      expect(app.hitsTo('GET', '/always-401')).to.have.length(2);
      expect(logins()).to.equal(2); // the first, and one re-login
      expect(wx.storage.has(KEY)).to.equal(false);
    });

    it('returns the 401 of a key refresh with another user\'s code, then logs that user in next time', async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      await client.login();
      app.mock.rotateSessionKey(OPENID);
      wx.openid = 'oClientTestOtherUser00000002'; // the phone's WeChat account changed
      const res = await client.request<{ code: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(401);
      expect(res.data.code).to.equal('WX_SESSION_INVALID');
      expect(app.hitsTo('GET', '/me')).to.have.length(2);
      expect(logins()).to.equal(1);
      expect(wx.storage.has(KEY)).to.equal(false);

      const next = await client.request<{ openid: string }>({ url: '/me' });
      expect(next.statusCode).to.equal(200);
      expect(next.data.openid).to.equal('oClientTestOtherUser00000002');
    });

    it('surfaces 429 WX_RATE_LIMITED from the login with its Retry-After, without retrying', async () => {
      wx.codeOptions = { errcode: 45011 };
      const res = await client.request<{ code: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(429);
      expect(res.data.code).to.equal('WX_RATE_LIMITED');
      expect(res.header['Retry-After']).to.equal('60');
      expect(logins()).to.equal(1);
      expect(code2Sessions()).to.equal(1);
      expect(app.hitsTo('GET', '/me')).to.have.length(0);
      expect(wx.storage.has(KEY)).to.equal(false);

      const error = await client.login().then(
        () => expect.fail('login should fail'),
        (e: unknown) => e as SessionClientError,
      );
      expect(error).to.be.instanceOf(SessionClientError).and.instanceOf(Error);
      expect(error.code).to.equal('WX_RATE_LIMITED');
      expect(error.statusCode).to.equal(429);
      expect(error.retryAfter).to.equal(60);
      expect(logins()).to.equal(2);
    });

    it('surfaces 429 WX_RATE_LIMITED from a key refresh once, keeping the token', async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      await client.login();
      const token = client.token();
      app.mock.rotateSessionKey(OPENID);
      wx.codeOptions = { errcode: 45011 };
      const res = await client.request<{ code: string }>({ url: '/me' });
      expect(res.statusCode).to.equal(429);
      expect(res.data.code).to.equal('WX_RATE_LIMITED');
      expect(res.header['Retry-After']).to.equal('60');
      expect(app.hitsTo('GET', '/me')).to.have.length(2);
      expect(logins()).to.equal(1);
      expect(wx.storage.get(KEY)).to.equal(token);
    });

    it('rejects on a network failure and keeps the token', async () => {
      await client.login();
      const token = client.token();
      const error = await client.request({ url: '/reset' }).then(
        () => expect.fail('should reject'),
        (e: unknown) => e as SessionClientError,
      );
      expect(error).to.be.instanceOf(SessionClientError);
      expect(error.code).to.equal('NETWORK_ERROR');
      expect(error.errMsg).to.match(/^request:fail/);
      expect(wx.storage.get(KEY)).to.equal(token);
      expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
      expect(logins()).to.equal(1);
    });

    it('rejects when wx.login fails, and when the server cannot be reached', async () => {
      wx.loginFails = 'login:fail no network';
      const failed = await client.request({ url: '/me' }).then(() => null, (e: unknown) => e as SessionClientError);
      expect(failed?.code).to.equal('LOGIN_FAILED');
      expect(failed?.errMsg).to.equal('login:fail no network');
      expect(logins()).to.equal(0);

      const { server, url } = await listen((_req, res) => res.end());
      await closeServer(server);
      const offline = createSessionClient({ baseUrl: url, wx: fakeWx(app.mock, OPENID) });
      const error = await offline.request({ url: '/me' }).then(() => null, (e: unknown) => e as SessionClientError);
      expect(error?.code).to.equal('NETWORK_ERROR');
    });
  });

  describe('uploadFile', () => {
    beforeEach(() => {
      wx.files.set('wxfile://tmp/replay.txt', Buffer.from('replay of round 3'));
    });

    it('logs in first, sends the file with the token, and resolves with the text answer', async () => {
      const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay', formData: { round: 3 } });
      expect(res.statusCode).to.equal(200);
      expect(res.data).to.be.a('string');
      const body = JSON.parse(res.data) as { openid: string; parts: Record<string, { filename?: string; content: string }> };
      expect(body.openid).to.equal(OPENID);
      expect(body.parts.replay).to.deep.equal({ filename: 'replay.txt', content: 'replay of round 3' });
      expect(body.parts.round).to.deep.equal({ content: '3' });
      expect(logins()).to.equal(1);
      expect(app.hitsTo('POST', '/upload')[0]!.headers['x-wx-session']).to.equal(client.token());
    });

    it('reads the error code from the text answer: re-logs in after a destroyed session', async () => {
      await client.login();
      await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': client.token()! } });
      const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
      expect(res.statusCode).to.equal(200);
      expect(JSON.parse(res.data).parts.replay.content).to.equal('replay of round 3');
      expect(app.hitsTo('POST', '/upload')).to.have.length(2);
      expect(logins()).to.equal(2);
    });

    it('refreshes a rotated session_key with X-WX-Code', async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      wx.files.set('wxfile://tmp/replay.txt', Buffer.from('replay of round 3'));
      await client.login();
      const token = client.token();
      app.mock.rotateSessionKey(OPENID);
      const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
      expect(res.statusCode).to.equal(200);
      const hits = app.hitsTo('POST', '/upload');
      expect(hits.map((hit) => hit.headers['x-wx-code'] !== undefined)).to.deep.equal([false, true]);
      expect(client.token()).to.equal(token);
      expect(logins()).to.equal(1);
    });

    it('resolves with the login answer as text when the implicit login is refused', async () => {
      wx.codeOptions = { errcode: 45011 };
      const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
      expect(res.statusCode).to.equal(429);
      expect(JSON.parse(res.data).code).to.equal('WX_RATE_LIMITED');
      expect(app.hitsTo('POST', '/upload')).to.have.length(0);
    });
  });

  describe('login and logout', () => {
    it('login() resolves with the login answer and stores the token; concurrent calls share it', async () => {
      const [a, b] = await Promise.all([client.login(), client.login()]);
      expect(a).to.equal(b);
      expect(a.openid).to.equal(OPENID);
      expect(a.expiresIn).to.be.a('number');
      expect(wx.storage.get(KEY)).to.equal(a.token);
      expect(logins()).to.equal(1);
    });

    it('logout() ends the server session and clears storage', async () => {
      await client.login();
      const token = client.token()!;
      await client.logout();
      expect(wx.storage.has(KEY)).to.equal(false);
      expect(client.token()).to.equal(undefined);
      const [hit] = app.hitsTo('POST', '/wx/logout');
      expect(hit!.headers['x-wx-session']).to.equal(token);
      const after = await fetch(`${app.url}/me`, { headers: { 'X-WX-Session': token } });
      expect(after.status).to.equal(401);
      // With no token, logout sends nothing.
      await client.logout();
      expect(app.hitsTo('POST', '/wx/logout')).to.have.length(1);
    });

    it('logout() clears storage even when the network fails', async () => {
      await client.login();
      const { server, url } = await listen((_req, res) => res.end());
      await closeServer(server);
      const offline = createSessionClient({ baseUrl: url, wx });
      await offline.logout();
      expect(wx.storage.has(KEY)).to.equal(false);
    });

    it('uses storageKey, loginPath and logoutPath', async () => {
      const mock = await startMockWeChat();
      const server = express();
      server.use(wxSession(coreOptions(mock), { loginPath: '/game/login', logoutPath: '/game/logout' }));
      server.get('/ping', (req, res) => res.json({ openid: req.wxSession?.openid ?? null }));
      const { server: http, url } = await listen(server);
      try {
        const device = fakeWx(mock, OPENID);
        const custom = createSessionClient({ baseUrl: `${url}/`, wx: device, loginPath: '/game/login', logoutPath: '/game/logout', storageKey: 'my-token' });
        await custom.login();
        expect(device.storage.get('my-token')).to.equal(custom.token());
        expect((await custom.request<{ openid: string }>({ url: '/ping' })).data.openid).to.equal(OPENID);
        await custom.logout();
        expect(device.storage.has('my-token')).to.equal(false);
      } finally {
        await closeServer(http);
        await mock.close();
      }
    });
  });

  describe('the built files (dist/)', () => {
    const builds = {
      esm: async () => (await import('../dist/esm/src/client/index.js' as string)) as typeof import('wx-session/client'),
      cjs: async () => createRequire(import.meta.url)('../dist/cjs/src/client/index.js') as typeof import('wx-session/client'),
    };
    for (const [format, load] of Object.entries(builds)) {
      it(`${format}: logs in, repairs a destroyed session and a stale key, logs out`, async () => {
        await restart({ checkSessionKey: { interval: 0 } });
        const built = await load();
        const game = built.createSessionClient({ baseUrl: app.url, wx });
        expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
        await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': game.token()! } });
        expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
        expect(logins()).to.equal(2);
        const token = game.token();
        app.mock.rotateSessionKey(OPENID);
        expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
        expect(game.token()).to.equal(token);
        expect(app.hitsTo('GET', '/me').at(-1)!.headers['x-wx-code']).to.be.a('string');
        await game.logout();
        expect(wx.storage.has(KEY)).to.equal(false);
        wx.codeOptions = { errcode: 45011 };
        const error = await game.login().then(() => null, (e: unknown) => e);
        expect(error).to.be.instanceOf(built.SessionClientError);
      });
    }
  });

  describe('examples/minigame/game.js', () => {
    let createGame: GameModule['createGame'];
    let playRound: GameModule['playRound'];
    before(async () => {
      ({ createGame, playRound } = await loadGame());
    });

    it('plays a round against the Express example and quits', async () => {
      const told: string[] = [];
      const game = createGame({ wx, baseUrl: app.url, notify: (text: string) => told.push(text) });
      const first = await playRound(game, 42);
      expect(first).to.deep.equal({ openid: OPENID, best: 42, before: undefined });
      const second = await playRound(game, 10);
      expect(second.best).to.equal(42);
      expect(logins()).to.equal(1);
      await game.quit();
      expect(wx.storage.has(KEY)).to.equal(false);
      expect(told).to.deep.equal([]);
    });

    it('tells the player to wait when WeChat rate-limits the login', async () => {
      const told: string[] = [];
      wx.codeOptions = { errcode: 45011 };
      const game = createGame({ wx, baseUrl: app.url, notify: (text: string) => told.push(text) });
      const error = await game.loadProfile().then(() => null, (e: unknown) => e as { statusCode: number });
      expect(error?.statusCode).to.equal(429);
      expect(told).to.deep.equal(['Too many attempts, try again in 60 s']);
    });
  });
});
