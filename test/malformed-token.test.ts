// Tokens that are missing, malformed, tampered with, foreign or unknown (README.md, "Errors"):
// each gets its exact code and WWW-Authenticate error, never a 500, never a session; on an
// optional route (app.use(wx) only) the request goes on and the reason is kept.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { adapters, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { INVALID_REQUEST, INVALID_TOKEN, expectErrorBody, forgeToken, rawRequest } from './support/wire.js';
import { startFor } from './support/hooks.js';

const OTHER_SECRET = 'someone-elses-secret-0123456789abcdef';

/** Changes one character of the signature part (after the last '.'). */
function flipSignatureChar(token: string): string {
  const at = token.lastIndexOf('.') + 5;
  const c = token[at]!;
  return token.slice(0, at) + (c === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

for (const name of adapters) describe(`malformed token (${name})`, () => {
  let app: TestApp;
  let token: string;
  startFor('block', async () => (app = await startApp(name)));
  before(async () => ({ token } = await app.login('oTokenOwner')));

  /** GET /me with X-WX-Session: value; checks status 401, code and WWW-Authenticate. */
  async function expect401(value: string, code: string, challenge: string) {
    const res = await app.http.get('/me').set('X-WX-Session', value);
    expect(res.status).to.equal(401);
    expectErrorBody(res.body, code);
    expect(res.headers['www-authenticate']).to.equal(challenge);
    expect(res.headers['cache-control']).to.equal('no-store');
    return res;
  }

  it('(control) the untouched token is accepted', async () => {
    const res = await app.http.get('/me').set('X-WX-Session', token);
    expect(res.status).to.equal(200);
    expect(res.body.openid).to.equal('oTokenOwner');
  });

  it('no header: WX_SESSION_MISSING, invalid_request', async () => {
    const res = await app.http.get('/me');
    expect(res.status).to.equal(401);
    expectErrorBody(res.body, 'WX_SESSION_MISSING');
    expect(res.headers['www-authenticate']).to.equal(INVALID_REQUEST);
  });

  it('an empty X-WX-Session header: WX_SESSION_MISSING, invalid_request', async () => {
    await expect401('', 'WX_SESSION_MISSING', INVALID_REQUEST);
  });

  it('a token without a ".": WX_SESSION_INVALID, invalid_request', async () => {
    await expect401(token.replace(/\./g, ''), 'WX_SESSION_INVALID', INVALID_REQUEST);
    await expect401('abcdefghijklmnop', 'WX_SESSION_INVALID', INVALID_REQUEST);
  });

  it('a token of 513 characters: WX_SESSION_INVALID, invalid_request', async () => {
    const long = `${'a'.repeat(400)}.${'b'.repeat(112)}`;
    expect(long).to.have.length(513);
    await expect401(long, 'WX_SESSION_INVALID', INVALID_REQUEST);
  });

  it('a validly signed token of 513 characters is still refused as malformed', async () => {
    const id = 'i'.repeat(513 - 44);
    const signed = forgeToken(id, SECRET);
    expect(signed).to.have.length(513);
    await expect401(signed, 'WX_SESSION_INVALID', INVALID_REQUEST);
  });

  it('a token of 512 characters is well-formed (invalid_token, not invalid_request)', async () => {
    const long = `${'a'.repeat(400)}.${'b'.repeat(111)}`;
    expect(long).to.have.length(512);
    await expect401(long, 'WX_SESSION_INVALID', INVALID_TOKEN);
  });

  it('a 100 KB token is never a 500 and never authenticates', async () => {
    const huge = `${'a'.repeat(100_000)}.${'b'.repeat(43)}`;
    const res = await rawRequest(app.url, `GET /me HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-WX-Session: ${huge}\r\n\r\n`);
    // Node's HTTP parser refuses headers over --max-http-header-size (16 KiB by default) with 431
    // before any application code runs; if the limit were raised, ours must answer 401 invalid_request.
    expect([401, 431]).to.include(res.status);
    if (res.status === 401) {
      expectErrorBody(res.json, 'WX_SESSION_INVALID');
      expect(res.headers['www-authenticate']).to.equal(INVALID_REQUEST);
    }
    // The server is still fine.
    await app.http.get('/me').set('X-WX-Session', token).expect(200);
  });

  it('characters outside the token alphabet: WX_SESSION_INVALID, invalid_request', async () => {
    const [id, sig] = token.split('.') as [string, string];
    for (const bad of [`${id} x.${sig}`, `${id}.${sig} x`, `${id}*.${sig}`, `${id}.${sig}!`, `${id}\t.${sig}`, `"${token}"`, `${id}%2E${sig}`]) {
      await expect401(bad, 'WX_SESSION_INVALID', INVALID_REQUEST);
    }
  });

  it('non-ASCII bytes in the token: WX_SESSION_INVALID, invalid_request', async () => {
    // supertest refuses to send them, so write the bytes ourselves.
    const head = Buffer.from(`GET /me HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-WX-Session: `);
    const value = Buffer.from(`${token.slice(0, 10)}é中${token.slice(10)}`, 'utf8');
    const res = await rawRequest(app.url, Buffer.concat([head, value, Buffer.from('\r\n\r\n')]));
    expect(res.status).to.equal(401);
    expectErrorBody(res.json, 'WX_SESSION_INVALID');
    expect(res.headers['www-authenticate']).to.equal(INVALID_REQUEST);
  });

  it('a control character in the token is refused (Node itself answers 400 before the app)', async () => {
    const res = await rawRequest(app.url, `GET /me HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-WX-Session: ${token.slice(0, 10)}\x01${token.slice(10)}\r\n\r\n`);
    // llhttp rejects CTLs in header values with a bare 400; a tab (allowed by HTTP) reaches the
    // app and is tested above. Either way: never a 500, never a session.
    expect(res.status).to.equal(400);
    await app.http.get('/me').set('X-WX-Session', token).expect(200);
  });

  it('a truncated token that is still well-formed: WX_SESSION_INVALID, invalid_token', async () => {
    await expect401(token.slice(0, -1), 'WX_SESSION_INVALID', INVALID_TOKEN);
    await expect401(token.slice(0, token.lastIndexOf('.') + 1), 'WX_SESSION_INVALID', INVALID_TOKEN);
    await expect401(token.slice(1), 'WX_SESSION_INVALID', INVALID_TOKEN);
  });

  it('a token truncated before its ".": WX_SESSION_INVALID, invalid_request', async () => {
    await expect401(token.slice(0, token.lastIndexOf('.')), 'WX_SESSION_INVALID', INVALID_REQUEST);
  });

  it('one signature character changed: WX_SESSION_INVALID, invalid_token', async () => {
    const tampered = flipSignatureChar(token);
    expect(tampered).to.not.equal(token);
    await expect401(tampered, 'WX_SESSION_INVALID', INVALID_TOKEN);
  });

  it('the session id changed, signature kept: WX_SESSION_INVALID, invalid_token', async () => {
    const tampered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    await expect401(tampered, 'WX_SESSION_INVALID', INVALID_TOKEN);
  });

  it('the real session id signed with an unknown secret: WX_SESSION_INVALID, invalid_token', async () => {
    const id = token.slice(0, token.lastIndexOf('.'));
    await expect401(forgeToken(id, OTHER_SECRET), 'WX_SESSION_INVALID', INVALID_TOKEN);
  });

  it('a validly signed token for an unknown id: WX_SESSION_EXPIRED, invalid_token', async () => {
    const forged = forgeToken(randomBytes(32).toString('base64url'), SECRET);
    await expect401(forged, 'WX_SESSION_EXPIRED', INVALID_TOKEN);
  });

  it('accepts Authorization: Bearer <token> (any case of "Bearer")', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await app.http.get('/me').set('Authorization', `${scheme} ${token}`);
      expect(res.status, scheme).to.equal(200);
      expect(res.body.openid).to.equal('oTokenOwner');
    }
  });

  it('judges a bad Bearer token like a bad X-WX-Session', async () => {
    const res = await app.http.get('/me').set('Authorization', `Bearer ${flipSignatureChar(token)}`);
    expect(res.status).to.equal(401);
    expectErrorBody(res.body, 'WX_SESSION_INVALID');
    expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
  });

  it('treats Authorization: Basic as no token (WX_SESSION_MISSING)', async () => {
    const basic = Buffer.from(`user:${token}`).toString('base64');
    for (const value of [`Basic ${basic}`, `Basic ${token}`, token]) {
      const res = await app.http.get('/me').set('Authorization', value);
      expect(res.status, value).to.equal(401);
      expectErrorBody(res.body, 'WX_SESSION_MISSING');
      expect(res.headers['www-authenticate']).to.equal(INVALID_REQUEST);
    }
  });

  it('GET /whoami (no wx.required) goes on without a session and reports why, never 401', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'WX_SESSION_MISSING'],
      [{ 'X-WX-Session': '' }, 'WX_SESSION_MISSING'],
      [{ Authorization: `Basic ${token}` }, 'WX_SESSION_MISSING'],
      [{ 'X-WX-Session': 'no-dot-here' }, 'WX_SESSION_INVALID'],
      [{ 'X-WX-Session': 'x'.repeat(600) + '.y' }, 'WX_SESSION_INVALID'],
      [{ 'X-WX-Session': flipSignatureChar(token) }, 'WX_SESSION_INVALID'],
      [{ 'X-WX-Session': forgeToken('nobody-home', SECRET) }, 'WX_SESSION_EXPIRED'],
    ];
    for (const [headers, error] of cases) {
      const res = await app.http.get('/whoami').set(headers);
      expect(res.status, JSON.stringify(headers)).to.equal(200);
      expect(res.body).to.deep.equal({ session: false, openid: null, error });
      expect(res.headers).to.not.have.property('www-authenticate');
    }
    const ok = await app.http.get('/whoami').set('X-WX-Session', token);
    expect(ok.body).to.deep.equal({ session: true, openid: 'oTokenOwner', error: null });
  });

  it('an unknown route with a bad token falls through to 404, not 401', async () => {
    const res = await app.http.get('/nowhere').set('X-WX-Session', flipSignatureChar(token));
    expect(res.status).to.equal(404);
  });
});
