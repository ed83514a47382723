// SECURITY.md on a real redis-server (issue 10, findings 3, 4 and 5), through the Express app:
//   - nothing usable at rest: a dump of every key holds no session_key and no access token;
//   - no secret in a cause chain: with Redis full (maxmemory + noeviction, as README recommends),
//     a failed save's error holds no command, argument or record at any depth;
//   - one account evicts no one: a flood of logins of one openid keeps at most 10 of its sessions
//     in Redis, and the other players' sessions and logins are untouched, with Redis full.
import { inspect } from 'node:util';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createWxSession, WxSessionError } from '../src/index.js';
import { coreOptions, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { captureLogger, expectNoSecrets } from './support/keys.js';
import { useRedisStores } from './support/redis-store-kit.js';
import { sessionIdOf } from './support/stores.js';

/** Every key and its value(s), as text: what a store dump would show. */
async function dump(admin: Redis): Promise<string> {
  const lines: string[] = [];
  for (const key of await admin.keys('*')) {
    const type = await admin.type(key);
    if (type === 'string') lines.push(`${key} ${await admin.get(key)}`);
    else if (type === 'zset') lines.push(`${key} ${(await admin.zrange(key, '0', '-1', 'WITHSCORES')).join(' ')}`);
    else if (type === 'set') lines.push(`${key} ${(await admin.smembers(key)).join(' ')}`);
    else if (type === 'hash') lines.push(`${key} ${JSON.stringify(await admin.hgetall(key))}`);
    else lines.push(`${key} (${type})`);
  }
  return lines.join('\n');
}

describe('SECURITY.md promises on a real Redis', function () {
  const kit = useRedisStores(this);
  let app: TestApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await kit.admin.config('SET', 'maxmemory', '0');
    await kit.admin.flushall();
  });

  it('nothing usable at rest: a dump after logins, key checks and a token fetch holds no session_key and no access token', async () => {
    app = await startApp('express5', { core: { store: kit.store(), checkSessionKey: { interval: 0 } } });
    const players = ['oDump1', 'oDump2', 'oDump3'];
    for (const openid of players) {
      const { token } = await app.login(openid);
      const me = await app.http.get('/me').set('X-WX-Session', token); // a key check: the access token is fetched and shared
      expect(me.status).to.equal(200);
    }
    expect(app.mock.callsTo('/cgi-bin/stable_token')).to.have.length(1);
    const text = await dump(kit.admin);
    expect(text).to.contain('wxs:token:');
    expect(text, 'sealed values are there').to.contain('wxs1.');
    expectNoSecrets(text, [...players.map((openid) => app!.mock.sessionKeyOf(openid)), app.mock.currentAccessToken(), app.mock.appSecret, SECRET], 'the Redis dump');
  });

  it("Redis full (maxmemory + noeviction): a failed save answers 503 and its error's cause holds no command, argument or record", async () => {
    const logger = captureLogger();
    const store = kit.store();
    const core = createWxSession(coreOptions((app = await startApp('express5')).mock, { store, logger, checkSessionKey: false }));
    const openid = 'oFullRedis';
    const { token } = await core.login(app.mock.issueCode(openid));
    const session = (await core.authenticate(token)).session!;
    await kit.admin.config('SET', 'maxmemory-policy', 'noeviction');
    await kit.admin.config('SET', 'maxmemory', '1');
    session.data.coins = 1;
    const error = await session.save().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.an.instanceOf(WxSessionError);
    expect((error as WxSessionError).code).to.equal('WX_STORE_UNAVAILABLE');
    const cause = (error as WxSessionError).cause as Error;
    expect(cause.message, 'the reason is kept').to.match(/OOM/);
    const shown = [inspect(error, { depth: Infinity, showHidden: true }), JSON.stringify(error), JSON.stringify(cause), logger.text].join('\n');
    expect(shown.includes(sessionIdOf(token)), 'no key name (the command arguments)').to.equal(false);
    expect(shown.includes('wxs1.'), 'no record').to.equal(false);
    expect(shown.includes(openid), 'no record').to.equal(false);
    expectNoSecrets(shown, [app.mock.sessionKeyOf(openid), app.mock.appSecret, SECRET], 'the error');
  });

  it('one account evicts no one: 200 logins of one openid keep 10 of its sessions; with Redis full, others still read', async () => {
    const store = kit.store();
    app = await startApp('express5', { core: { store, checkSessionKey: false } });
    const victim = await app.login('oVictimRedis');
    const flood: string[] = [];
    for (let i = 0; i < 200; i++) flood.push((await app.login('oFloodRedis')).token);
    const sessions = (await kit.admin.keys('wxs:*')).filter((key) => /^wxs:[A-Za-z0-9_-]{43}$/.test(key));
    expect(sessions, 'the victim and the flooder’s newest ten').to.have.length(11);
    const alive = await Promise.all(flood.map((token) => app!.http.get('/me').set('X-WX-Session', token).then((res) => res.status)));
    expect(alive.slice(-10)).to.deep.equal(Array(10).fill(200));
    expect(alive.slice(0, -10).every((status) => status === 401)).to.equal(true);
    // Memory full: new logins fail (503), existing sessions keep working.
    await kit.admin.config('SET', 'maxmemory-policy', 'noeviction');
    await kit.admin.config('SET', 'maxmemory', '1');
    expect((await app.http.get('/me').set('X-WX-Session', victim.token)).status).to.equal(200);
    const refused = await app.http.post('/wx/login').send({ code: app.mock.issueCode('oLate') });
    expect(refused.status).to.equal(503);
    expect(refused.body.code).to.equal('WX_STORE_UNAVAILABLE');
  });
});
