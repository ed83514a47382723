// Defects found by the property tests (test/properties-*.test.ts), pinned as plain examples so they stay fixed.
//
// 1. A no-break space (byte 0xA0) at either end of the token header was stripped as if it were
//    whitespace (String.prototype.trim), so `X-WX-Session: \xA0<valid token>` authenticated and a
//    token whose first or last character was changed to 0xA0 got error="invalid_token". HTTP's
//    optional whitespace is SP and HTAB only (RFC 9110 §5.5); 0xA0 is a character outside the
//    token alphabet, so the token is malformed: WX_SESSION_INVALID with error="invalid_request".
//    Found by the one-character mutation property, counterexample [0, "first", "\u00a0",
//    "x-wx-session", "/me"] (seed -1672257087, path "27:0:0:1" on express5).
import { expect } from 'chai';
import { adapters, startApp, type TestApp } from '../harness/apps.js';
import { INVALID_REQUEST, expectErrorBody } from './support/wire.js';
import { startFor } from './support/hooks.js';
import { tokenFrom } from '../src/http.js';

const NBSP = '\u00a0';

describe('regressions found by the properties', () => {
  describe('tokenFrom strips only HTTP whitespace (SP, HTAB)', () => {
    it('keeps a no-break space, in X-WX-Session and after Bearer', () => {
      expect(tokenFrom({ 'x-wx-session': `${NBSP}a.b` })).to.equal(`${NBSP}a.b`);
      expect(tokenFrom({ 'x-wx-session': `a.b${NBSP}` })).to.equal(`a.b${NBSP}`);
      expect(tokenFrom({ authorization: `Bearer ${NBSP}a.b` })).to.equal(`${NBSP}a.b`);
      expect(tokenFrom({ authorization: `Bearer a.b${NBSP}` })).to.equal(`a.b${NBSP}`);
    });

    it('(control) still strips spaces and tabs around the token', () => {
      expect(tokenFrom({ 'x-wx-session': ' \ta.b\t ' })).to.equal('a.b');
      expect(tokenFrom({ authorization: 'Bearer \ta.b \t' })).to.equal('a.b');
    });
  });

  for (const name of adapters) describe(`a no-break space around the token (${name})`, () => {
    let app: TestApp;
    let token: string;
    startFor('block', async () => (app = await startApp(name)));
    before(async () => ({ token } = await app.login('oNbspOwner')));

    const cases: Array<[string, (t: string) => Record<string, string>]> = [
      ['before the token in X-WX-Session', (t) => ({ 'X-WX-Session': `${NBSP}${t}` })],
      ['after the token in X-WX-Session', (t) => ({ 'X-WX-Session': `${t}${NBSP}` })],
      ['before the token after Bearer', (t) => ({ Authorization: `Bearer ${NBSP}${t}` })],
      ['after the token after Bearer', (t) => ({ Authorization: `Bearer ${t}${NBSP}` })],
      ['in place of its first character', (t) => ({ 'X-WX-Session': `${NBSP}${t.slice(1)}` })],
      ['in place of its last character', (t) => ({ Authorization: `Bearer ${t.slice(0, -1)}${NBSP}` })],
    ];
    for (const [what, headers] of cases) {
      it(`${what}: 401 WX_SESSION_INVALID, invalid_request, no session`, async () => {
        const res = await app.http.get('/me').set(headers(token));
        expect(res.status).to.equal(401);
        expectErrorBody(res.body, 'WX_SESSION_INVALID');
        expect(res.headers['www-authenticate']).to.equal(INVALID_REQUEST);
        const who = await app.http.get('/whoami').set(headers(token));
        expect(who.body).to.deep.equal({ session: false, openid: null, error: 'WX_SESSION_INVALID' });
      });
    }

    it('(control) the token itself, with spaces and tabs around it, is accepted', async () => {
      for (const headers of [{ 'X-WX-Session': token }, { 'X-WX-Session': ` \t${token}\t ` }, { Authorization: `Bearer  ${token} ` }]) {
        const res = await app.http.get('/me').set(headers);
        expect(res.status, JSON.stringify(headers)).to.equal(200);
        expect(res.body.openid).to.equal('oNbspOwner');
      }
    });
  });
});
