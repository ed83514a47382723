// Everything a client can send wrong gets its exact error (README.md, "Errors"), never a 500:
// missing or mistyped codes, over-long codes, unparsable or oversized bodies, tokens in the query
// string, and half of an encryptedData pair (which must not create a session).
import { request } from 'node:http';
import { expect } from 'chai';
import { adapters, startApp, type TestApp } from '../harness/apps.js';
import { encryptForSession } from './support/keys.js';
import { startFor } from './support/hooks.js';
import { CountingStore } from './support/stores.js';
import { expectErrorBody, rawRequest } from './support/wire.js';

const LIMIT = 8 * 1024;
/** A well-formed iv that belongs to no encryptedData here. */
const SOME_IV = 'r7BXXKkLb8qrSNn05n0qiA==';

/** Each test starts with no store calls counted and an empty mock call log. */
function resetCounts(store: CountingStore, app: TestApp): void {
  store.reset();
  app.mock.resetCalls();
}

/** A JSON body carrying `code`, padded with spaces to exactly `bytes` bytes. */
function paddedBody(code: string, bytes: number): string {
  const core = `{"code":${JSON.stringify(code)}}`;
  const body = `{"code":${JSON.stringify(code)},"pad":"${'p'.repeat(bytes - core.length - 9)}"}`;
  expect(Buffer.byteLength(body)).to.equal(bytes);
  return body;
}

/** POSTs `size` bytes with Transfer-Encoding: chunked (no Content-Length to refuse early). */
function postChunked(url: string, path: string, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may close its side once it has answered 413; the answer is what counts here.
    req.on('error', () => {});
    let sent = 0;
    const piece = Buffer.alloc(4096, 0x61);
    const pump = () => {
      while (sent < size) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    req.write('{"code":"');
    pump();
  });
}

