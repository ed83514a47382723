// Property (README.md, "The wire protocol in brief"), through every adapter, with and without the
// framework's JSON body parser in front: a login body of any shape (objects with any fields, any
// JSON, text, bytes, padded to around 8 KiB, the code in the body, in X-WX-Code, both or neither,
// any content type) gets a table error or logs in, and logs in whenever it carries a valid code
// and nothing invalid; only a login that worked creates a session. How many cases and which
// adapters: test/support/properties-run.ts.
import { expect } from 'chai';
import fc from 'fast-check';
import { MemoryStore } from '../src/index.js';
import type { TestApp } from '../harness/apps.js';
import { encryptForSession } from './support/keys.js';
import { startFor } from './support/hooks.js';
import { ADAPTERS, TEST_TIMEOUT, params, startFuzzApp } from './support/properties-run.js';
import { expectHealthy, send, seenHeaders, utf8, type Req } from './support/properties-http.js';
import { LIMIT, expectOneOf, expectSafe } from './support/properties-outcomes.js';
import { JSON_TYPES, loginOutcomes, type LoginContext } from './support/properties-oracle.js';
import { CONTENT_TYPES, loginCaseArb, type LoginCase } from './support/properties-arbitraries.js';

/** The request for a case, with the case's fresh code and encrypted user data put in. */
function buildLogin(c: LoginCase, code: string, pair: { encryptedData: string; iv: string }, parser: LoginContext['parser']): { req: Req; mustSucceed: boolean } {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['Content-Type'] = c.contentType;
  const codeInHeader = c.codeIn === 'header' || c.codeIn === 'both';
  if (codeInHeader) headers['X-WX-Code'] = code;
  else if (c.headerCode !== undefined) headers['X-WX-Code'] = c.headerCode;
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  let validObject = false;
  switch (c.body.kind) {
    case 'none': break;
    case 'object': {
      const o: Record<string, unknown> = { ...c.body.extra };
      const codeInBody = c.codeIn === 'body' || c.codeIn === 'both';
      if (codeInBody) o.code = code;
      else if (c.body.code !== undefined) o.code = c.body.code;
      if (c.body.userData === 'valid') Object.assign(o, pair);
      else if (c.body.userData !== 'none') Object.assign(o, c.body.userData);
      if (c.body.pad > 0) o.pad = 'p'.repeat(Math.max(0, c.body.pad - JSON.stringify(o).length));
      text = JSON.stringify(o, null, c.body.indent);
      validObject = codeInBody && (c.body.userData === 'none' || c.body.userData === 'valid');
      break;
    }
    case 'json': text = JSON.stringify(c.body.value); break;
    case 'text': text = c.body.text; break;
    case 'bytes': bytes = c.body.bytes; break;
  }
  const body = text === undefined ? bytes : utf8(text);
  const req: Req = { method: 'POST', target: '/wx/login', headers };
  if (body !== undefined) req.body = body;
  const size = body?.length ?? 0;
  // Content types every parser and the adapters' own reader take as the JSON it is.
  const plainType = c.contentType === undefined || CONTENT_TYPES.slice(0, 5).includes(c.contentType);
  // The protocol: `{"code": ...}` (other fields are nobody's business) within 8 KiB, or the code
  // in X-WX-Code with an empty body. A parser that ran may take more than 8 KiB.
  const mustSucceed = plainType && (
    (validObject && !codeInHeader && c.headerCode === undefined && (size <= LIMIT || (parser !== false && JSON_TYPES.has(c.contentType ?? '')))) ||
    (c.codeIn === 'header' && size === 0)
  );
  return { req, mustSucceed };
}

for (const name of ADAPTERS) describe(`properties (${name}): login bodies of any shape`, () => {
  // One app reads the body itself, the other sits behind the framework's JSON parser.
  const plainStore = new MemoryStore();
  const parsingStore = new MemoryStore();
  let plain: TestApp;
  let parsing: TestApp;
  startFor('block', async () => (plain = await startFuzzApp(name, { store: plainStore })));
  startFor('block', async () => (parsing = await startFuzzApp(name, { store: parsingStore, bodyParser: true })));

  for (const withParser of [false, true]) {
    it(`login bodies of any shape get a table error or succeed, and succeed when valid${withParser ? ' (behind a JSON body parser)' : ''}`, async function () {
      this.timeout(TEST_TIMEOUT);
      const target = withParser ? parsing : plain;
      const targetStore = withParser ? parsingStore : plainStore;
      // Fastify's and Hono's logins read the body themselves even with a JSON parser in the app.
      const parser: LoginContext['parser'] = withParser && /^(express|koa)/.test(name) ? (name.startsWith('express') ? 'express' : 'koa') : false;
      await fc.assert(
        fc.asyncProperty(loginCaseArb, async (c) => {
          const openid = `oLogin${Math.random().toString(36).slice(2, 12)}`;
          const code = target.mock.issueCode(openid);
          const sessionKey = target.mock.sessionKeyOf(openid)!;
          const userInfo = { nickName: 'Band', watermark: { appid: target.mock.appId, timestamp: 1 } };
          const pair = encryptForSession(sessionKey, userInfo);
          const { req, mustSucceed } = buildLogin(c, code, pair, parser);
          const before = targetStore.size;
          const answer = await send(target.url, req);
          const what = `login ${JSON.stringify(c)}`;
          expectSafe(answer, what);
          expect(answer.text, `${what}: never the session_key`).to.not.include(sessionKey);
          const outcome = expectOneOf(answer, loginOutcomes(seenHeaders(req), req.body, { parser, valid: { code, openid, pair, userInfo } }), what);
          if (mustSucceed) expect(outcome.kind, `${what}: a valid code and nothing invalid must log in`).to.equal('login');
          if (outcome.kind === 'login') {
            expect(targetStore.size, 'one session created').to.equal(before + 1);
            const token = (answer.json as { token: string }).token;
            const me = await send(target.url, { method: 'GET', target: '/me', headers: { 'X-WX-Session': token } });
            expect(me.status, 'the new token works').to.equal(200);
            expect((me.json as { openid: string }).openid).to.equal(openid);
          } else {
            expect(targetStore.size, 'no session created by a refused login').to.equal(before);
          }
        }),
        params(),
      );
      await expectHealthy(target);
    });
  }
});
