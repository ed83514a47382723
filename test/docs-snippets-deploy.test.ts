// The production snippets run as docs/deploy.md and docs/redis.md say: server.ts (the entry point
// serving app.ts) stops on SIGTERM and refuses a bad configuration before listening; on a private
// redis-server, two instances of server.ts or of redis.ts share sessions and logouts, and a secret
// rotated with "new,old" keeps the old tokens, re-issued.
import { expect } from 'chai';
import { hasRedisServer, requireRedis, startControlledRedis, type ControlledRedis } from '../harness/redis.js';
import { call } from './support/http.js';
import { exitOf, login, NEW_SECRET, runSnippet, SECRET, snippetWeChat, startServer, type Server } from './support/snippets.js';

/** Waits until the instance's GET /ready answers 200 (its Redis connection is up). */
async function ready(server: Server, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await call(`${server.url}/ready`)).status !== 200) {
    expect(Date.now(), `ready within ${ms} ms`).to.be.below(deadline);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('docs: the snippets of docs/deploy.md and docs/redis.md', function () {
  this.timeout(60_000);
  this.slow(10_000);
  const wechat = snippetWeChat();

  it('server.ts: serves app.ts once WeChat accepted the credentials, and stops on SIGTERM', async () => {
    const { mock, env } = wechat;
    const server = await startServer('server.ts', env);
    const { token, openid } = await login(server.url, mock.issueCode());
    expect((await call(`${server.url}/me/score`, { token, json: { score: 7 } })).body).to.deep.equal({ score: 7 });
    expect((await call(`${server.url}/me/score`, { token, json: { score: '7' } })).status).to.equal(400);
    expect((await call(`${server.url}/me`, { token })).body).to.deep.equal({ openid, data: { score: 7 } });
    expect(await server.stop()).to.equal(0);
  });

  it('server.ts: exits 1 before listening when a variable is missing or WeChat refuses the credentials', async () => {
    const { mock, env } = wechat;
    const missing = runSnippet('server.ts', { ...env, WX_SESSION_SECRET: undefined });
    expect(await exitOf(missing)).to.equal(1);
    expect(missing.stderr.trim()).to.equal('not starting: WX_SESSION_SECRET is not set');
    mock.fault('/cgi-bin/stable_token', { errcode: 40164 }, { times: 1 });
    const blocked = runSnippet('server.ts', env);
    expect(await exitOf(blocked)).to.equal(1);
    expect(blocked.stderr).to.match(/^not starting: this server's IP is not on the API allow-list \(40164\)/);
    expect(blocked.stdout).to.not.match(/listening/);
  });

  describe('with REDIS_URL, on a private redis-server', function () {
    requireRedis(this);
    let redis: ControlledRedis | undefined;
    before(async () => {
      if (hasRedisServer) redis = await startControlledRedis();
    });
    beforeEach(async () => {
      await redis!.client().flushall(); // each test counts the keys of its own instances
    });
    after(async () => {
      await redis?.stop();
    });
    const redisEnv = () => ({ ...wechat.env, REDIS_URL: `redis://127.0.0.1:${redis!.port}` });

    it('server.ts: two instances share sessions and logouts; a secret rotated with "new,old" keeps the old tokens, re-issued', async () => {
      const { mock } = wechat;
      const [a, b] = await Promise.all([startServer('server.ts', redisEnv()), startServer('server.ts', redisEnv())]);
      const first = await login(a.url, mock.issueCode());
      expect((await call(`${b.url}/me/score`, { token: first.token, json: { score: 3 } })).status).to.equal(200);
      expect((await call(`${a.url}/me`, { token: first.token })).body).to.deep.equal({ openid: first.openid, data: { score: 3 } });
      expect((await call(`${a.url}/wx/logout`, { method: 'POST', token: first.token })).status).to.equal(204);
      expect((await call(`${b.url}/me`, { token: first.token })).body.code).to.equal('WX_SESSION_EXPIRED');

      const second = await login(b.url, mock.issueCode());
      expect(await a.stop()).to.equal(0);
      const rotated = await startServer('server.ts', { ...redisEnv(), WX_SESSION_SECRET: `${NEW_SECRET},${SECRET}` });
      const old = await call(`${rotated.url}/me`, { token: second.token });
      expect(old.status).to.equal(200);
      const reissued = old.headers.get('x-wx-session-token');
      expect(reissued).to.be.a('string').and.not.equal(second.token);
      expect((await call(`${rotated.url}/me`, { token: reissued! })).status).to.equal(200);
      expect((await call(`${b.url}/me`, { token: reissued! })).body.code, 'an instance without the new secret').to.equal('WX_SESSION_INVALID');
      expect(await Promise.all([b.stop(), rotated.stop()])).to.deep.equal([0, 0]);
    });

    it('redis.ts: two instances share sessions and logouts under its prefix, report ready, and close their connections on SIGTERM', async () => {
      const { mock } = wechat;
      const [a, b] = await Promise.all([startServer('redis.ts', redisEnv()), startServer('redis.ts', redisEnv())]);
      await ready(a);
      await ready(b);
      const { token, openid } = await login(a.url, mock.issueCode());
      const client = redis!.client();
      expect(await client.keys('mygame:*'), 'keys under the prefix').to.not.deep.equal([]);
      expect(await client.keys('wxs:*'), 'keys under the default prefix').to.deep.equal([]);
      expect((await call(`${b.url}/me`, { token })).body).to.deep.equal({ openid });
      expect((await call(`${b.url}/wx/logout`, { method: 'POST', token })).status).to.equal(204);
      const refused = await call(`${a.url}/me`, { token });
      expect(refused.body.code, 'the logout on B, read on A').to.equal('WX_SESSION_EXPIRED');
      expect(await Promise.all([a.stop(), b.stop()])).to.deep.equal([0, 0]);
    });
  });
});
