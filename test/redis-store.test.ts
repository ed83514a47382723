// RedisStore on a real redis-server, in process (issue parts 3-5; DESIGN.md §7 Store):
//   - every operation is bounded by `timeout`: a paused (SIGSTOP) Redis makes it reject, not
//     hang, and the late answers cause no unhandled rejection;
//   - the in-process cache: a second read costs no Redis round trip; a change announced by
//     another store drops the copy at once; while the subscription is down nothing is served
//     from it, nor is a read made while it was down cached afterwards; a write that timed out
//     but landed later does not leave other caches stale; close() mid-reconnect is quiet;
//   - the shared access token (SharedTokenSource over store.accessTokens): one stable_token call
//     for two cores, a lost lock expires, a waiter takes the winner's token, a refused token is
//     renewed once for both;
//   - the key prefix, and the user's client is never closed; with `wait`, writes go on the store's
//     own connection, so a read on the user's client never waits behind a WAIT;
//   - through every adapter: a paused or killed Redis answers 503 WX_STORE_UNAVAILABLE.
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createWxSession, type WxSession, type WxSessionCore } from '../src/index.js';
import { RedisStore, type RedisStoreOptions } from '../src/redis.js';
import { sampleId, sampleRecord, startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { accessTokenContext, Sealer } from '../src/seal.js';
import { adapters, coreOptions, SECRET, startApp, type TestApp } from './helpers.js';
import { commandCalls, requireRedis, startControlledRedis, startHoldingProxy, waitFor, waitForSubscribers, type ControlledRedis } from './support-redis-extra.js';

const STABLE = '/cgi-bin/stable_token';
const CHECK = '/wxa/checksession';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Another instance, as a child process: connects to PORT (this test's "HTTP" socket) and waits;
 * on "go" it sends the first bytes of a request, logs KEY out in Redis and announces it on
 * CHANNEL as a RedisStore does, and only then sends the rest of the request.
 */
const OTHER_INSTANCE = `
const net = require('node:net');
const resp = (...args) => '*' + args.length + '\\r\\n' + args.map((a) => '$' + Buffer.byteLength(a) + '\\r\\n' + a + '\\r\\n').join('');
const request = net.connect(Number(process.env.PORT), '127.0.0.1', () => {
  const redis = net.connect(Number(process.env.REDIS_PORT), '127.0.0.1', () => {
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      request.write('x');
      redis.write(resp('DEL', process.env.KEY));
      redis.once('data', () => {
        redis.write(resp('PUBLISH', process.env.CHANNEL, process.env.MESSAGE));
        redis.once('data', () => {
          request.write('y');
          process.stdout.write('done\\n');
        });
      });
    });
  });
});
`;

interface Settled {
  ok: boolean;
  value?: unknown;
  error?: unknown;
  ms: number;
}

async function settle(promise: Promise<unknown>): Promise<Settled> {
  const started = Date.now();
  try {
    const value = await promise;
    return { ok: true, value, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - started };
  }
}

/**
 * Runs `fn` with this test's own unhandled-rejection listener in place of the others (test/setup.ts
 * would fail the *hook*, aborting the rest of the file), and returns what it caught, for the test
 * to assert on. `settleMs` lets late rejections surface before the listener is removed.
 */
async function unhandledDuring(fn: () => Promise<void>, settleMs = 100): Promise<string[]> {
  const others = process.listeners('unhandledRejection');
  const caught: unknown[] = [];
  const mine = (reason: unknown) => caught.push(reason);
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', mine);
  try {
    await fn();
    await sleep(settleMs);
  } finally {
    process.off('unhandledRejection', mine);
    for (const listener of others) process.on('unhandledRejection', listener as (...args: unknown[]) => void);
  }
  return caught.map((reason) => (reason instanceof Error ? `${reason.message}\n${reason.stack}` : String(reason)));
}

/** Polls `read` until `accept(value)` or `within` ms; returns the last value and when it was read. */
async function pollUntil<T>(read: () => Promise<T>, accept: (value: T) => boolean, within: number, every = 5): Promise<{ value: T; ms: number; accepted: boolean }> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    const ms = Date.now() - started;
    if (accept(value)) return { value, ms, accepted: true };
    if (ms > within) return { value, ms, accepted: false };
    await sleep(every);
  }
}

