// RedisStore on a real redis-server, through every adapter (docs/redis.md, "When Redis fails"): a
// paused or killed Redis answers 503 WX_STORE_UNAVAILABLE within the store's timeout, on the
// required and the optional routes and on login and logout, and the app works again once Redis is
// back.
import { expect } from 'chai';
import { adapters, sleep, type TestApp } from '../harness/apps.js';
import { waitForSubscribers } from '../harness/redis-tools.js';
import { pollUntil } from './support/outcomes.js';
import { useRedisStores, type RedisStoreKit } from './support/redis-store-kit.js';

/** Asks `app` for /me and /whoami with `token`, and to log in: each answers that the store is unavailable. */
async function expectUnavailable(kit: RedisStoreKit, app: TestApp, label: string, token: string): Promise<void> {
  const started = Date.now();
  const [me, whoami, login] = await Promise.all([
    app.http.get('/me').set('X-WX-Session', token),
    app.http.get('/whoami').set('X-WX-Session', token),
    app.http.post('/wx/login').send({ code: kit.mock.issueCode() }),
  ]);
  const ms = Date.now() - started;
  expect(me.status, `${label} GET /me ${JSON.stringify(me.body)}`).to.equal(503);
  expect(me.body.code).to.equal('WX_STORE_UNAVAILABLE');
  expect(whoami.status, `${label} GET /whoami`).to.equal(200);
  expect(whoami.body).to.deep.equal({ session: false, openid: null, error: 'WX_STORE_UNAVAILABLE' });
  expect(login.status, `${label} login ${JSON.stringify(login.body)}`).to.equal(503);
  expect(login.body.code).to.equal('WX_STORE_UNAVAILABLE');
  expect(ms, `${label}: answers took ${ms} ms`).to.be.below(300 + 700);
}

describe('RedisStore on a real Redis, through the adapters: a paused or killed Redis answers 503 WX_STORE_UNAVAILABLE', function () {
  const kit = useRedisStores(this);

  for (const name of adapters) {
    it(name, async () => {
      const { redis, admin, mock } = kit;
      // The app's store never saw this session, so it has to ask Redis for it.
      const loginCore = kit.core({ prefix: `ad-${name}:` });
      const app = await kit.app(name, { core: { store: kit.store({ prefix: `ad-${name}:`, timeout: 300 }) } });
      const { token } = await loginCore.login(mock.issueCode());
      expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
      const unseen = (await loginCore.login(mock.issueCode())).token;

      redis.pause();
      try {
        await expectUnavailable(kit, app, 'paused', unseen);
      } finally {
        redis.resume();
      }
      expect((await app.http.get('/me').set('X-WX-Session', unseen)).status, 'after resume').to.equal(200);

      await redis.kill();
      try {
        await sleep(50);
        await expectUnavailable(kit, app, 'killed', token);
        const logout = await app.http.post('/wx/logout').set('X-WX-Session', token);
        expect(logout.status).to.equal(503);
        expect(logout.body.code).to.equal('WX_STORE_UNAVAILABLE');
      } finally {
        await redis.restart();
      }
      const back = await pollUntil(() => app.http.post('/wx/login').send({ code: mock.issueCode() }), (r) => r.status === 200, 3000, 50);
      expect(back.accepted, `login after Redis came back: ${back.value.status}`).to.equal(true);
      const me = await app.http.get('/me').set('X-WX-Session', back.value.body.token as string);
      expect(me.status).to.equal(200);
      // Both stores' subscriptions are back before the stores are closed.
      await waitForSubscribers(admin, `ad-${name}:changed`, 2);
    });
  }
});
