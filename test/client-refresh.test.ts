// wx-session/client, one refresh per session (docs/session-key.md, "The rules"): requests of one
// token that meet WX_SESSION_KEY_EXPIRED together share one wx.login(). The first one's retry
// carries the fresh code (X-WX-Code) and repairs the session in place; the others wait for that
// retry to settle and retry once without a code. Real HTTP: the fake `wx` in front of the Express
// example server in front of the mock WeChat (test/support/client.ts).
import { expect } from 'chai';
import { createSessionClient, SessionClientError, type SessionClient, type SessionResponse, type WxRequestOptions, type WxRequestSuccess } from 'wx-session/client';
import { fakeWx, startGameServer, type FakeWx, type GameServer } from './support/client.js';

const KEY = 'wx-session-token';
const OPENID = 'oClientRefreshUser0000000001';
const N = 50;

/** Fails (instead of hanging until mocha's timeout) when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('wx-session/client: one key refresh for concurrent requests', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;
  let token: string;

  const code2Sessions = () => app.mock.callsTo('/sns/jscode2session').length;
  const me = () => app.hitsTo('GET', '/me');
  const withCode = () => me().filter((hit) => hit.headers['x-wx-code'] !== undefined);

  beforeEach(async () => {
    // interval 0: every request checks its session_key, so a rotated key is seen at once.
    app = await startGameServer({ checkSessionKey: { interval: 0 } });
    wx = fakeWx(app.mock, OPENID);
    client = createSessionClient({ baseUrl: app.url, wx });
    await client.login();
    token = client.token()!;
    expect(wx.loginCalls).to.equal(1);
    expect(code2Sessions()).to.equal(1);
  });

  afterEach(async () => {
    await app.close();
  });

  /** `N` requests of /me at once, each settled (an answer or the error it rejected with). */
  function burst(n = N): Promise<Array<SessionResponse<{ openid?: string; code?: string }> | SessionClientError>> {
    const all = Array.from({ length: n }, () =>
      client.request<{ openid?: string; code?: string }>({ url: '/me' }).catch((error: unknown) => error as SessionClientError),
    );
    return within(Promise.all(all), 8000, `${n} concurrent requests`);
  }

  it('50 concurrent requests on a rotated session_key make one wx.login and one code2Session, and keep the token', async () => {
    app.mock.rotateSessionKey(OPENID);
    const answers = await burst();

    for (const res of answers) {
      expect(res).to.not.be.instanceOf(Error);
      const ok = res as SessionResponse<{ openid?: string }>;
      expect(ok.statusCode).to.equal(200);
      expect(ok.data.openid).to.equal(OPENID);
    }
    expect(wx.loginCalls).to.equal(2); // the first login, and one wx.login for the refresh code
    expect(code2Sessions()).to.equal(2); // the first login, and one redemption of that code
    expect(app.hitsTo('POST', '/wx/login')).to.have.length(1); // repaired in place: no new login
    expect(client.token()).to.equal(token);
    expect(wx.storage.get(KEY)).to.equal(token);

    const hits = me();
    expect(hits.every((hit) => hit.headers['x-wx-session'] === token)).to.equal(true);
    expect(withCode()).to.have.length(1); // one code, sent once
    expect(hits.length).to.be.within(N + 1, 2 * N); // at most one retry per request

    // Repaired: the next requests go straight through, without a code or a login.
    expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
    expect(me()).to.have.length(hits.length + 1);
    expect(wx.loginCalls).to.equal(2);
  });

  it('the same for uploadFile and request mixed', async () => {
    wx.files.set('wxfile://tmp/a.txt', Buffer.from('a'));
    app.mock.rotateSessionKey(OPENID);
    const all = await within(
      Promise.all([
        ...Array.from({ length: 10 }, () => client.request({ url: '/me' })),
        ...Array.from({ length: 10 }, () => client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/a.txt', name: 'file' })),
      ]),
      8000,
      'the mixed burst',
    );
    expect(all.map((res) => res.statusCode)).to.deep.equal(Array(20).fill(200));
    expect(wx.loginCalls).to.equal(2);
    expect(code2Sessions()).to.equal(2);
    const coded = app.hits.filter((hit) => hit.headers['x-wx-code'] !== undefined);
    expect(coded).to.have.length(1);
    expect(client.token()).to.equal(token);
  });

  it('when the shared refresh code is refused, every request resolves with its server answer and the token is kept', async () => {
    app.mock.rotateSessionKey(OPENID);
    wx.codeOptions = { errcode: 40029 }; // WeChat refuses the code: 401 WX_CODE_INVALID
    const answers = await burst();

    expect(wx.loginCalls).to.equal(2);
    expect(code2Sessions()).to.equal(2); // the refused code was tried once, by one request
    expect(withCode()).to.have.length(1);
    const codes = answers.map((res) => {
      expect(res).to.not.be.instanceOf(Error);
      const answer = res as SessionResponse<{ code?: string }>;
      expect(answer.statusCode).to.equal(401);
      return answer.data.code;
    });
    // The request that carried the code gets WeChat's refusal; the others, retried without a
    // code on a session still stale, get WX_SESSION_KEY_EXPIRED again (no second retry).
    expect(codes.filter((code) => code === 'WX_CODE_INVALID')).to.have.length(1);
    expect(codes.filter((code) => code === 'WX_SESSION_KEY_EXPIRED')).to.have.length(N - 1);
    expect(me().length).to.be.within(N + 1, 2 * N);
    expect(client.token()).to.equal(token); // neither answer means the token is bad

    // Nothing is left over: once codes are good again, the next burst repairs with one wx.login.
    wx.codeOptions = undefined;
    const again = await burst(10);
    expect(again.map((res) => (res as SessionResponse).statusCode)).to.deep.equal(Array(10).fill(200));
    expect(wx.loginCalls).to.equal(3);
    expect(code2Sessions()).to.equal(3);
    expect(client.token()).to.equal(token);
  });

  it('when wx.login fails during the shared refresh, one request rejects and the others resolve, none hangs', async () => {
    app.mock.rotateSessionKey(OPENID);
    wx.loginFails = 'login:fail no network';
    const answers = await burst();

    expect(wx.loginCalls).to.equal(2);
    expect(code2Sessions()).to.equal(1);
    expect(withCode()).to.have.length(0);
    const failed = answers.filter((res): res is SessionClientError => res instanceof Error);
    expect(failed).to.have.length(1);
    expect(failed[0]).to.be.instanceOf(SessionClientError);
    expect(failed[0]!.code).to.equal('LOGIN_FAILED');
    expect(failed[0]!.errMsg).to.equal('login:fail no network');
    const others = answers.filter((res): res is SessionResponse<{ code?: string }> => !(res instanceof Error));
    expect(others).to.have.length(N - 1);
    for (const res of others) {
      expect(res.statusCode).to.equal(401);
      expect(res.data.code).to.equal('WX_SESSION_KEY_EXPIRED');
    }
    expect(client.token()).to.equal(token);
    // (The root hook in test/support/setup.ts fails this test on any unhandled rejection.)
  });

  it('a KEY_EXPIRED answer that arrives after the refresh ended retries without a code, not with a new wx.login', async () => {
    app.mock.rotateSessionKey(OPENID);
    // Hold the answer of the first /me?late request until the other request's refresh is over.
    let release!: () => void;
    let arrived!: () => void;
    const lateAnswered = new Promise<void>((resolve) => (arrived = resolve));
    let heldOnce = false;
    const send = wx.request.bind(wx);
    wx.request = (options: WxRequestOptions) => {
      if (!heldOnce && options.url.endsWith('/me?late=1')) {
        heldOnce = true;
        const success = options.success!;
        options.success = (result: WxRequestSuccess) => {
          release = () => success(result);
          arrived();
        };
      }
      return send(options);
    };

    const late = client.request<{ openid?: string; code?: string }>({ url: '/me?late=1' });
    await within(lateAnswered, 5000, 'the late request\'s first answer'); // answered 401 by now, held
    const first = await within(client.request<{ openid?: string }>({ url: '/me' }), 5000, 'the refreshing request');
    expect(first.statusCode).to.equal(200);
    expect(wx.loginCalls).to.equal(2);
    expect(withCode()).to.have.length(1);

    release();
    const res = await within(late, 5000, 'the late request');
    expect(res.statusCode).to.equal(200);
    expect(res.data.openid).to.equal(OPENID);
    expect(wx.loginCalls).to.equal(2);
    expect(code2Sessions()).to.equal(2);
    expect(withCode()).to.have.length(1);
    expect(me()).to.have.length(4); // late, first, first's retry with the code, late's retry without
    expect(client.token()).to.equal(token);
  });

  it('a request sent after a refresh ended that meets KEY_EXPIRED again refreshes again (one wx.login)', async () => {
    app.mock.rotateSessionKey(OPENID);
    expect((await client.request({ url: '/me' })).statusCode).to.equal(200);
    expect(wx.loginCalls).to.equal(2);
    app.mock.rotateSessionKey(OPENID);
    const answers = await burst(5);
    expect(answers.map((res) => (res as SessionResponse).statusCode)).to.deep.equal(Array(5).fill(200));
    expect(wx.loginCalls).to.equal(3);
    expect(code2Sessions()).to.equal(3);
    expect(withCode()).to.have.length(2);
    expect(client.token()).to.equal(token);
  });
});
