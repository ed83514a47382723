// The shared access token in Redis (SharedTokenSource over RedisStore.accessTokens), on a real
// redis-server: two cores, as two instances would be, make one stable_token call between them,
// and a token WeChat refused is dropped and renewed once for both.
import { expect } from 'chai';
import { createWxSession, type WxSession } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { coreOptions } from '../harness/apps.js';
import { useRedisStores } from './support/redis-store-kit.js';

const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';
const PREFIX = 'tok:';

describe('RedisStore on a real Redis: one shared access token for two cores', function () {
  const kit = useRedisStores(this);
  let sessionsOne: WxSession[];
  let sessionsTwo: WxSession[];
  let persistent: RedisStore[] = [];

  before(async () => {
    // Two cores, as two instances would be: each its own client and store, one Redis.
    persistent = [new RedisStore({ client: kit.redis.client(), prefix: PREFIX }), new RedisStore({ client: kit.redis.client(), prefix: PREFIX })];
    const one = createWxSession(coreOptions(kit.mock, { store: persistent[0] }));
    const two = createWxSession(coreOptions(kit.mock, { store: persistent[1] }));
    sessionsOne = await Promise.all(Array.from({ length: 5 }, () => kit.session(one)));
    sessionsTwo = await Promise.all(Array.from({ length: 5 }, () => kit.session(two)));
  });

  after(async () => {
    await Promise.all(persistent.map((made) => made.close()));
  });

  it('50 concurrent checkKey() calls split across two cores make one stable_token call', async () => {
    const { admin, mock } = kit;
    await admin.del(`${PREFIX}token:${mock.appId}`);
    mock.resetCalls();
    const checks = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? sessionsOne[i % 5]! : sessionsTwo[i % 5]!).checkKey());
    const results = await Promise.all(checks);
    expect(results.every((ok) => ok === true), JSON.stringify(results)).to.equal(true);
    expect(mock.callsTo(CHECK).length).to.equal(50);
    expect(mock.callsTo(STABLE).length).to.equal(1);
    expect(kit.openToken(await admin.get(`${PREFIX}token:${mock.appId}`))).to.equal(mock.currentAccessToken());
    expect(await admin.pttl(`${PREFIX}token:${mock.appId}`)).to.be.above(60_000);
    expect(await admin.exists(`${PREFIX}lock-fetch:${mock.appId}`), 'the lock was released').to.equal(0);
  });

  it('a token WeChat refuses is dropped from Redis and renewed once for both cores', async () => {
    const { admin, mock } = kit;
    await Promise.all([sessionsOne[0]!.checkKey(), sessionsTwo[0]!.checkKey()]); // both hold the token
    const old = await admin.get(`${PREFIX}token:${mock.appId}`);
    expect(old).to.be.a('string');
    mock.revokeAccessTokens();
    mock.resetCalls();

    const results = await Promise.all([...sessionsOne, ...sessionsTwo].flatMap((s) => [s.checkKey(), s.checkKey()]));
    expect(results.every((ok) => ok === true), JSON.stringify(results)).to.equal(true);
    const stable = mock.callsTo(STABLE);
    expect(stable.length, 'stable_token calls after the revocation').to.equal(1);
    expect(JSON.parse(stable[0]!.body ?? '{}').force_refresh).to.equal(false);
    const renewed = await admin.get(`${PREFIX}token:${mock.appId}`);
    expect(renewed).to.not.equal(old);
    expect(kit.openToken(renewed)).to.equal(mock.currentAccessToken());
    expect(mock.callsTo(CHECK).filter((c) => c.errcode === 0).length, 'every check succeeded on its retry').to.equal(20);

    // Afterwards both cores use the new token without asking again.
    mock.resetCalls();
    await Promise.all([sessionsOne[1]!.checkKey(), sessionsTwo[1]!.checkKey()]);
    expect(mock.callsTo(STABLE).length).to.equal(0);
  });
});
