// Signing-secret rotation (docs/deploy.md, "The signing secret"): `secret: [new, old]` signs with
// the first and accepts any; a token signed under an older secret is re-issued in
// X-WX-Session-Token; a secret no longer listed is refused. Three apps share one store and one
// mock, like three deploys.
import { expect } from 'chai';
import { adapters, OLD_SECRET, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { INVALID_TOKEN, expectErrorBody, unsignToken } from './support/wire.js';
import { MemoryStore } from '../src/index.js';
import type { Response } from 'supertest';

/** The re-issued token of an answer; fails the test when there is none. */
function reissued(res: Response): string {
  const value: unknown = res.headers['x-wx-session-token'];
  expect(value, 'X-WX-Session-Token').to.be.a('string').and.not.equal('');
  return value as string;
}

for (const name of adapters) describe(`secret rotation (${name})`, () => {
  let before_: TestApp; // secret: OLD (the deploy before the rotation)
  let during: TestApp; // secret: [NEW, OLD]
  let after_: TestApp; // secret: NEW only
  before(async () => {
    const store = new MemoryStore();
    before_ = await startApp(name, { core: { secret: OLD_SECRET, store } });
    during = await startApp(name, { mock: before_.mock, core: { secret: [SECRET, OLD_SECRET], store } });
    after_ = await startApp(name, { mock: before_.mock, core: { secret: SECRET, store } });
  });
  after(async () => {
    await after_.close();
    await during.close();
    await before_.close();
  });

  it('accepts a token signed under the old secret and re-issues it under the new one', async () => {
    const { token: oldToken, openid } = await before_.login();
    const id = unsignToken(oldToken, OLD_SECRET);
    expect(id, 'the token was signed under OLD').to.be.a('string');
    expect(unsignToken(oldToken, SECRET)).to.equal(false);

    const res = await during.http.get('/me').set('X-WX-Session', oldToken);
    expect(res.status).to.equal(200);
    expect(res.body.openid).to.equal(openid);
    const fresh = reissued(res);
    expect(fresh).to.not.equal(oldToken);
    expect(unsignToken(fresh, SECRET), 'the new token verifies under NEW').to.equal(id);

    // The new token works on its own, with no further re-issue, on both later deploys.
    const next = await during.http.get('/me').set('X-WX-Session', fresh);
    expect(next.status).to.equal(200);
    expect(next.body.openid).to.equal(openid);
    expect(next.headers).to.not.have.property('x-wx-session-token');
    const later = await after_.http.get('/me').set('X-WX-Session', fresh);
    expect(later.status).to.equal(200);
    expect(later.body.openid).to.equal(openid);
  });

  it('re-issues on a Bearer token, on an optional route and on a route that saves data', async () => {
    const { token: oldToken } = await before_.login();
    const id = unsignToken(oldToken, OLD_SECRET) as string;

    const bearer = await during.http.get('/me').set('Authorization', `Bearer ${oldToken}`);
    expect(bearer.status).to.equal(200);
    expect(unsignToken(reissued(bearer), SECRET)).to.equal(id);

    const optional = await during.http.get('/whoami').set('X-WX-Session', oldToken);
    expect(optional.body.session).to.equal(true);
    expect(unsignToken(reissued(optional), SECRET)).to.equal(id);

    const saving = await during.http.post('/me/coins').set('X-WX-Session', oldToken);
    expect(saving.status).to.equal(200);
    expect(saving.body.coins).to.equal(1);
    expect(unsignToken(reissued(saving), SECRET)).to.equal(id);
    const seen = await during.http.get('/me').set('X-WX-Session', reissued(saving));
    expect(seen.body.data).to.deep.equal({ coins: 1 });
  });

  it('sends no X-WX-Session-Token for a token under the current secret', async () => {
    const { token } = await during.login();
    expect(unsignToken(token, SECRET), 'logins sign with the first secret').to.be.a('string');
    for (const path of ['/me', '/whoami', '/me/json']) {
      const res = await during.http.get(path).set('X-WX-Session', token);
      expect(res.status, path).to.equal(200);
      expect(res.headers, path).to.not.have.property('x-wx-session-token');
    }
    const saving = await during.http.post('/me/coins').set('X-WX-Session', token);
    expect(saving.headers).to.not.have.property('x-wx-session-token');
  });

  it('sends no X-WX-Session-Token on a refused token', async () => {
    const res = await during.http.get('/me').set('X-WX-Session', 'not.valid');
    expect(res.status).to.equal(401);
    expect(res.headers).to.not.have.property('x-wx-session-token');
  });

  it('refuses a token under a secret no longer listed: 401 WX_SESSION_INVALID, invalid_token', async () => {
    const { token: oldToken } = await before_.login();
    // Still a live session in the shared store: the refusal is about the secret only.
    await during.http.get('/me').set('X-WX-Session', oldToken).expect(200);
    const res = await after_.http.get('/me').set('X-WX-Session', oldToken);
    expect(res.status).to.equal(401);
    expectErrorBody(res.body, 'WX_SESSION_INVALID');
    expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
    expect(res.headers).to.not.have.property('x-wx-session-token');
  });
});
