// The story the `npm start` demo (examples/demo.ts) tells, one step at a time, through
// wx-session/client on the player's fake `wx`: the first request logs in by itself; a score is
// saved in the session; WeChat user storage is written with a call signed with the session_key;
// the player logs in on a second device, so the session_key goes stale and the client repairs
// the session with X-WX-Code, keeping its token; logout, and the refused token afterwards.
// Each step checks what the server answered and throws when it is not what the protocol says;
// add a step to tell another story (examples/demo-runner.ts runs them).
import { signPayload } from 'wx-session';
import { shorten, showJson } from './demo-wx.js';
import { check, checkStatus, describeExchange, game, loggedIn, OPENID, request, TOKEN_STORAGE_KEY, type Step } from './demo-runner.js';

export const steps: readonly Step[] = [
  {
    title: 'The first request logs in by itself: client.request GET /me runs wx.login() and POST /wx/login first',
    async run(ctx) {
      const { wx, client } = game(ctx);
      check(client.token() === undefined, 'the game already holds a token');
      ctx.log("client.request({ url: '/me' }) with no token stored; under the hood:");
      const res = await client.request<{ openid?: unknown }>({ url: '/me' });
      const [login, me, ...more] = wx.exchanges;
      check(wx.logins === 1, `expected one wx.login(), got ${wx.logins}`);
      check(login?.method === 'POST' && login.path === '/wx/login' && login.status === 200, `expected POST /wx/login -> 200 first, got ${describeExchange(login)}`);
      check(me?.method === 'GET' && me.path === '/me' && me.status === 200 && !me.sentCode, `expected GET /me -> 200 next, got ${describeExchange(me)}`);
      check(more.length === 0, `unexpected requests: ${more.map(describeExchange).join(', ')}`);
      check(res.statusCode === 200, `client.request resolved ${res.statusCode}, not 200`);
      check(res.data.openid === OPENID, `GET /me answered openid ${String(res.data.openid)}, not ${OPENID}`);
      const token = client.token();
      check(token !== undefined && me.token === token, 'GET /me did not carry the token the login gave');
      check(wx.getStorageSync(TOKEN_STORAGE_KEY) === token, 'the client did not keep the token in wx storage');
      // WeChat gave the server a session_key for this player: it must not reach the game.
      const sessionKey = ctx.mock.sessionKeyOf(OPENID);
      const loginAnswer = JSON.stringify(login.data);
      check(sessionKey !== undefined && !loginAnswer.includes(sessionKey), 'the login answer leaked the session_key');
      check(!/session_?key/i.test(loginAnswer), 'the login answer mentions a session key');
      ctx.token = token;
      ctx.openid = OPENID;
      ctx.log(`client.request resolved 200: the server knows the player as openid ${OPENID}`);
      ctx.log('the client keeps the token in wx storage for the next requests; the session_key stays on the server');
    },
  },
  {
    title: 'Save a score: POST /me/score stores it in session.data, GET /me shows it',
    async run(ctx) {
      const { client } = loggedIn(ctx);
      ctx.log("client.request({ url: '/me/score', method: 'POST', data: { score: 4200 } })");
      const saved = await client.request<{ score?: unknown }>({ url: '/me/score', method: 'POST', data: { score: 4200 } });
      check(saved.statusCode === 200, `POST /me/score answered ${saved.statusCode}`);
      check(saved.data.score === 4200, 'POST /me/score did not answer the score');
      ctx.log("client.request({ url: '/me' })");
      const me = await client.request<{ data?: { score?: unknown } }>({ url: '/me' });
      check(me.statusCode === 200, `GET /me answered ${me.statusCode}`);
      check(me.data.data?.score === 4200, 'GET /me does not show the saved score');
      ctx.log('saved: session.data.score is 4200 in the session store; no new login was needed');
    },
  },
  {
    title: "Write WeChat user storage: POST /me/storage makes a call to WeChat signed with the session_key",
    async run(ctx) {
      const { client } = loggedIn(ctx);
      ctx.log("client.request({ url: '/me/storage', method: 'POST', data: { key: 'best', value: 4200 } })");
      const res = await client.request({ url: '/me/storage', method: 'POST', data: { key: 'best', value: 4200 } });
      check(res.statusCode === 204, `POST /me/storage answered ${res.statusCode} ${showJson(res.data)}`);
      const stored = ctx.mock.userStorage(OPENID);
      check(stored.best === '4200', `WeChat's user storage holds ${JSON.stringify(stored)}`);
      ctx.log(`WeChat's user storage for the player, mock.userStorage(openid): ${JSON.stringify(stored)}`);

      const signed = ctx.mock.callsTo('/wxa/set_user_storage').at(-1);
      check(signed !== undefined && signed.errcode === 0, 'WeChat got no successful set_user_storage call');
      const { openid, sig_method: sigMethod, signature } = signed.query;
      check(signed.body !== undefined, 'the set_user_storage call has no body');
      check(openid === OPENID, `the signed call names openid ${String(openid)}`);
      check(sigMethod === 'hmac_sha256', `the signed call has sig_method ${String(sigMethod)}`);
      check(typeof signature === 'string' && /^[0-9a-f]{64}$/.test(signature), 'the signed call has no hex signature');
      // The demo can check the signature because the mock knows the key; it does not print it.
      const sessionKey = ctx.mock.sessionKeyOf(OPENID);
      check(sessionKey !== undefined && signature === signPayload(signed.body, sessionKey), 'the signature is not hmac_sha256(session_key, body)');
      ctx.log(`the call in the mock's log: POST /wxa/set_user_storage  ${signed.body}`);
      ctx.log(`   query: openid=${openid}  sig_method=${sigMethod}  signature=${shorten(signature)}  (access_token not shown)`);
      ctx.log('signature = hex(hmac_sha256(session_key, body)), made on the server: checked; the session_key never left it');
    },
  },
  {
    title: 'The game logs in on a second device: the stale session_key is repaired with X-WX-Code, and the token stays the same',
    async run(ctx) {
      const { wx, client, token } = loggedIn(ctx);
      const before = client.token();
      check(before === token, 'the client holds another token than the one it logged in with');
      ctx.mock.rotateSessionKey(OPENID);
      ctx.log("mock.rotateSessionKey(openid): WeChat gave the player a new session_key, as a wx.login() on another device does;");
      ctx.log('the server still holds the old one, and checks it with WeChat on every request in this demo');
      const seen = wx.exchanges.length;
      const logins = wx.logins;
      ctx.log("client.request({ url: '/me' }); under the hood:");
      const res = await client.request<{ data?: { score?: unknown } }>({ url: '/me' });
      const [refused, retried, ...more] = wx.exchanges.slice(seen);
      check(
        refused?.path === '/me' && refused.status === 401 && refused.errorCode === 'WX_SESSION_KEY_EXPIRED' && !refused.sentCode,
        `expected GET /me -> 401 WX_SESSION_KEY_EXPIRED first, got ${describeExchange(refused)}`,
      );
      check(wx.logins === logins + 1, `expected one wx.login() for a fresh code, got ${wx.logins - logins}`);
      check(retried?.path === '/me' && retried.sentCode && retried.status === 200, `expected the retry GET /me with X-WX-Code -> 200, got ${describeExchange(retried)}`);
      check(more.length === 0, `expected one retry only, also got ${more.map(describeExchange).join(', ')}`);
      check(res.statusCode === 200, `client.request resolved ${res.statusCode}, not 200`);
      check(res.data.data?.score === 4200, 'the repaired session lost its data');
      const after = client.token();
      check(after !== undefined && after === before && retried.token === before, 'the token changed: the session was not repaired in place');
      ctx.log(`same token: before ${shorten(before)}, after ${shorten(after)}`);
      ctx.log('the server redeemed the code, found the same openid and swapped in the new session_key:');
      ctx.log('no new login, same session, session.data kept (score 4200)');
    },
  },
  {
    title: 'Log out with client.logout(), then the old token is refused: 401 WX_SESSION_EXPIRED',
    async run(ctx) {
      const { wx, client, token } = loggedIn(ctx);
      const seen = wx.exchanges.length;
      ctx.log('client.logout(); under the hood:');
      await client.logout();
      const [out, ...more] = wx.exchanges.slice(seen);
      check(out?.method === 'POST' && out.path === '/wx/logout' && out.status === 204 && out.token === token, `expected POST /wx/logout with the token -> 204, got ${describeExchange(out)}`);
      check(more.length === 0, `unexpected requests: ${more.map(describeExchange).join(', ')}`);
      check(client.token() === undefined && wx.getStorageSync(TOKEN_STORAGE_KEY) === '', 'the client still holds the token');
      ctx.log('the server destroyed the session; the client forgot the token (wx storage cleared)');
      ctx.log('the old token, sent by hand with fetch (the client no longer has it):');
      const answer = await request(ctx, 'GET', '/me', { token });
      checkStatus(answer, 401);
      check(answer.json.code === 'WX_SESSION_EXPIRED', `expected WX_SESSION_EXPIRED, got ${String(answer.json.code)}`);
      const challenge = answer.headers.get('www-authenticate');
      check(challenge?.includes('error="invalid_token"'), `unexpected WWW-Authenticate: ${String(challenge)}`);
      ctx.log(`WWW-Authenticate: ${challenge}`);
      ctx.log('on a 401 WX_SESSION_* answer, client.request calls wx.login() again and retries once');
      ctx.token = undefined;
    },
  },
];
