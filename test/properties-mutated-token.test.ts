// Property (SECURITY.md, "A forged token"), through every adapter: a live token with any one
// character changed (by a character of the token alphabet, any latin1, or a separator or
// whitespace-like one) is refused on /me, /whoami and logout with the table's exact code and
// WWW-Authenticate error, and the original token still works. How many cases and which adapters:
// test/support/properties-run.ts.
import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode } from '../src/index.js';
import type { TestApp } from '../harness/apps.js';
import { startFor } from './support/hooks.js';
import { ADAPTERS, TEST_TIMEOUT, params, startFuzzApp } from './support/properties-run.js';
import { ows, send } from './support/properties-http.js';
import { expectOneOf, show } from './support/properties-outcomes.js';
import { judgeToken } from './support/properties-oracle.js';
import { edgyChar, latin1Printable, tokenChar } from './support/properties-arbitraries.js';

/** Where to change the token: a named place or any index (taken modulo its length). */
type Place = 'first' | 'last' | 'dot' | 'after-dot' | number;

function indexIn(token: string, at: Place): number {
  const dot = token.lastIndexOf('.');
  return at === 'first' ? 0 : at === 'last' ? token.length - 1 : at === 'dot' ? dot : at === 'after-dot' ? dot + 1 : at % token.length;
}

for (const name of ADAPTERS) describe(`properties (${name}): one character changed`, () => {
  let app: TestApp;
  startFor('block', async () => (app = await startFuzzApp(name)));

  it('a token with any one character changed is refused with the table\'s exact code and challenge; the original still works', async function () {
    this.timeout(TEST_TIMEOUT);
    const owners = ['oMutantA', 'oMutantB', 'oMutantC'];
    const tokens: string[] = [];
    for (const openid of owners) tokens.push((await app.login(openid)).token);
    const where = fc.oneof(fc.constantFrom('first', 'last', 'dot', 'after-dot'), fc.nat());
    // Printable replacements: the token's own alphabet, any latin1, and the separators and
    // whitespace-like characters where parsing and trimming go wrong.
    const replacement = fc.oneof(tokenChar, latin1Printable, edgyChar.filter((c) => c !== '\t' && c !== '\x85'));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: tokens.length - 1 }), where, replacement,
        fc.constantFrom('x-wx-session', 'bearer'), fc.constantFrom('/me', '/whoami', 'logout'),
        async (which, at, char, form, route) => {
          const token = tokens[which]!;
          const index = indexIn(token, at);
          fc.pre(token[index] !== char);
          const mutated = token.slice(0, index) + char + token.slice(index + 1);
          const headers: Record<string, string> = form === 'x-wx-session' ? { 'X-WX-Session': mutated } : { Authorization: `Bearer ${mutated}` };
          // What the server receives: the value without the whitespace HTTP strips at its ends.
          const [verdict, ...others] = judgeToken(ows(mutated));
          expect(others, 'one verdict for a mutated token').to.have.length(0);
          expect(verdict!.code, 'a one-character change is never a validly signed token').to.not.equal(ErrorCode.WX_SESSION_EXPIRED);
          const what = `${form} ${show(mutated)}`;
          if (route === 'logout') {
            expectOneOf(await send(app.url, { method: 'POST', target: '/wx/logout', headers }), [{ kind: 'empty' }], what);
          } else if (route === '/me') {
            expectOneOf(await send(app.url, { method: 'GET', target: '/me', headers }), [{ kind: 'error', code: verdict!.code, challenge: verdict!.challenge }], what);
          } else {
            expectOneOf(await send(app.url, { method: 'GET', target: '/whoami', headers }), [{ kind: 'whoami', error: verdict!.code }], what);
          }
          const original = await send(app.url, { method: 'GET', target: '/me', headers: { 'X-WX-Session': token } });
          expect(original.status, 'the original token still works').to.equal(200);
          expect((original.json as { openid: string }).openid).to.equal(owners[which]);
        },
      ),
      params(),
    );
  });
});
