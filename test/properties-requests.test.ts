// Property (README.md, "Errors"), through every adapter: no generated request (any method, path,
// query, token header, Authorization, X-WX-Code, content type or body) yields a 5xx, a hang, a
// crash or a session, and each gets exactly an answer the oracle allows. Sent through fetch, and
// byte for byte over a raw socket. How many cases and which adapters: test/support/properties-run.ts.
import { expect } from 'chai';
import fc from 'fast-check';
import type { TestApp } from '../harness/apps.js';
import { startFor } from './support/hooks.js';
import { ADAPTERS, RUNS, TEST_TIMEOUT, params, startFuzzApp } from './support/properties-run.js';
import { expectHealthy, send, sendRaw, seenHeaders } from './support/properties-http.js';
import { expectOneOf, expectSafe, statusOf } from './support/properties-outcomes.js';
import { expectNoSession, outcomesFor } from './support/properties-oracle.js';
import { anyBody, headerChar, rawHeaderChar, requestArb, utf8Bytes } from './support/properties-arbitraries.js';

/** What Fastify's `clientError` handler answers a request llhttp refused (Fastify 4 and 5 alike). */
const FASTIFY_CLIENT_ERROR = '{"error":"Bad Request","message":"Client Error","statusCode":400}';

for (const name of ADAPTERS) describe(`properties (${name}): arbitrary requests`, () => {
  let app: TestApp;
  /** Tokens of sessions that were logged out: signed by us, dead. */
  const dead: string[] = [];

  startFor('block', async () => (app = await startFuzzApp(name)));
  before(async () => {
    for (let i = 0; i < 3; i++) {
      const { token } = await app.login();
      dead.push(token);
      const out = await send(app.url, { method: 'POST', target: '/wx/logout', headers: { 'X-WX-Session': token } });
      expect(out.status).to.equal(204);
    }
  });

  it('no generated request yields a 5xx, a hang, a crash or a session, and each gets its exact answer (fetch)', async function () {
    this.timeout(TEST_TIMEOUT);
    await fc.assert(
      fc.asyncProperty(requestArb(dead, headerChar), async (req) => {
        const answer = await send(app.url, req);
        const what = `${req.method} ${req.target}`;
        expectSafe(answer, what);
        expectNoSession(req, answer, what);
        expectOneOf(answer, outcomesFor(name, req, seenHeaders(req), { parser: false }), what);
        await expectHealthy(app);
      }),
      params(),
    );
  });

  it('the same over a raw socket: control bytes, UTF-8 in headers, bodies on GET', async function () {
    this.timeout(TEST_TIMEOUT);
    const rawChar = fc.oneof({ weight: 3, arbitrary: rawHeaderChar }, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).map(utf8Bytes));
    const arb = fc.tuple(requestArb(dead, rawChar), fc.option(anyBody, { nil: undefined })).map(([req, body]) => {
      // Unlike fetch, a raw request can carry a body with any method.
      if (req.body === undefined && body !== undefined) req.body = body;
      return req;
    });
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        const answer = await sendRaw(app.url, req);
        const what = `raw ${req.method} ${req.target}`;
        expectSafe(answer, what);
        // llhttp refuses control bytes (but HTAB) in a header value with a 400, before any app code:
        // Node's own has no body; Fastify's clientError handler (also under Nest) answers its fixed JSON.
        const refusedByNode = Object.values(req.headers).some((v) => /[\x00-\x08\x0a-\x1f\x7f]/.test(v));
        if (refusedByNode) {
          expect(answer.status, `${what}: Node's own 400`).to.equal(400);
          const own = name.includes('fastify') ? [FASTIFY_CLIENT_ERROR] : [''];
          expect(answer.text, `${what}: the server's own 400, no app answer`).to.be.oneOf(own);
        } else {
          expectNoSession(req, answer, what);
          const outcomes = outcomesFor(name, req, seenHeaders(req, 'raw'), { parser: false });
          // HEAD answers carry no body to check.
          if (req.method === 'HEAD') expect(answer.status, what).to.be.oneOf([...new Set(outcomes.map(statusOf)), 404]);
          else expectOneOf(answer, outcomes, what);
        }
        await expectHealthy(app);
      }),
      params(Math.ceil(RUNS / 4)),
    );
  });
});