describe('RedisStore on a real Redis', function () {
  requireRedis(this);
  this.timeout(15_000);

  let redis: ControlledRedis;
  let admin: Redis;
  let mock: MockWeChat;
  let stores: RedisStore[] = [];
  let clients: Redis[] = [];
  let apps: TestApp[] = [];

  /** A client of the test's own, closed after the test. */
  function client(): Redis {
    const made = redis.client();
    clients.push(made);
    return made;
  }

  function store(options: Omit<RedisStoreOptions, 'client'> & { client?: Redis } = {}): RedisStore {
    const made = new RedisStore({ client: options.client ?? client(), ...options });
    stores.push(made);
    return made;
  }

  async function session(core: WxSessionCore, openid?: string): Promise<WxSession> {
    return (await core.login(mock.issueCode(openid))).session;
  }

  before(async function () {
    redis = await startControlledRedis();
    admin = redis.client();
    mock = await startMockWeChat();
  });

  afterEach(async function () {
    if (redis.paused) redis.resume();
    if (!redis.running) await redis.restart();
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(stores.map((made) => made.close()));
    for (const made of clients) made.disconnect();
    apps = [];
    stores = [];
    clients = [];
    mock.clearFaults();
  });

  after(async function () {
    await redis?.stop();
    await mock?.close();
  });

  describe('bounded operations', () => {
    it('every operation rejects within timeout + slack while Redis is paused, and the late answers are absorbed', async () => {
      const own = client();
      const s = store({ client: own, prefix: 'pause:', timeout: 200 });
      await waitForSubscribers(admin, 'pause:changed', 1);
      const kept = sampleId();
      await s.set(kept, sampleRecord(), 60_000);
      // A key of the wrong type: its late answer to GET is an error, which must not surface either.
      await admin.hset('pause:wrongtype', 'field', 'value');
      expect(await settle(s.get('wrongtype'))).to.include({ ok: false });

      const unhandled = await unhandledDuring(async () => {
        redis.pause();
        const results = await Promise.all([
          settle(s.get(sampleId())),
          settle(s.get('wrongtype')),
          settle(s.set(sampleId(), sampleRecord(), 60_000)),
          settle(s.destroy(sampleId())),
          settle(s.touch(kept, 60_000)),
          settle(s.accessTokens.get('wxpaused')),
          settle(s.accessTokens.set('wxpaused', 'token', 60_000)),
          settle(s.accessTokens.drop('wxpaused', 'token')),
          settle(s.accessTokens.lock('wxpaused', 'fetch', 5000)),
        ]);
        redis.resume();
        for (const [index, result] of results.entries()) {
          expect(result.ok, `operation ${index} settled while Redis was paused`).to.equal(false);
          expect(result.error, `operation ${index}`).to.be.instanceOf(Error);
          expect(result.ms, `operation ${index} took ${result.ms} ms`).to.be.within(150, 600);
        }
        // Same connection, so once this answers every queued command was answered too.
        expect(await own.ping()).to.equal('PONG');
      });
      expect(unhandled, 'unhandled rejections from late answers').to.deep.equal([]);
      // And the store works again.
      const id = sampleId();
      const record = sampleRecord();
      await s.set(id, record, 60_000);
      expect(await s.get(id)).to.deep.equal(record);
    });

    it('a killed Redis makes operations reject within the timeout, and they work again once it is back', async () => {
      const s = store({ prefix: 'kill:', timeout: 300 });
      await waitForSubscribers(admin, 'kill:changed', 1);
      const id = sampleId();
      await s.set(id, sampleRecord(), 60_000);
      await redis.kill();
      try {
        // (A record it had cached may still be served for the few ms until it sees the connection close.)
        const results = await Promise.all([settle(s.get(sampleId())), settle(s.set(sampleId(), sampleRecord(), 60_000)), settle(s.destroy(id)), settle(s.accessTokens.get('wxkill'))]);
        for (const result of results) {
          expect(result.ok).to.equal(false);
          expect(result.ms).to.be.below(300 + 300);
        }
      } finally {
        await redis.restart();
      }
      const back = await pollUntil(() => settle(s.set(id, sampleRecord(), 60_000)), (r) => r.ok, 3000, 50);
      expect(back.accepted, 'set works again after the restart').to.equal(true);
      expect(await s.get(id)).to.have.property('openid');
      await waitForSubscribers(admin, 'kill:changed', 1); // resubscribed before the store is closed
    });
  });

  describe('the in-process cache', () => {
    it('serves a second read without a Redis round trip (and without the cache, every read is one)', async () => {
      const writer = store({ prefix: 'hot:' });
      const reader = store({ prefix: 'hot:' });
      const uncached = store({ prefix: 'hot:', cache: false });
      await waitForSubscribers(admin, 'hot:changed', 2);
      const id = sampleId();
      const record = sampleRecord();
      await writer.set(id, record, 60_000);
      await sleep(30); // a read that overlaps an announcement is (rightly) not cached

      const start = await commandCalls(admin, 'get');
      expect(await reader.get(id)).to.deep.equal(record);
      const afterFirst = await commandCalls(admin, 'get');
      expect(afterFirst - start, 'the first read goes to Redis').to.equal(1);
      for (let i = 0; i < 5; i++) expect(await reader.get(id)).to.deep.equal(record);
      const afterHits = await commandCalls(admin, 'get');
      expect(afterHits - afterFirst, 'Redis GETs for five cached reads').to.equal(0);

      // The counter does see reads that miss.
      await uncached.get(id);
      await uncached.get(id);
      expect((await commandCalls(admin, 'get')) - afterHits).to.equal(2);
    });

    it('a set, touch or destroy announced by another store drops the cached copy within 100 ms', async () => {
      const a = store({ prefix: 'coh:' });
      const b = store({ prefix: 'coh:' });
      await waitForSubscribers(admin, 'coh:changed', 2);
      const id = sampleId();
      const first = sampleRecord(60_000, { data: { score: 1 } });
      await b.set(id, first, 60_000);
      await sleep(30); // a read that overlaps an announcement is (rightly) not cached
      expect(await a.get(id)).to.deep.equal(first);
      const before = await commandCalls(admin, 'get');
      expect(await a.get(id)).to.deep.equal(first);
      expect((await commandCalls(admin, 'get')) - before, 'A serves its cached copy').to.equal(0);

      const second = { ...first, data: { score: 2 } };
      await b.set(id, second, 60_000);
      const seen = await pollUntil(() => a.get(id), (r) => (r?.data as { score?: number } | undefined)?.score === 2, 100);
      expect(seen.accepted, `A still had ${JSON.stringify(seen.value)} after ${seen.ms} ms`).to.equal(true);
      expect(seen.value).to.deep.equal(second);

      const touchedFrom = Date.now();
      await b.touch(id, 120_000);
      const touched = await pollUntil(() => a.get(id), (r) => !!r && r.expiresAt >= touchedFrom + 120_000, 100);
      expect(touched.accepted, 'A sees the touched expiresAt').to.equal(true);

      await b.destroy(id);
      const gone = await pollUntil(() => a.get(id), (r) => r === undefined, 100);
      expect(gone.accepted, `A still served the destroyed record ${gone.ms} ms later`).to.equal(true);
    });

    it('while its subscription is down, a store reads Redis every time instead of its cache', async () => {
      const a = store({ prefix: 'down:' });
      await waitForSubscribers(admin, 'down:changed', 1);
      const id = sampleId();
      const v1 = sampleRecord(60_000, { data: { v: 1 } });
      await a.set(id, v1, 60_000);
      // A write behind the store's back (not announced): the cache hides it while subscribed.
      const v2 = { ...v1, data: { v: 2 } };
      await admin.set(`down:${id}`, JSON.stringify(v2), 'PX', 60_000);
      expect(await a.get(id), 'served from the cache while subscribed').to.deep.equal(v1);

      // Take the subscription down and keep it down: kill it and refuse its reconnection.
      const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
      await admin.config('SET', 'maxclients', String(connected - 1));
      try {
        expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).to.equal(1);
        await sleep(200);
        expect(((await admin.pubsub('NUMSUB', 'down:changed')) as [string, number])[1]).to.equal(0);

        expect(await a.get(id), 'read from Redis once the subscription is down').to.deep.equal(v2);
        const v3 = { ...v1, data: { v: 3 } };
        await admin.set(`down:${id}`, JSON.stringify(v3), 'PX', 60_000);
        const before = await commandCalls(admin, 'get');
        expect(await a.get(id), 'nothing was cached while down').to.deep.equal(v3);
        expect(await a.get(id)).to.deep.equal(v3);
        expect((await commandCalls(admin, 'get')) - before, 'each read went to Redis').to.equal(2);
      } finally {
        await admin.config('SET', 'maxclients', '10000');
      }
      // Subscribed again: the cache is back in use.
      await waitForSubscribers(admin, 'down:changed', 1);
      await a.get(id);
      const before = await commandCalls(admin, 'get');
      await a.get(id);
      expect((await commandCalls(admin, 'get')) - before, 'cached again once resubscribed').to.equal(0);
    });

    it('a destroy that timed out while Redis was paused but landed when it resumed does not leave another store serving the record', async () => {
      // B's logout answered 503 (timeout), yet Redis ran the DEL once it resumed. A, which had the
      // session cached, must not keep serving it: Redis no longer holds it.
      const a = store({ prefix: 'late:', timeout: 200 });
      const bClient = client();
      const b = store({ client: bClient, prefix: 'late:', timeout: 200 });
      await waitForSubscribers(admin, 'late:changed', 2);
      const id = sampleId();
      const record = sampleRecord();
      await b.set(id, record, 60_000);
      await sleep(30);
      expect(await a.get(id)).to.deep.equal(record);
      const before = await commandCalls(admin, 'get');
      expect(await a.get(id)).to.deep.equal(record);
      expect((await commandCalls(admin, 'get')) - before, 'A has the record cached').to.equal(0);

      redis.pause();
      const timedOut = await settle(b.destroy(id));
      redis.resume();
      expect(timedOut.ok, 'destroy timed out while paused').to.equal(false);
      await bClient.ping(); // the queued DEL has run
      expect(await admin.exists(`late:${id}`), 'Redis ran the late DEL').to.equal(0);

      const gone = await pollUntil(() => a.get(id), (r) => r === undefined, 1000, 50);
      expect(gone.accepted, `A still served a record Redis no longer holds ${gone.ms} ms after Redis resumed`).to.equal(true);
    });
    it('a read that started while the subscription was down is not cached once it is back', async () => {
      // Changes announced while A was not listening are lost to A; a record A read in that time
      // may be one of them, so it must not be cached even if its answer arrives after A
      // resubscribed. The proxy holds A's answers to freeze it at each step.
      const proxy = await startHoldingProxy(redis.port);
      try {
        const viaProxy = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
        viaProxy.on('error', () => {});
        clients.push(viaProxy);
        const a = store({ client: viaProxy, prefix: 'gap:' });
        const b = store({ prefix: 'gap:' });
        await waitForSubscribers(admin, 'gap:changed', 2);
        const id = sampleId();
        const v1 = sampleRecord(60_000, { data: { v: 1 } });
        const v2 = { ...v1, data: { v: 2 } };
        await b.set(id, v1, 60_000);

        // A's subscription connection drops; its reconnection stalls before ready.
        proxy.holdWhenSent('info');
        proxy.drop('subscribe');
        await waitFor(() => proxy.holding('info') === 1, "A's subscriber reconnecting");
        // A reads (Redis answers v1, A hears it late)...
        proxy.holdWhenSent('get');
        const reading = a.get(id);
        reading.catch(() => {}); // awaited below
        await waitFor(() => proxy.holding('get') === 1, "A's read sent");
        // ...B changes the record, announced while A is not listening...
        await b.set(id, v2, 60_000);
        // ...A subscribes again, then hears the answer to its read.
        proxy.release('info');
        await waitForSubscribers(admin, 'gap:changed', 2);
        proxy.release('get');
        expect(await reading, 'what Redis held when it answered').to.deep.equal(v1);

        expect(JSON.parse((await admin.get(`gap:${id}`))!)).to.deep.equal(v2);
        expect(await a.get(id), 'A serves a record Redis no longer holds').to.deep.equal(v2);
      } finally {
        await proxy.close();
      }
    });

    it('close() while the subscription is reconnecting causes no unhandled rejection', async () => {
      // Shutting down while Redis is coming back: the subscriber has sent its ready check; the
      // answer arrives just after close() began.
      const proxy = await startHoldingProxy(redis.port);
      try {
        const viaProxy = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
        viaProxy.on('error', () => {});
        clients.push(viaProxy);
        const s = new RedisStore({ client: viaProxy, prefix: 'closing:' });
        await waitForSubscribers(admin, 'closing:changed', 1);
        proxy.holdWhenSent('info');
        proxy.drop('subscribe');
        await waitFor(() => proxy.holding('info') === 1, 'the subscriber reconnecting');
        const unhandled = await unhandledDuring(async () => {
          const closing = s.close();
          proxy.release('info');
          await closing;
        });
        expect(unhandled, 'unhandled rejections').to.deep.equal([]);
        expect(viaProxy.status).to.equal('ready');
      } finally {
        await proxy.close();
      }
    });
  });

  describe('a logout is final, and one account cannot crowd out the others (issue #10 parts 1 and 4)', () => {
    it("a save whose answer arrives after another instance's logout of that session does not put the session back into the cache", async () => {
      // B's update ran in Redis just before A's logout; B hears its answer only after it heard A's
      // announcement. B must not cache what it wrote: the session is gone.
      const proxy = await startHoldingProxy(redis.port);
      try {
        const viaProxy = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
        viaProxy.on('error', () => {});
        clients.push(viaProxy);
        const a = store({ prefix: 'recache:' });
        const b = store({ client: viaProxy, prefix: 'recache:' });
        await waitForSubscribers(admin, 'recache:changed', 2);
        const id = sampleId();
        const record = sampleRecord();
        await a.set(id, record, 60_000);
        proxy.holdWhenSent('set'); // B's command connection: Redis runs its SET ... XX, B hears nothing yet
        const saving = b.update(id, { ...record, data: { saved: true } }, 60_000);
        saving.catch(() => {}); // awaited below
        await waitFor(() => proxy.holding('set') === 1, "B's save sent");
        await waitFor(async () => (await admin.exists(`recache:${id}`)) === 1 && JSON.parse((await admin.get(`recache:${id}`))!).data.saved === true, "B's save ran");
        await a.destroy(id); // announced: B's subscription (not held) hears it
        await sleep(30);
        proxy.release('set');
        expect(await saving, 'the save ran before the logout').to.equal(true);
        expect(await admin.exists(`recache:${id}`)).to.equal(0);
        expect(await b.get(id), 'B serves the logged-out session from its cache').to.equal(undefined);
      } finally {
        await proxy.close();
      }
    });

    it('a request read in the same event-loop turn as the announcement of a logout does not get the cached copy', async () => {
      // Another instance logs the session out and then a request for it reaches this process on a
      // connection that already had unread bytes (a proxy's keep-alive connection): the request's
      // socket is read before the subscription's, in one turn of the loop. A cached copy must
      // only be answered once the loop has read every socket that was ready.
      const b = store({ prefix: 'turn:' });
      await waitForSubscribers(admin, 'turn:changed', 1);
      const id = sampleId();
      await b.set(id, sampleRecord(), 60_000);
      await sleep(30);
      await b.get(id);
      const before = await commandCalls(admin, 'get');
      await b.get(id);
      expect((await commandCalls(admin, 'get')) - before, 'B has the session cached').to.equal(0);

      const answers: unknown[] = [];
      let accepted = false;
      const server = createNetServer((socket) => {
        accepted = true;
        socket.on('data', (chunk: Buffer) => {
          if (chunk.includes('y')) b.get(id).then((record) => answers.push(record ?? 'none'), (error: unknown) => answers.push(error));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const child = spawn(process.execPath, ['-e', OTHER_INSTANCE], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, PORT: String((server.address() as { port: number }).port), REDIS_PORT: String(redis.port), KEY: `turn:${id}`, CHANNEL: 'turn:changed', MESSAGE: `another-instance ${id}` },
      });
      try {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        await waitFor(() => out.includes('ready') && accepted, 'the other instance connected');
        child.stdin!.write('go\n');
        const until = Date.now() + 400; // busy: the bytes, the logout and the request all arrive meanwhile
        while (Date.now() < until) {
          // spin
        }
        await waitFor(() => answers.length === 1, 'the answer to the request');
        expect(out).to.include('done');
        expect(await admin.exists(`turn:${id}`)).to.equal(0);
        expect(answers[0], 'the request after the logout got the cached session').to.equal('none');
      } finally {
        child.kill();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it("the user's list lives at least as long as the user's longest session (set, update, touch)", async () => {
      const s = store({ prefix: 'ulist:' });
      const openid = 'oListed';
      const id = sampleId();
      const record = sampleRecord(60_000, { openid });
      await s.set(id, record, 60_000);
      expect(await admin.zrange(`ulist:user:${openid}`, '0', '-1')).to.deep.equal([id]);
      expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(59_000, 60_000);
      expect(await s.update(id, { ...record, expiresAt: Date.now() + 120_000 }, 120_000)).to.equal(true);
      expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(119_000, 120_000);
      await s.touch(id, 300_000);
      expect(await admin.pttl(`ulist:user:${openid}`)).to.be.within(299_000, 300_000);
      // A shorter session does not shorten it.
      await s.set(sampleId(), sampleRecord(10_000, { openid }), 10_000);
      expect(await admin.pttl(`ulist:user:${openid}`)).to.be.above(290_000);
      await s.destroy(id);
      expect(await admin.zrange(`ulist:user:${openid}`, '0', '-1'), 'destroy takes the id off the list').to.have.length(1);
    });

    it("with noeviction and little memory, a flood of one openid's logins (capped) never makes another user's login fail", async () => {
      // Issue #10 part 4: 6,230 sessions of one openid filled Redis; every other login answered 503.
      const s = store({ prefix: 'oom:' });
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', String(used + 1_000_000));
      try {
        const openid = 'oFlooding';
        const pad = 'x'.repeat(4000);
        const failures: string[] = [];
        for (let batch = 0; batch < 20; batch++) {
          await Promise.all(
            Array.from({ length: 25 }, async (_, i) => {
              try {
                await s.set(sampleId(), sampleRecord(60_000, { openid, data: { pad }, createdAt: Date.now() + batch * 25 + i }), 60_000);
                await s.limitSessions(openid, 10);
              } catch (error) {
                failures.push(String((error as Error).message));
              }
            }),
          );
        }
        expect(failures.slice(0, 3), `${failures.length} of 500 logins of the flooding account failed`).to.deep.equal([]);
        const bystander = sampleId();
        await s.set(bystander, sampleRecord(), 60_000);
        expect(await s.get(bystander)).to.have.property('openid');
        expect(await admin.zcard(`oom:user:${openid}`)).to.be.at.most(10);
      } finally {
        await admin.config('SET', 'maxmemory', '0');
      }
    });
  });

  describe('the shared access token', () => {
    const PREFIX = 'tok:';
    let one: WxSessionCore;
    let two: WxSessionCore;
    let sessionsOne: WxSession[];
    let sessionsTwo: WxSession[];
    let persistent: RedisStore[] = [];
    /** The access token a core stored (sealed under the test secret), opened. */
    const opened = (sealed: string | null) => (sealed === null ? null : new Sealer([SECRET]).open(sealed, accessTokenContext(mock.appId)));
    const storedToken = async (key: string) => opened(await admin.get(key));

    before(async () => {
      // Two cores, as two instances would be: each its own client and store, one Redis.
      persistent = [new RedisStore({ client: redis.client(), prefix: PREFIX }), new RedisStore({ client: redis.client(), prefix: PREFIX })];
      one = createWxSession(coreOptions(mock, { store: persistent[0] }));
      two = createWxSession(coreOptions(mock, { store: persistent[1] }));
      sessionsOne = await Promise.all(Array.from({ length: 5 }, () => session(one)));
      sessionsTwo = await Promise.all(Array.from({ length: 5 }, () => session(two)));
    });

    after(async () => {
      await Promise.all(persistent.map((made) => made.close()));
    });

    it('50 concurrent checkKey() calls split across two cores make one stable_token call', async () => {
      await admin.del(`${PREFIX}token:${mock.appId}`);
      mock.resetCalls();
      const checks = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? sessionsOne[i % 5]! : sessionsTwo[i % 5]!).checkKey());
      const results = await Promise.all(checks);
      expect(results.every((ok) => ok === true), JSON.stringify(results)).to.equal(true);
      expect(mock.callsTo(CHECK).length).to.equal(50);
      expect(mock.callsTo(STABLE).length).to.equal(1);
      expect(await storedToken(`${PREFIX}token:${mock.appId}`)).to.equal(mock.currentAccessToken());
      expect(await admin.pttl(`${PREFIX}token:${mock.appId}`)).to.be.above(60_000);
      expect(await admin.exists(`${PREFIX}lock-fetch:${mock.appId}`), 'the lock was released').to.equal(0);
    });

    it('a token WeChat refuses is dropped from Redis and renewed once for both cores', async () => {
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
      expect(opened(renewed)).to.equal(mock.currentAccessToken());
      expect(mock.callsTo(CHECK).filter((c) => c.errcode === 0).length, 'every check succeeded on its retry').to.equal(20);

      // Afterwards both cores use the new token without asking again.
      mock.resetCalls();
      await Promise.all([sessionsOne[1]!.checkKey(), sessionsTwo[1]!.checkKey()]);
      expect(mock.callsTo(STABLE).length).to.equal(0);
    });

    it('the fetch lock is taken with an expiry (so a holder that dies cannot block the others for long) and released after the fetch', async () => {
      const prefix = 'lockttl:';
      const core = createWxSession(coreOptions(mock, { store: store({ prefix }) }));
      const s = await session(core);
      mock.fault(STABLE, { delay: 300 }, { times: 1 });
      mock.resetCalls();
      const checking = s.checkKey();
      checking.catch(() => {}); // awaited below; not unhandled if an assertion fails first
      const lockKey = `${prefix}lock-fetch:${mock.appId}`;
      await waitFor(async () => (await admin.exists(lockKey)) === 1, 'the fetch lock');
      const pttl = await admin.pttl(lockKey);
      // The core's lock lasts max(10 s, 2 x timeout): long enough for one fetch, not forever.
      expect(pttl, 'PTTL of the fetch lock').to.be.within(1, 10_000);
      expect(await checking).to.equal(true);
      expect(await admin.exists(lockKey), 'released after the fetch').to.equal(0);
      expect(mock.callsTo(STABLE).length).to.equal(1);
    });

    it('a lock whose holder died expires: the core fetches the token once the lock is gone', async () => {
      const prefix = 'lost:';
      const core = createWxSession(coreOptions(mock, { store: store({ prefix }) }));
      const s = await session(core);
      await admin.set(`${prefix}lock-fetch:${mock.appId}`, 'a-dead-instance', 'PX', 300);
      mock.resetCalls();
      const started = Date.now();
      expect(await s.checkKey()).to.equal(true);
      const elapsed = Date.now() - started;
      expect(elapsed, 'waited for the dead lock to expire').to.be.at.least(250);
      expect(elapsed, 'but not much longer').to.be.below(300 + 1000);
      expect(mock.callsTo(STABLE).length).to.equal(1);
      expect(await storedToken(`${prefix}token:${mock.appId}`)).to.equal(mock.currentAccessToken());
    });

    it('a core that loses the lock waits for the winner\'s token instead of fetching its own', async () => {
      const prefix = 'wait:';
      const core = createWxSession(coreOptions(mock, { store: store({ prefix }) }));
      const s = await session(core);
      // Another instance holds the lock for a long while and is fetching.
      await admin.set(`${prefix}lock-fetch:${mock.appId}`, 'the-winner', 'PX', 5000);
      const res = await fetch(`${mock.url}/cgi-bin/stable_token`, {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: false }),
      });
      const winners = (await res.json()) as { access_token: string };
      mock.resetCalls();
      const started = Date.now();
      const checking = s.checkKey();
      checking.catch(() => {}); // awaited below
      await sleep(200);
      // Stored as a core stores it: sealed (DESIGN.md §8, nothing usable at rest).
      await admin.set(`${prefix}token:${mock.appId}`, new Sealer([SECRET]).seal(winners.access_token, accessTokenContext(mock.appId)), 'PX', 60_000);
      expect(await checking).to.equal(true);
      expect(Date.now() - started).to.be.below(200 + 500);
      expect(mock.callsTo(STABLE).length, 'the waiting core fetched on its own').to.equal(0);
      expect(mock.callsTo(CHECK)[0]!.errcode).to.equal(0);
      await admin.del(`${prefix}lock-fetch:${mock.appId}`);
    });
    it('a core that found no token just before another core stored it and released the lock does not fetch again', async () => {
      // The gap between "no shared token" and "take the lock": the other core fetches, stores
      // and unlocks in between. The lock alone does not make the fetch single: the token must be
      // looked up again once the lock is held.
      const prefix = 'gap-token:';
      const proxy = await startHoldingProxy(redis.port);
      try {
        const viaProxy = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
        viaProxy.on('error', () => {});
        clients.push(viaProxy);
        const slow = createWxSession(coreOptions(mock, { store: store({ client: viaProxy, prefix }) }));
        const fast = createWxSession(coreOptions(mock, { store: store({ prefix }) }));
        const [slowSession, fastSession] = await Promise.all([session(slow), session(fast)]);
        mock.resetCalls();

        proxy.holdWhenSent('eval'); // the slow core's token lookup: Redis answers "none", late
        const slowCheck = slowSession.checkKey();
        slowCheck.catch(() => {}); // awaited below
        await waitFor(() => proxy.holding('eval') === 1, 'the slow core looking up the token');
        expect(await fastSession.checkKey()).to.equal(true); // fetches, stores, unlocks
        expect(mock.callsTo(STABLE).length).to.equal(1);
        expect(await admin.exists(`${prefix}lock-fetch:${mock.appId}`)).to.equal(0);
        proxy.release('eval');
        expect(await slowCheck).to.equal(true);
        expect(mock.callsTo(STABLE).length, 'stable_token calls for the two cores').to.equal(1);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('keys and connections', () => {
    it('every key and the channel live under the prefix option (default "wxs:")', async () => {
      await admin.flushall();
      const prefix = 'myapp:sessions:';
      const s = store({ prefix });
      await waitForSubscribers(admin, `${prefix}changed`, 1);
      const core = createWxSession(coreOptions(mock, { store: s, checkSessionKey: { interval: 0 } }));
      const login = await core.login(mock.issueCode());
      const auth = await core.authenticate(login.token); // checks the key: token and lock keys
      expect(auth.session).to.not.equal(null);
      const keys = await admin.keys('*');
      expect(keys).to.include(`${prefix}${login.session.id}`);
      expect(keys).to.include(`${prefix}token:${mock.appId}`);
      for (const key of keys) expect(key.startsWith(prefix), key).to.equal(true);
      expect(await admin.pubsub('CHANNELS', '*')).to.deep.equal([`${prefix}changed`]);

      const plain = store();
      const id = sampleId();
      await plain.set(id, sampleRecord(), 60_000);
      expect(await admin.exists(`wxs:${id}`)).to.equal(1);
    });

    it('close() ends only the store\'s own subscription: the user\'s client stays open', async () => {
      const own = client();
      const s = store({ client: own, prefix: 'close:' });
      await waitForSubscribers(admin, 'close:changed', 1);
      const id = sampleId();
      await s.set(id, sampleRecord(), 60_000);
      await s.close();
      await s.close(); // twice is harmless
      expect(own.status).to.equal('ready');
      expect(await own.ping()).to.equal('PONG');
      expect(((await admin.pubsub('NUMSUB', 'close:changed')) as [string, number])[1]).to.equal(0);
      // Without its subscription the store still reads and writes (uncached).
      expect(await s.get(id)).to.have.property('openid');
    });

    it("with wait, writes go on the store's own connection: a read on the user's client never waits behind a WAIT, and close() ends that connection", async () => {
      const own = client();
      // No replica: each write's WAIT runs to its timeout, and the write is refused.
      const s = store({ client: own, prefix: 'waiting:', wait: { replicas: 1, timeout: 300 } });
      const id = sampleId();
      await admin.set(`waiting:${id}`, JSON.stringify(sampleRecord()), 'PX', 60_000);
      const saving = settle(s.update(id, sampleRecord(), 60_000));
      await sleep(50); // the save is waiting for a replica
      const started = Date.now();
      expect(await own.get(`waiting:${id}`)).to.be.a('string');
      const readMs = Date.now() - started;
      const saved = await saving;
      expect(readMs, "ms for a read on the user's client while a save WAITs").to.be.below(100);
      expect(saved.ok, 'a save no replica confirmed').to.equal(false);
      expect(String((saved.error as Error).message)).to.match(/not confirmed by 1 replica/);
      const writers = async () => ((await admin.call('CLIENT', 'LIST')) as string).split('\n').filter((line) => line.includes('name=waiting:write')).length;
      expect(await writers(), 'the store\'s write connection').to.equal(1);
      await s.close();
      expect(own.status).to.equal('ready');
      await waitFor(async () => (await writers()) === 0, 'the write connection closed');
    });
  });

  describe('through the adapters: a paused or killed Redis answers 503 WX_STORE_UNAVAILABLE', () => {
    for (const name of adapters) {
      it(name, async () => {
        // The app's store never saw this session, so it has to ask Redis for it.
        const loginCore = createWxSession(coreOptions(mock, { store: store({ prefix: `ad-${name}:` }) }));
        const app = await startApp(name, { mock, core: { store: store({ prefix: `ad-${name}:`, timeout: 300 }) } });
        apps.push(app);
        const { token } = await loginCore.login(mock.issueCode());
        expect((await app.http.get('/me').set('X-WX-Session', token)).status).to.equal(200);
        const unseen = (await loginCore.login(mock.issueCode())).token;

        const expectUnavailable = async (label: string, tok: string) => {
          const started = Date.now();
          const [me, whoami, login] = await Promise.all([
            app.http.get('/me').set('X-WX-Session', tok),
            app.http.get('/whoami').set('X-WX-Session', tok),
            app.http.post('/wx/login').send({ code: mock.issueCode() }),
          ]);
          const ms = Date.now() - started;
          expect(me.status, `${label} GET /me ${JSON.stringify(me.body)}`).to.equal(503);
          expect(me.body.code).to.equal('WX_STORE_UNAVAILABLE');
          expect(whoami.status, `${label} GET /whoami`).to.equal(200);
          expect(whoami.body).to.deep.equal({ session: false, openid: null, error: 'WX_STORE_UNAVAILABLE' });
          expect(login.status, `${label} login ${JSON.stringify(login.body)}`).to.equal(503);
          expect(login.body.code).to.equal('WX_STORE_UNAVAILABLE');
          expect(ms, `${label}: answers took ${ms} ms`).to.be.below(300 + 700);
        };

        redis.pause();
        try {
          await expectUnavailable('paused', unseen);
        } finally {
          redis.resume();
        }
        expect((await app.http.get('/me').set('X-WX-Session', unseen)).status, 'after resume').to.equal(200);

        await redis.kill();
        try {
          await sleep(50);
          await expectUnavailable('killed', token);
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
});