for (const name of adapters) describe(`bad input (${name})`, () => {
  for (const bodyParser of [false, true]) describe(bodyParser ? 'behind a body parser' : 'without a body parser', () => {
    const store = new CountingStore();
    let app: TestApp;
    startFor('block', async () => (app = await startApp(name, { bodyParser, core: { store } })));
    beforeEach(() => resetCounts(store, app));
    /** No bad input may create a session. */
    const expectNoSession = () => expect(store.counts.set, 'sessions created').to.equal(0);

    const missing: Array<[string, () => Promise<import('supertest').Response>]> = [
      ['no body at all', () => app.http.post('/wx/login')],
      ['an empty JSON body', () => app.http.post('/wx/login').set('Content-Type', 'application/json').send('')],
      ['{}', () => app.http.post('/wx/login').send({})],
      ['{"code":""}', () => app.http.post('/wx/login').send({ code: '' })],
      ['{"code":null} (null is no code)', () => app.http.post('/wx/login').send({ code: null })],
      ['an empty X-WX-Code header', () => app.http.post('/wx/login').set('X-WX-Code', '')],
    ];
    for (const [what, send] of missing) {
      it(`answers 400 WX_CODE_MISSING for ${what}`, async () => {
        const res = await send();
        expect(res.status).to.equal(400);
        expectErrorBody(res.body, 'WX_CODE_MISSING');
        expectNoSession();
        expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
      });
    }

    const mistyped: Array<[string, unknown]> = [
      ['a number', 12345],
      ['an object', { value: 'abc' }],
      ['an array', ['abc']],
      ['a boolean', true],
      ['false', false],
    ];
    for (const [what, code] of mistyped) {
      it(`answers 400 WX_BAD_REQUEST for a code that is ${what}`, async () => {
        const res = await app.http.post('/wx/login').send({ code });
        expect(res.status).to.equal(400);
        expectErrorBody(res.body, 'WX_BAD_REQUEST');
        expectNoSession();
        expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
      });
    }

    it('answers 400 WX_BAD_REQUEST for a JSON array body', async () => {
      const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send('[{"code":"abc"}]');
      expect(res.status).to.equal(400);
      expectErrorBody(res.body, 'WX_BAD_REQUEST');
      expectNoSession();
    });

    it('answers 400 WX_BAD_REQUEST for a code of 257 characters, without asking WeChat', async () => {
      const res = await app.http.post('/wx/login').send({ code: 'c'.repeat(257) });
      expect(res.status).to.equal(400);
      expectErrorBody(res.body, 'WX_BAD_REQUEST');
      expectNoSession();
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
    });

    it('answers 400 WX_BAD_REQUEST for an X-WX-Code header of 257 characters', async () => {
      const res = await app.http.post('/wx/login').set('X-WX-Code', 'c'.repeat(257));
      expect(res.status).to.equal(400);
      expectErrorBody(res.body, 'WX_BAD_REQUEST');
      expectNoSession();
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
    });

    it('sends a code of exactly 256 characters to WeChat (401 WX_CODE_INVALID for an unknown one)', async () => {
      const res = await app.http.post('/wx/login').send({ code: 'c'.repeat(256) });
      expect(res.status).to.equal(401);
      expectErrorBody(res.body, 'WX_CODE_INVALID', 40029);
      expectNoSession();
      const calls = app.mock.callsTo('/sns/jscode2session');
      expect(calls).to.have.length(1);
      expect(calls[0]!.query.js_code).to.equal('c'.repeat(256));
    });

    /** A login with a fresh code for `openid` and `payload` encrypted with its session_key. */
    const loginWithData = (openid: string, payload: object) => ({ code: app.mock.issueCode(openid), ...encryptForSession(app.mock.sessionKeyOf(openid)!, payload) });
    const refusedUserData: Array<[string, () => object]> = [
      ['encryptedData without iv', () => {
        const { code, encryptedData } = loginWithData('oHalfPair', { watermark: { appid: app.mock.appId } });
        return { code, encryptedData };
      }],
      ['iv without encryptedData', () => ({ code: app.mock.issueCode(), iv: SOME_IV })],
      ['encryptedData that does not decrypt', () => ({ code: app.mock.issueCode(), encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: SOME_IV })],
      ['encryptedData watermarked for another app', () => loginWithData('oOtherAppData', { nickName: 'x', watermark: { appid: 'wxsomeoneelse00000', timestamp: 1 } })],
    ];
    for (const [what, body] of refusedUserData) {
      it(`answers 400 WX_BAD_REQUEST for ${what}, and creates no session`, async () => {
        const res = await app.http.post('/wx/login').send(body());
        expect(res.status).to.equal(400);
        expectErrorBody(res.body, 'WX_BAD_REQUEST');
        expectNoSession();
        expect(res.body).to.not.have.property('token');
      });
    }

    it('(control) the same login with matching encryptedData does create a session', async () => {
      const res = await app.http.post('/wx/login').send(loginWithData('oGoodPair', { nickName: 'x', watermark: { appid: app.mock.appId, timestamp: 1 } }));
      expect(res.status).to.equal(200);
      expect(store.counts.set).to.equal(1);
    });

    it('ignores a token in the query string (401 WX_SESSION_MISSING)', async () => {
      const { token } = await app.login();
      store.reset();
      for (const query of [`token=${encodeURIComponent(token)}`, `X-WX-Session=${encodeURIComponent(token)}`, `access_token=${encodeURIComponent(token)}`]) {
        const res = await app.http.get(`/me?${query}`);
        expect(res.status, query).to.equal(401);
        expectErrorBody(res.body, 'WX_SESSION_MISSING');
        expectNoSession();
        expect(res.headers['www-authenticate']).to.contain('error="invalid_request"');
      }
      const whoami = await app.http.get(`/whoami?token=${encodeURIComponent(token)}`);
      expect(whoami.body).to.deep.include({ session: false, error: 'WX_SESSION_MISSING' });
    });

    it('does not log out a token given in the query string or a cookie', async () => {
      const { token } = await app.login();
      const out = await app.http.post(`/wx/logout?token=${encodeURIComponent(token)}&X-WX-Session=${encodeURIComponent(token)}`).set('Cookie', `X-WX-Session=${token}`);
      expect(out.status).to.equal(204);
      await app.http.get('/me').set('X-WX-Session', token).expect(200);
    });

    it('takes no code from an inherited __proto__ key, and pollutes nothing', async () => {
      const code = app.mock.issueCode();
      const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send(`{"__proto__":{"code":"${code}"},"constructor":{"prototype":{"code":"${code}"}}}`);
      expect(res.status).to.equal(400);
      expectErrorBody(res.body, 'WX_CODE_MISSING');
      expectNoSession();
      expect(({} as Record<string, unknown>).code).to.equal(undefined);
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
    });

    it('ignores a token in a cookie (401 WX_SESSION_MISSING)', async () => {
      const { token } = await app.login();
      store.reset();
      const res = await app.http.get('/me').set('Cookie', `X-WX-Session=${token}; token=${token}`);
      expect(res.status).to.equal(401);
      expectErrorBody(res.body, 'WX_SESSION_MISSING');
      expectNoSession();
    });
  });

  describe('raw bodies (no body parser)', () => {
    const store = new CountingStore();
    let app: TestApp;
    startFor('block', async () => (app = await startApp(name, { core: { store } })));
    beforeEach(() => resetCounts(store, app));

    const malformed: Array<[string, string]> = [
      ['malformed JSON', '{"code":'],
      ['a JSON string body', '"abc"'],
      ['a JSON number body', '42'],
      ['a JSON array body', '["abc"]'],
      ['JSON with a trailing comma', '{"code":"abc",}'],
    ];
    for (const [what, body] of malformed) {
      it(`answers 400 WX_BAD_REQUEST for ${what}`, async () => {
        const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send(body);
        expect(res.status).to.equal(400);
        expectErrorBody(res.body, 'WX_BAD_REQUEST');
        expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
        expect(store.counts.set).to.equal(0);
      });
    }

    it('reads a body sent as text/plain (no parser cares about its type)', async () => {
      const code = app.mock.issueCode('oTextPlain');
      const res = await app.http.post('/wx/login').set('Content-Type', 'text/plain').send(JSON.stringify({ code }));
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oTextPlain');
    });

    it('accepts a body of exactly 8 KiB (8192 bytes)', async () => {
      const code = app.mock.issueCode('oExactly8k');
      const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send(paddedBody(code, LIMIT));
      expect(res.status).to.equal(200);
      expect(res.body.openid).to.equal('oExactly8k');
    });

    it('answers 413 WX_PAYLOAD_TOO_LARGE for 8 KiB + 1 byte, without redeeming the code', async () => {
      const code = app.mock.issueCode('oOver8k');
      const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send(paddedBody(code, LIMIT + 1));
      expect(res.status).to.equal(413);
      expectErrorBody(res.body, 'WX_PAYLOAD_TOO_LARGE');
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
      expect(store.counts.set).to.equal(0);
    });

    it('answers 413 for a 100 KB body and keeps serving afterwards', async () => {
      const res = await app.http.post('/wx/login').set('Content-Type', 'application/json').send(paddedBody('abc', 100_000));
      expect(res.status).to.equal(413);
      expectErrorBody(res.body, 'WX_PAYLOAD_TOO_LARGE');
      const next = await app.http.post('/wx/login').send({ code: app.mock.issueCode('oAfterBig') });
      expect(next.status).to.equal(200);
      expect(next.body.openid).to.equal('oAfterBig');
    });

    it('answers 413 for a 100 KB chunked body (no Content-Length) and keeps serving', async () => {
      const res = await postChunked(app.url, '/wx/login', 100_000);
      expect(res.status).to.equal(413);
      expectErrorBody(JSON.parse(res.body), 'WX_PAYLOAD_TOO_LARGE');
      const next = await app.http.post('/wx/login').send({ code: app.mock.issueCode('oAfterChunked') });
      expect(next.status).to.equal(200);
    });

    it('answers 413 at once to a Content-Length that claims more than 8 KiB, whatever follows', async () => {
      const started = Date.now();
      const body = '{"code":"abc"}';
      const res = await rawRequest(app.url, `POST /wx/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n${body}`);
      expect(Date.now() - started, 'answered without waiting for the claimed body').to.be.below(1500);
      expect(res.status).to.equal(413);
      expectErrorBody(res.json, 'WX_PAYLOAD_TOO_LARGE');
      expect(app.mock.callsTo('/sns/jscode2session')).to.have.length(0);
      const next = await app.http.post('/wx/login').send({ code: app.mock.issueCode('oAfterLie') });
      expect(next.status).to.equal(200);
    });
  });
});
