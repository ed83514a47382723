// docs/api.md's Fastify, Hono and NestJS snippets run as the page says: each started as a child
// process against the mock WeChat (test/support/snippets.ts) and driven over HTTP: the default
// login and logout routes, an optional session, a required one refused before its body is read
// (on NestJS after: its body parser runs before its guards), a WxSessionError thrown by a route
// answered as the error table says (and not printed).
import { expect } from 'chai';
import { call } from './support/http.js';
import { login, snippetWeChat, startServer, type SnippetWeChat } from './support/snippets.js';

const INVALID_REQUEST = 'Bearer realm="wx-session", error="invalid_request"';

/**
 * `parserFirst`: the framework parses a body before its guard asks for the session (NestJS).
 * `tsconfig`: the one tsx compiles the snippet with (NestJS: `experimentalDecorators`, as a Nest
 * project has it; the root tsconfig.json does not include docs/).
 */
function adapterSnippet(wechat: SnippetWeChat, name: string, openid: string, { parserFirst = false, tsconfig }: { parserFirst?: boolean; tsconfig?: string } = {}): void {
  it(`${name}: login and logout on /wx/*, an optional and a required session, errors answered by wx-session`, async () => {
    const { mock, env } = wechat;
    const server = await startServer(name, tsconfig ? { ...env, TSX_TSCONFIG_PATH: tsconfig } : env);
    const { url } = server;
    expect((await call(`${url}/hello`)).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_MISSING' });

    // No session and a body that is not JSON: the session is asked for first (NestJS: its parser's 400).
    const refused = await call(`${url}/me/score`, { raw: '{"score":' });
    expect(refused.status, refused.text).to.equal(parserFirst ? 400 : 401);
    expect(refused.body.code).to.equal(parserFirst ? undefined : 'WX_SESSION_MISSING');
    expect(refused.headers.get('www-authenticate')).to.equal(parserFirst ? null : INVALID_REQUEST);
    if (parserFirst) {
      const missing = await call(`${url}/me/score`, { json: { score: 1 } });
      expect(missing.status, missing.text).to.equal(401);
      expect(missing.body.code).to.equal('WX_SESSION_MISSING');
      expect(missing.headers.get('www-authenticate')).to.equal(INVALID_REQUEST);
    }

    const { token } = await login(url, mock.issueCode(openid));
    expect((await call(`${url}/hello`, { token })).body).to.deep.equal({ hello: openid });
    const saved = await call(`${url}/me/score`, { token, json: { score: 42 } });
    expect(saved.status, saved.text).to.equal(200);
    expect(saved.body).to.deep.equal({ openid, score: 42 });
    const bad = await call(`${url}/me/score`, { token, json: { score: 'many' } });
    expect(bad.status, bad.text).to.equal(400);
    expect(bad.body).to.deep.include({ code: 'WX_BAD_REQUEST', message: 'score must be a number' });

    expect((await call(`${url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
    expect((await call(`${url}/hello`, { token })).body).to.deep.equal({ hello: 'guest', why: 'WX_SESSION_EXPIRED' });
    expect(await server.stop()).to.be.oneOf([0, 'SIGTERM']);
    expect(server.child.stderr, 'nothing printed: a WxSessionError is an answer').to.equal('');
  });
}

describe('docs: the Fastify, Hono and NestJS snippets of docs/api.md run as the page says', function () {
  this.timeout(60_000);
  this.slow(10_000);
  const wechat = snippetWeChat();
  adapterSnippet(wechat, 'fastify.ts', 'oDocsFastify');
  adapterSnippet(wechat, 'hono.ts', 'oDocsHono');
  adapterSnippet(wechat, 'nestjs.ts', 'oDocsNestjs', { parserFirst: true, tsconfig: 'scripts/tsconfig.snippets.json' });
});
