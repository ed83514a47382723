// Fault injection, one matrix (DESIGN.md §4 error table, §6, §7): what each fault of WeChat (the
// mock, over real HTTP) and of Redis (a real redis-server) makes the server answer, how fast, and
// that no session that existed before the fault is lost or altered.
//
// A. WeChat: every call the server makes on a request path, through every adapter —
//      code2Session at login · checksession (interval 0) · stable_token for a check (first token,
//      and renewing one WeChat refused) · set_user_storage (a signed API) · stable_token for a
//      signed API (first token, renewal) · code2Session redeeming X-WX-Code after 87009 —
//    × late (a delay beyond `timeout`) · never (hang) · reset mid-body · HTTP 500 · 502 · 503 ·
//      truncated JSON · non-JSON · an unknown errcode.
//    Expected: 504 WX_UPSTREAM_TIMEOUT when late or never, 502 WX_UPSTREAM_ERROR otherwise (with
//    the errcode when WeChat gave one), except checksession and the token it needs, which fail
//    open (200, the session as it is, a warning without secrets). Every answer within
//    TIMEOUT + margin; every pre-existing session's stored record identical, its GET /me answer
//    identical, its token still good.
// B. Redis, with the real RedisStore: slow (paused past the store timeout), killed mid-request,
//    killed and restarted with persistence (nothing acknowledged is lost), refusing connections,
//    restarted without persistence (everything lost: 401 WX_SESSION_EXPIRED, never a copy from
//    the in-process cache). 503 WX_STORE_UNAVAILABLE where the store is needed, within the store
//    timeout + margin, and the server recovers.
// test/setup.ts fails any test during which a rejection goes unhandled.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { Response } from 'supertest';
import { createWxSession, type SessionRecord, type SessionStore, type WxSessionCore } from '../src/index.js';
import { RedisStore } from '../src/redis.js';
import { startMockWeChat, type MockFault, type MockWeChat } from '../src/testing/index.js';
import { adapters, coreOptions, SECRET, sleep, startApp, type AdapterName, type TestApp } from './helpers.js';
import { encryptUserData, expectNoSecrets, expectStoredKey, MemoryTokenCache, openSharedToken, RecordingStore, sessionIdOf, startKeysApp, userPayload, withClockAhead, type KeysApp } from './support-keys.js';
import { checkOutagePause } from '../src/core.js';
import { commandCalls, requireRedis, startControlledRedis, waitFor, waitForSubscribers, type ControlledRedis } from './support-redis-extra.js';
import { expectErrorBody, INVALID_TOKEN } from './support-wire.js';

/** The core's `timeout` (ms per WeChat call). */
const TIMEOUT = 250;
/** Every faulted WeChat answer comes within this (the timeout plus room for a noisy machine). */
const BOUND = TIMEOUT + 750;
/** The RedisStore's `timeout`. */
const STORE_TIMEOUT = 300;
const STORE_BOUND = STORE_TIMEOUT + 700;

const C2S = '/sns/jscode2session';
const CHECK = '/wxa/checksession';
const STABLE = '/cgi-bin/stable_token';
const STORAGE = '/wxa/set_user_storage';
const UNKNOWN_ERRCODE = 61234;
const H = 'X-WX-Session';
/** How far to move the clock to be past the pause of key checks after an outage (interval 0). */
const PAST_PAUSE = checkOutagePause(0) + 100;

/** How the server should see a fault: it timed out, it could not read an answer, or WeChat said an errcode. */
type Kind = 'timeout' | 'unreadable' | 'errcode';

const FAULTS: ReadonlyArray<{ name: string; fault: MockFault; kind: Kind }> = [
  { name: 'late (answers after the timeout)', fault: { delay: TIMEOUT + 1500 }, kind: 'timeout' },
  { name: 'never (hangs)', fault: { hang: true }, kind: 'timeout' },
  { name: 'reset mid-body', fault: { reset: true }, kind: 'unreadable' },
  { name: 'HTTP 500', fault: { status: 500 }, kind: 'unreadable' },
  { name: 'HTTP 502 (HTML)', fault: { status: 502, body: '<html>502 Bad Gateway</html>' }, kind: 'unreadable' },
  { name: 'HTTP 503 (JSON errcode -1)', fault: { status: 503, body: '{"errcode":-1,"errmsg":"system busy"}' }, kind: 'unreadable' },
  { name: 'truncated JSON', fault: { body: '{"errcode":0,"errmsg":"o' }, kind: 'unreadable' },
  { name: 'a non-JSON body', fault: { body: '<html>system busy</html>' }, kind: 'unreadable' },
  { name: `an unknown errcode (${UNKNOWN_ERRCODE})`, fault: { errcode: UNKNOWN_ERRCODE }, kind: 'errcode' },
];

/** DESIGN.md §4: what a call that does not fail open answers for each kind of fault. */
const UPSTREAM: Readonly<Record<Kind, { status: number; code: string }>> = {
  timeout: { status: 504, code: 'WX_UPSTREAM_TIMEOUT' },
  unreadable: { status: 502, code: 'WX_UPSTREAM_ERROR' },
  errcode: { status: 502, code: 'WX_UPSTREAM_ERROR' },
};

function describeUpstream(kind: Kind): string {
  const { status, code } = UPSTREAM[kind];
  return `${status} ${code}${kind === 'errcode' ? ` (errcode ${UNKNOWN_ERRCODE})` : ''}`;
}

/**
 * The error answer of the table. `errcode`: the number WeChat said, undefined for none, or
 * 'either' where the answer may or may not repeat it (a failure met inside authenticate, whose
 * result carries only the ErrorCode).
 */
function expectError(res: Response, status: number, code: string, errcode?: number | 'either'): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  if (errcode === 'either') {
    expect(res.body.code).to.equal(code);
    expect(res.body.message).to.be.a('string').and.not.equal('');
    if ('errcode' in res.body) expect(res.body.errcode).to.equal(UNKNOWN_ERRCODE);
    expect(Object.keys(res.body).every((key) => ['code', 'message', 'errcode'].includes(key)), JSON.stringify(res.body)).to.equal(true);
  } else {
    expectErrorBody(res.body, code, errcode);
  }
}

async function timed(request: PromiseLike<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await request;
  return { res, ms: Date.now() - started };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------
// A. WeChat faults

/**
 * Where a core keeps its access token: in process (StableTokenSource, a store without
 * `accessTokens`), or shared between instances through the store (SharedTokenSource, what a
 * RedisStore gives), each a path of its own to stable_token.
 */
const TOKEN_SOURCES = [
  { label: 'cached in process', shared: false },
  { label: 'shared through store.accessTokens', shared: true },
] as const;

/** The token source is the core's, not the adapter's: the shared one runs on one Express and one Koa. */
const tokenSourcesFor = (name: AdapterName) => TOKEN_SOURCES.filter((tokens) => !tokens.shared || name === 'express5' || name === 'koa3');

/** A session logged in before any fault: what the store held for it and what GET /me answered. */
interface Existing {
  label: string;
  openid: string;
  token: string;
  record: SessionRecord;
  me: unknown;
}

for (const name of adapters) describe(`faults: WeChat × every call on a request path (${name})`, function () {
  this.timeout(10_000);

  let mock: MockWeChat;
  /** One store for every app below: they are instances of one server. */
  let store: RecordingStore;
  /** checkSessionKey: false — reads sessions without calling WeChat or writing the store. */
  let reader: KeysApp;
  /** checkSessionKey: { interval: 0 } — every request checks the key. */
  let checking: KeysApp;
  /** checkSessionKey: false — the signed APIs alone talk to WeChat. */
  let signing: KeysApp;
  let existing: Existing[] = [];
  let probes = 0;

  const appOn = (core: Record<string, unknown>) => startKeysApp(name, { mock, core: { store, timeout: TIMEOUT, ...core } });

  /**
   * A new instance on the same sessions, holding no access token yet: the store's records behind
   * a store of its own, with (shared) or without an empty token cache.
   */
  function freshApp(core: Record<string, unknown>, shared: boolean): Promise<KeysApp> {
    const sessions: SessionStore = {
      get: (id) => store.get(id),
      set: (id, record, ttlMs) => store.set(id, record, ttlMs),
      destroy: (id) => store.destroy(id),
      touch: (id, ttlMs) => store.touch(id, ttlMs),
    };
    sharedTokens = shared ? new MemoryTokenCache() : undefined;
    return appOn({ ...core, store: sharedTokens ? { ...sessions, accessTokens: sharedTokens } : sessions });
  }
  let sharedTokens: MemoryTokenCache | undefined;

  /** After recovery, a shared token is where the other instances would find it. */
  async function expectTokenShared(shared: boolean): Promise<void> {
    if (!shared) return;
    const held = await sharedTokens!.get(mock.appId);
    const current = mock.currentAccessToken();
    // Sealed, as every token a store holds (DESIGN.md §8 "Nothing usable at rest").
    expect(held !== undefined && held.token !== current && !held.token.includes(current ?? '\u0000'), 'the shared cache holds the token sealed, not in clear').to.equal(true);
    expect(openSharedToken(held, mock.appId) === current, 'the renewed token is in the shared cache').to.equal(true);
  }

  async function loginThrough(app: KeysApp, openid: string, extra: { unionid?: string; userInfo?: boolean } = {}): Promise<string> {
    const code = mock.issueCode(openid, extra.unionid ? { unionid: extra.unionid } : {});
    const body: Record<string, unknown> = { code };
    if (extra.userInfo) Object.assign(body, encryptUserData(mock.sessionKeyOf(openid)!, userPayload(mock.appId, { openId: openid })));
    const res = await app.http.post('/wx/login').send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.token as string;
  }

  /** A session of its own for a follow-up request, so the pre-existing ones stay untouched. */
  const probe = (app: KeysApp) => loginThrough(app, `oProbe${name}${++probes}`);

  /**
   * After the fault: checks pause (checkOutagePause: at least 5 s, at interval 0 too), so a new
   * session's request right away calls neither stable_token nor checksession; once the pause is
   * over, a new session's request makes one stable_token call and a check that succeeds, and a
   * shared token lands in the shared cache.
   */
  async function expectChecksRecover(app: KeysApp, shared: boolean): Promise<void> {
    mock.resetCalls();
    expect((await app.http.get('/me').set(H, await probe(app))).status).to.equal(200);
    expect(mock.callsTo(STABLE).length + mock.callsTo(CHECK).length, 'checks paused after the outage').to.equal(0);
    await withClockAhead(PAST_PAUSE, async () => {
      expect((await app.http.get('/me').set(H, await probe(app))).status).to.equal(200);
      expect(mock.callsTo(STABLE)).to.have.length(1);
      expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([0]);
    });
    await expectTokenShared(shared);
  }

  const recordOf = (token: string) => store.records.get(sessionIdOf(token));

  /**
   * The pre-existing sessions are exactly as they were: the stored records field for field
   * (openid, unionid, sessionKey, data, userInfo, createdAt, expiresAt, keyCheckedAt, keyStale),
   * the same GET /me answer, the token still accepted.
   */
  async function expectExistingIntact(when: string): Promise<void> {
    for (const one of existing) {
      expect(recordOf(one.token), `${when}: the stored record of ${one.label}`).to.deep.equal(one.record);
    }
    const answers = await Promise.all(existing.map((one) => reader.http.get('/me').set(H, one.token)));
    for (const [index, res] of answers.entries()) {
      expect(res.status, `${when}: GET /me of ${existing[index]!.label}: ${JSON.stringify(res.body)}`).to.equal(200);
      expect(res.body, `${when}: GET /me of ${existing[index]!.label}`).to.deep.equal(existing[index]!.me);
    }
    for (const one of existing) expect(recordOf(one.token), `${when}: ${one.label} after GET /me`).to.deep.equal(one.record);
  }

  /**
   * Runs one cell: the fault on `path` for one call, the request, then the common assertions
   * (time bound, one call to the faulted path, no session created or lost, pre-existing
   * sessions intact). Returns the answer for the row's own assertions.
   */
  async function cell(path: string, kind: Kind, fault: MockFault, request: () => PromiseLike<Response>): Promise<Response> {
    const ids = [...store.records.keys()].sort();
    mock.resetCalls();
    mock.fault(path, fault, { times: 1 });
    let answer: { res: Response; ms: number };
    try {
      answer = await timed(request());
    } finally {
      mock.clearFaults();
    }
    expect(answer.ms, `answered after ${answer.ms} ms`).to.be.below(BOUND);
    if (kind === 'timeout') expect(answer.ms, 'waited for the timeout').to.be.at.least(TIMEOUT - 20);
    expect(mock.callsTo(path).length, `calls to ${path} (none retried)`).to.equal(1);
    expect([...store.records.keys()].sort(), 'no session created or lost').to.deep.equal(ids);
    await expectExistingIntact('after the fault');
    return answer.res;
  }

  /** A warning about checksession reached the logger, and nothing secret did. */
  function expectFailOpenWarning(app: KeysApp, linesBefore: number, one: Existing): void {
    const added = app.logger.lines.slice(linesBefore);
    expect(added.some((line) => line[0] === 'warn' && /checkSessionKey failed/.test(String(line[1]))), `a checksession warning in ${JSON.stringify(added.map((l) => l[1]))}`).to.equal(true);
    expectNoSecrets(app.logger.text, [mock.appSecret, mock.sessionKeyOf(one.openid), mock.currentAccessToken(), SECRET, one.token], 'the log');
  }

  before(async () => {
    mock = await startMockWeChat();
    store = new RecordingStore();
    [reader, checking, signing] = await Promise.all([
      appOn({ checkSessionKey: false }),
      appOn({ checkSessionKey: { interval: 0 } }),
      appOn({ checkSessionKey: false }),
    ]);
    // Sessions of every shape, with data the app saved.
    const made = [
      { label: 'E1 (unionid, coins 2)', openid: `oE1${name}`, token: await loginThrough(reader, `oE1${name}`, { unionid: `uE1${name}` }), coins: 2 },
      { label: 'E2 (userInfo, coins 1)', openid: `oE2${name}`, token: await loginThrough(reader, `oE2${name}`, { userInfo: true }), coins: 1 },
      { label: 'E3 (plain)', openid: `oE3${name}`, token: await loginThrough(reader, `oE3${name}`), coins: 0 },
    ];
    for (const one of made) {
      for (let i = 0; i < one.coins; i++) expect((await reader.http.post('/me/coins').set(H, one.token)).status).to.equal(200);
    }
    // Both long-lived apps hold an access token already (a later cell fetching one is its own row).
    expect((await checking.http.get('/me').set(H, await probe(checking))).status).to.equal(200);
    expect((await signing.http.post('/storage').set(H, await probe(signing)).send({ kvList: [{ key: 'warm', value: '1' }] })).status).to.equal(200);

    existing = [];
    for (const one of made) {
      const me = await reader.http.get('/me').set(H, one.token);
      expect(me.status).to.equal(200);
      existing.push({ label: one.label, openid: one.openid, token: one.token, record: clone(recordOf(one.token)!), me: me.body });
    }
    expect(existing[0]!.record.unionid).to.be.a('string');
    expect(existing[1]!.record.userInfo).to.be.an('object');
    expect(existing[0]!.me).to.deep.include({ data: { coins: 2 } });
  });

  after(async () => {
    await Promise.all([reader, checking, signing].filter(Boolean).map((app) => app.close()));
    await mock?.close();
  });

  describe(`code2Session at login (POST /wx/login) -> ${UPSTREAM.timeout.status} / ${UPSTREAM.unreadable.status}, no session created`, () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}`, async () => {
        // The same user as E1 logging in again: a login never touches another session of that user.
        const res = await cell(C2S, kind, fault, () => reader.http.post('/wx/login').send({ code: mock.issueCode(existing[0]!.openid) }));
        const { status, code } = UPSTREAM[kind];
        expectError(res, status, code, kind === 'errcode' ? UNKNOWN_ERRCODE : undefined);
        // Recovered: the next login goes through.
        const again = await reader.http.post('/wx/login').send({ code: mock.issueCode(existing[0]!.openid) });
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
      });
    }
  });

  describe('checksession on an authenticated request (interval 0) -> fails open: 200, the session as it is, a warning', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> 200 with the session unchanged`, async () => {
        // An instance of its own (holding a token already): the outage pauses its checks, which
        // must not carry over into the next row.
        const outage = await appOn({ checkSessionKey: { interval: 0 } });
        try {
          expect((await outage.http.get('/me').set(H, await probe(outage))).status).to.equal(200); // holds a token
          const one = existing[0]!;
          const lines = outage.logger.lines.length;
          // With a refresh code too: it is redeemed only when WeChat said 87009, not on an outage.
          const res = await cell(CHECK, kind, fault, () => outage.http.get('/me').set(H, one.token).set('X-WX-Code', mock.issueCode(one.openid)));
          expect(res.status, JSON.stringify(res.body)).to.equal(200);
          expect(res.body).to.deep.equal(one.me);
          expect(res.headers).to.not.have.property('x-wx-session-token');
          expect(mock.callsTo(C2S), 'the X-WX-Code was not redeemed').to.have.length(0);
          expectFailOpenWarning(outage, lines, one);
          // Checks pause after the outage (checkOutagePause: at least 5 s, at interval 0 too).
          mock.resetCalls();
          expect((await outage.http.get('/me').set(H, await probe(outage))).status).to.equal(200);
          expect(mock.callsTo(CHECK), 'checks paused after the outage').to.have.length(0);
          // Recovered: once the pause is over, the next check is made and succeeds.
          await withClockAhead(PAST_PAUSE, async () => {
            expect((await outage.http.get('/me').set(H, await probe(outage))).status).to.equal(200);
          });
          expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([0]);
        } finally {
          await outage.close();
        }
      });
    }
  });

  describe('set_user_storage, a signed API (session.setUserStorage)', () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${describeUpstream(kind)}, the session not marked stale`, async () => {
        const one = existing[1]!;
        const res = await cell(STORAGE, kind, fault, () => signing.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'score', value: what }] }));
        const { status, code } = UPSTREAM[kind];
        expectError(res, status, code, kind === 'errcode' ? UNKNOWN_ERRCODE : undefined);
        // Recovered: the same call goes through.
        const again = await signing.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'score', value: 'again' }] });
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(mock.userStorage(one.openid)).to.include({ score: 'again' });
        expect(recordOf(one.token)).to.deep.equal(one.record);
      });
    }
  });

  describe("code2Session redeeming X-WX-Code after checksession said 87009 (keyExpired: 'refresh')", () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${UPSTREAM[kind].status} ${UPSTREAM[kind].code}; the session kept (stale, same key), repaired by the next code`, async () => {
        // The session being refreshed is not one of the pre-existing ones: its key legitimately changes.
        const openid = `oStale${name}${++probes}`;
        const token = await loginThrough(checking, openid);
        expect((await checking.http.post('/me/coins').set(H, token)).status).to.equal(200);
        const before = clone(recordOf(token)!);
        mock.rotateSessionKey(openid);

        const res = await cell(C2S, kind, fault, () => checking.http.get('/me').set(H, token).set('X-WX-Code', mock.issueCode(openid)));
        const { status, code } = UPSTREAM[kind];
        expectError(res, status, code, kind === 'errcode' ? 'either' : undefined);
        expect(mock.callsTo(CHECK).map((call) => call.errcode), 'the check that found the key stale').to.deep.equal([87009]);
        // Kept, marked stale, nothing else changed.
        expect(recordOf(token)).to.deep.equal({ ...before, keyStale: true });

        // Without a code: 401 WX_SESSION_KEY_EXPIRED, still kept.
        const bare = await checking.http.get('/me').set(H, token);
        expectError(bare, 401, 'WX_SESSION_KEY_EXPIRED');
        expect(bare.headers['www-authenticate']).to.equal(INVALID_TOKEN);
        // A fresh code repairs it in place: same token, WeChat's current key, the data kept.
        const repaired = await checking.http.get('/me').set(H, token).set('X-WX-Code', mock.issueCode(openid));
        expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
        expect(repaired.body).to.deep.include({ openid, data: { coins: 1 } });
        expect(repaired.headers).to.not.have.property('x-wx-session-token');
        const after = recordOf(token)!;
        expectStoredKey(after, sessionIdOf(token), mock.appId, mock.sessionKeyOf(openid), 'the new session_key was swapped in');
        expect(after).to.not.have.property('keyStale');
        expect({ ...after, sessionKey: before.sessionKey, keyCheckedAt: before.keyCheckedAt }).to.deep.equal(before);
      });
    }
  });

  for (const tokens of tokenSourcesFor(name)) {
    describe(`stable_token ${tokens.label}, fetched for a check (a new instance, no token yet) -> fails open: 200, a warning`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> 200 with the session unchanged, no checksession without a token`, async () => {
          const fresh = await freshApp({ checkSessionKey: { interval: 0 } }, tokens.shared);
          try {
            const one = existing[2]!;
            const res = await cell(STABLE, kind, fault, () => fresh.http.get('/me').set(H, one.token));
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            expect(res.body).to.deep.equal(one.me);
            expect(mock.callsTo(CHECK), 'no checksession without a token').to.have.length(0);
            expectFailOpenWarning(fresh, 0, one);
            // Recovered: the next request fetches a token and checks.
            await expectChecksRecover(fresh, tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });

    describe(`stable_token ${tokens.label}, fetched for a signed API (a new instance, no token yet)`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> ${describeUpstream(kind)}, set_user_storage not called`, async () => {
          const fresh = await freshApp({ checkSessionKey: false }, tokens.shared);
          try {
            const one = existing[1]!;
            const res = await cell(STABLE, kind, fault, () => fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'token', value: what }] }));
            const { status, code } = UPSTREAM[kind];
            expectError(res, status, code, kind === 'errcode' ? UNKNOWN_ERRCODE : undefined);
            expect(mock.callsTo(STORAGE), 'no signed call without a token').to.have.length(0);
            // Recovered.
            const again = await fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'token', value: 'again' }] });
            expect(again.status, JSON.stringify(again.body)).to.equal(200);
            await expectTokenShared(tokens.shared);
            expect(recordOf(one.token)).to.deep.equal(one.record);
          } finally {
            await fresh.close();
          }
        });
      }
    });

    describe(`stable_token ${tokens.label}, renewing a token WeChat refused (42001) during a check -> fails open: 200, a warning`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> 200 with the session unchanged, the check not retried`, async () => {
          const fresh = await freshApp({ checkSessionKey: { interval: 0 } }, tokens.shared);
          try {
            expect((await fresh.http.get('/me').set(H, await probe(fresh))).status).to.equal(200); // holds a token
            mock.expireAccessTokens();
            const one = existing[2]!;
            const lines = fresh.logger.lines.length;
            const res = await cell(STABLE, kind, fault, () => fresh.http.get('/me').set(H, one.token));
            expect(res.status, JSON.stringify(res.body)).to.equal(200);
            expect(res.body).to.deep.equal(one.me);
            expect(mock.callsTo(CHECK).map((call) => call.errcode), 'the check that met the expired token, not retried').to.deep.equal([42001]);
            expectFailOpenWarning(fresh, lines, one);
            // Recovered: the next request renews the token and checks.
            await expectChecksRecover(fresh, tokens.shared);
          } finally {
            await fresh.close();
          }
        });
      }
    });

    describe(`stable_token ${tokens.label}, renewing a token WeChat refused (42001) for a signed API`, () => {
      for (const { name: what, fault, kind } of FAULTS) {
        it(`${what} -> ${describeUpstream(kind)}, set_user_storage not retried`, async () => {
          const fresh = await freshApp({ checkSessionKey: false }, tokens.shared);
          try {
            const warm = await fresh.http.post('/storage').set(H, await probe(fresh)).send({ kvList: [{ key: 'warm', value: '1' }] });
            expect(warm.status).to.equal(200); // holds a token
            mock.expireAccessTokens();
            const one = existing[1]!;
            const res = await cell(STABLE, kind, fault, () => fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'renew', value: what }] }));
            const { status, code } = UPSTREAM[kind];
            expectError(res, status, code, kind === 'errcode' ? UNKNOWN_ERRCODE : undefined);
            expect(mock.callsTo(STORAGE).map((call) => call.errcode), 'the call that met the expired token, not retried').to.deep.equal([42001]);
            // Recovered.
            const again = await fresh.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'renew', value: 'again' }] });
            expect(again.status, JSON.stringify(again.body)).to.equal(200);
            await expectTokenShared(tokens.shared);
            expect(recordOf(one.token)).to.deep.equal(one.record);
          } finally {
            await fresh.close();
          }
        });
      }
    });
  }

  describe('after the whole matrix', () => {
    it('every pre-existing session still works on every instance, checks included, with its data', async () => {
      await expectExistingIntact('at the end');
      // The rows above expired every access token: both instances renew theirs first.
      expect((await checking.http.get('/me').set(H, await probe(checking))).status).to.equal(200);
      expect((await signing.http.post('/storage').set(H, await probe(signing)).send({ kvList: [{ key: 'renew', value: '1' }] })).status).to.equal(200);
      for (const one of existing) {
        mock.resetCalls();
        const res = await checking.http.get('/me').set(H, one.token);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body).to.deep.equal(one.me);
        expect(mock.callsTo(CHECK).map((call) => call.errcode), `${one.label}'s key is still WeChat's`).to.deep.equal([0]);
        // The successful check is the only change: it records when the key was confirmed.
        const now = recordOf(one.token)!;
        expect(now.keyCheckedAt).to.be.above(one.record.keyCheckedAt);
        expect({ ...now, keyCheckedAt: one.record.keyCheckedAt }).to.deep.equal(one.record);
        const stored = await signing.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'end', value: '1' }] });
        expect(stored.status, JSON.stringify(stored.body)).to.equal(200);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// B. Redis faults

interface StoredSession {
  label: string;
  openid: string;
  token: string;
  key: string;
  /** The raw value Redis holds. */
  raw: string;
  me: unknown;
}

describe('faults: Redis (a real redis-server, the real RedisStore)', function () {
  requireRedis(this);
  this.timeout(20_000);

  /** Appends and fsyncs every write: a SIGKILL loses nothing acknowledged. */
  let durable: ControlledRedis;
  /** Keeps nothing: a restart comes up empty. */
  let volatile: ControlledRedis;
  let mock: MockWeChat;

  before(async () => {
    [durable, volatile, mock] = await Promise.all([startControlledRedis({ persist: true }), startControlledRedis(), startMockWeChat()]);
  });

  after(async () => {
    await Promise.all([durable?.stop(), volatile?.stop(), mock?.close()]);
  });

  /** Waits until `client` answers again (after a restart). */
  const reachable = (client: Redis, what: string) => waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', what, 5000);

  // Rows: slow · killed mid-request · killed after acknowledged writes · refusing connections ·
  // restarted empty. Columns: POST /wx/login (needs Redis: 503) · GET /me of a session the app
  // never read (required: 503) · GET /whoami (optional: 200, the reason kept) · POST /wx/logout
  // with a token (503: it could not be destroyed) and without (204) · GET /me of a session the
  // app has cached (200 while the subscription that keeps the cache coherent is up, 503 once it
  // is down) — then the pre-existing sessions' raw records and answers, and recovery.
  for (const name of adapters) describe(`through ${name}`, () => {
    const prefix = `faults-${name}:`;
    let admin: Redis;
    /** The app's own ioredis client: pinged to know the commands it queued have run. */
    let appClient: Redis;
    let appStore: RedisStore;
    let app: TestApp;
    /** Another instance, without a cache, for sessions the app has never seen (it must ask Redis). */
    let otherStore: RedisStore;
    let other: WxSessionCore;
    let existing: StoredSession[] = [];
    const cleanups: Array<() => Promise<void>> = [];

    const auth = (token: string) => ({ [H]: token });

    async function snapshot(label: string, token: string, openid: string): Promise<StoredSession> {
      const key = `${prefix}${sessionIdOf(token)}`;
      const raw = await admin.get(key);
      expect(raw, `${label} is in Redis`).to.be.a('string');
      const me = await app.http.get('/me').set(auth(token));
      expect(me.status).to.equal(200);
      return { label, openid, token, key, raw: raw!, me: me.body };
    }

    /** Raw records in Redis identical, GET /me identical (read from Redis when the cache was emptied). */
    async function expectExistingIntact(when: string): Promise<void> {
      for (const one of existing) expect(await admin.get(one.key), `${when}: Redis's record of ${one.label}`).to.equal(one.raw);
      for (const one of existing) {
        const res = await app.http.get('/me').set(auth(one.token));
        expect(res.status, `${when}: GET /me of ${one.label}: ${JSON.stringify(res.body)}`).to.equal(200);
        expect(res.body, `${when}: GET /me of ${one.label}`).to.deep.equal(one.me);
        const seen = await other.authenticate(one.token);
        expect(seen.session?.toJSON(), `${when}: ${one.label} read by another instance`).to.deep.include({ openid: one.openid, data: (one.me as { data: unknown }).data });
      }
      for (const one of existing) expect(await admin.get(one.key), `${when}: ${one.label} after reading it`).to.equal(one.raw);
    }

    async function loginOther(): Promise<string> {
      return (await other.login(mock.issueCode())).token;
    }

    /** Logins answer 200 again once the app's client is back (it reconnects every 50 ms). */
    async function recovered(target: TestApp): Promise<string> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const res = await target.http.post('/wx/login').send({ code: mock.issueCode() });
        if (res.status === 200) return res.body.token as string;
        expect(res.status, `while recovering: ${JSON.stringify(res.body)}`).to.equal(503);
        if (Date.now() > deadline) throw new Error('the app did not recover within 5 s of Redis coming back');
        await sleep(50);
      }
    }

    function expectUnavailable(res: Response, ms: number, what: string): void {
      expectError(res, 503, 'WX_STORE_UNAVAILABLE');
      expect(res.headers).to.not.have.property('www-authenticate');
      expect(ms, `${what} answered after ${ms} ms`).to.be.below(STORE_BOUND);
    }

    /** `token`'s session is in `target`'s cache: GET /me answers without a Redis GET. */
    async function expectServedFromCache(target: TestApp, token: string, redis: Redis): Promise<void> {
      const before = await commandCalls(redis, 'get');
      expect((await target.http.get('/me').set(auth(token))).status).to.equal(200);
      expect((await commandCalls(redis, 'get')) - before, 'Redis GETs for a cached session').to.equal(0);
    }

    function expectWhoamiUnavailable(res: Response, ms: number): void {
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ session: false, openid: null, error: 'WX_STORE_UNAVAILABLE' });
      expect(ms).to.be.below(STORE_BOUND);
    }

    before(async () => {
      admin = durable.client();
      appClient = durable.client();
      appStore = new RedisStore({ client: appClient, prefix, timeout: STORE_TIMEOUT });
      otherStore = new RedisStore({ client: durable.client(), prefix, timeout: STORE_TIMEOUT, cache: false });
      other = createWxSession(coreOptions(mock, { store: otherStore, checkSessionKey: false }));
      app = await startApp(name, { mock, core: { store: appStore, timeout: TIMEOUT, checkSessionKey: false } });
      await waitForSubscribers(admin, `${prefix}changed`, 1);

      existing = [];
      for (const [index, coins] of [3, 1, 0].entries()) {
        const openid = `oR${index}${name}`;
        const { token } = await app.login(openid, index === 0 ? { unionid: `uR0${name}` } : undefined);
        for (let i = 0; i < coins; i++) expect((await app.http.post('/me/coins').set(auth(token))).status).to.equal(200);
        existing.push(await snapshot(`R${index} (coins ${coins})`, token, openid));
      }
    });

    afterEach(async () => {
      if (durable.paused) durable.resume();
      if (!durable.running) await durable.restart();
      if (volatile.paused) volatile.resume();
      if (!volatile.running) await volatile.restart();
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    after(async () => {
      await app?.close();
      await reachable(admin, 'Redis before closing the stores');
      await Promise.all([appStore?.close(), otherStore?.close()]);
    });

    it(`slow (paused past the store timeout): 503 WX_STORE_UNAVAILABLE where Redis is needed, a cached session still served; resumed: nothing lost or altered`, async () => {
      const unseen = await loginOther(); // never read by the app: it must ask Redis
      const leaving = (await app.login()).token;
      await expectServedFromCache(app, leaving, admin);
      await expectServedFromCache(app, existing[0]!.token, admin);

      durable.pause();
      let answers: Array<{ res: Response; ms: number }>;
      let afterLogout: { res: Response; ms: number };
      try {
        answers = await Promise.all([
          timed(app.http.post('/wx/login').send({ code: mock.issueCode() })),
          timed(app.http.get('/me').set(auth(unseen))),
          timed(app.http.get('/whoami').set(auth(unseen))),
          timed(app.http.post('/wx/logout').set(auth(leaving))),
          timed(app.http.post('/wx/logout')),
          timed(app.http.get('/me').set(auth(existing[0]!.token))),
        ]);
        // The logout that could not reach Redis dropped the cached copy: not served meanwhile.
        afterLogout = await timed(app.http.get('/me').set(auth(leaving)));
      } finally {
        durable.resume();
      }
      const [login, me, whoami, logout, anonymous, cached] = answers;
      expectUnavailable(login!.res, login!.ms, 'login');
      expect(login!.res.body).to.not.have.property('token');
      expectUnavailable(me!.res, me!.ms, 'GET /me');
      expectWhoamiUnavailable(whoami!.res, whoami!.ms);
      expectUnavailable(logout!.res, logout!.ms, 'logout');
      for (const slow of [login!, me!, logout!]) expect(slow.ms, 'waited for the store timeout').to.be.at.least(STORE_TIMEOUT - 20);
      expect(anonymous!.res.status, 'logout without a token needs no store').to.equal(204);
      expect(cached!.res.status, 'a session cached (and kept coherent by pub/sub) needs no store').to.equal(200);
      expect(cached!.res.body).to.deep.equal(existing[0]!.me);
      expectUnavailable(afterLogout!.res, afterLogout!.ms, 'GET /me after the failed logout');

      await appClient.ping(); // every command queued while paused has run by now
      await expectExistingIntact('after the pause');
      expect((await app.http.get('/me').set(auth(unseen))).status, 'the unseen session').to.equal(200);
      // The DEL queued during the pause ran when Redis resumed: the server agrees with Redis.
      expect(await admin.exists(`${prefix}${sessionIdOf(leaving)}`)).to.equal(0);
      expectError(await app.http.get('/me').set(auth(leaving)), 401, 'WX_SESSION_EXPIRED');
      await recovered(app);
    });

    it('killed mid-request (paused, requests sent, SIGKILL), restarted with persistence: 503 within the bound, then every session as it was', async () => {
      const unseen = await loginOther();
      await expectServedFromCache(app, existing[1]!.token, admin);

      durable.pause();
      const inflight = [
        timed(app.http.post('/wx/login').send({ code: mock.issueCode() })),
        timed(app.http.get('/me').set(auth(unseen))),
        timed(app.http.get('/whoami').set(auth(unseen))),
      ];
      await sleep(50); // sent to a Redis that answers nothing...
      await durable.kill(); // ...which dies with them
      const [login, me, whoami] = await Promise.all(inflight);
      expectUnavailable(login!.res, login!.ms, 'login');
      expectUnavailable(me!.res, me!.ms, 'GET /me');
      expectWhoamiUnavailable(whoami!.res, whoami!.ms);

      // While Redis is down, a copy the app had cached is not served: the subscription that keeps
      // it coherent is down too.
      await waitFor(() => appClient.status !== 'ready', 'the app noticing Redis is gone');
      await sleep(20);
      const down = await timed(app.http.get('/me').set(auth(existing[1]!.token)));
      expectUnavailable(down.res, down.ms, 'GET /me of a cached session while Redis is down');

      await durable.restart();
      await recovered(app);
      await reachable(admin, 'Redis after the restart');
      await expectExistingIntact('after kill + restart');
      expect((await app.http.get('/me').set(auth(unseen))).status, 'the unseen session survived too').to.equal(200);
      await waitForSubscribers(admin, `${prefix}changed`, 1);
    });

    it('killed right after acknowledged writes, restarted with persistence: every acknowledged write is there, the server serves it', async () => {
      // A data write and a new session, both answered 200 just before the crash.
      const writer = existing[2]!;
      expect((await app.http.post('/me/coins').set(auth(writer.token))).status).to.equal(200);
      const fresh = (await app.login(`oRfresh${name}`)).token;
      existing[2] = await snapshot(writer.label.replace('coins 0', 'coins 1'), writer.token, writer.openid);
      expect(existing[2].me).to.deep.include({ data: { coins: 1 } });
      const freshRaw = await admin.get(`${prefix}${sessionIdOf(fresh)}`);

      await durable.kill();
      await durable.restart();
      await recovered(app);
      await reachable(admin, 'Redis after the restart');
      await expectExistingIntact('after kill + restart');
      expect(await admin.get(`${prefix}${sessionIdOf(fresh)}`)).to.equal(freshRaw);
      expect((await app.http.get('/me').set(auth(fresh))).body).to.deep.include({ openid: `oRfresh${name}` });
      await waitForSubscribers(admin, `${prefix}changed`, 1);
    });

    it('refusing connections (a store whose client never reached Redis): 503 within the bound; Redis up: it works', async () => {
      await volatile.kill(); // nothing listens on its port now
      const client = volatile.client();
      const refusing = new RedisStore({ client, prefix: `${prefix}refusing:`, timeout: STORE_TIMEOUT });
      const lonely = await startApp(name, { mock, core: { store: refusing, timeout: TIMEOUT, checkSessionKey: false } });
      cleanups.push(async () => {
        await lonely.close();
        if (volatile.running) await reachable(client, 'the refusing store\'s Redis');
        await refusing.close();
      });
      const token = existing[0]!.token; // validly signed: only the store can tell
      const [login, me, whoami, logout, anonymous] = await Promise.all([
        timed(lonely.http.post('/wx/login').send({ code: mock.issueCode() })),
        timed(lonely.http.get('/me').set(auth(token))),
        timed(lonely.http.get('/whoami').set(auth(token))),
        timed(lonely.http.post('/wx/logout').set(auth(token))),
        timed(lonely.http.post('/wx/logout')),
      ]);
      expectUnavailable(login!.res, login!.ms, 'login');
      expectUnavailable(me!.res, me!.ms, 'GET /me');
      expectWhoamiUnavailable(whoami!.res, whoami!.ms);
      expectUnavailable(logout!.res, logout!.ms, 'logout');
      expect(anonymous!.res.status).to.equal(204);

      await volatile.restart();
      const made = await recovered(lonely);
      const res = await lonely.http.get('/me').set(auth(made));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      // The durable Redis the others use was never touched.
      await expectExistingIntact('after another Redis refused connections');
    });

    it('restarted without persistence: the lost sessions answer 401 WX_SESSION_EXPIRED (never a cached copy, never a 500)', async () => {
      const client = volatile.client();
      const watcher = volatile.client();
      const channel = `${prefix}volatile:changed`;
      const forgetful = new RedisStore({ client, prefix: `${prefix}volatile:`, timeout: STORE_TIMEOUT });
      const lost = await startApp(name, { mock, core: { store: forgetful, timeout: TIMEOUT, checkSessionKey: false } });
      cleanups.push(async () => {
        await lost.close();
        if (volatile.running) await reachable(client, 'the volatile Redis');
        await forgetful.close();
      });
      await waitForSubscribers(watcher, channel, 1);
      const reader = (await lost.login()).token;
      const writer = (await lost.login()).token;
      expect((await lost.http.post('/me/coins').set(auth(writer))).status).to.equal(200);
      for (const token of [reader, writer]) {
        expect((await lost.http.get('/me').set(auth(token))).status).to.equal(200);
        await expectServedFromCache(lost, token, watcher);
      }

      await volatile.kill();
      await volatile.restart(); // empty
      // Until the app's client is back it may answer 503; never 200 from its cache, never 500.
      const deadline = Date.now() + 5000;
      let res: Response;
      for (;;) {
        res = await lost.http.get('/me').set(auth(reader));
        if (res.status !== 503) break;
        expect(res.body.code).to.equal('WX_STORE_UNAVAILABLE');
        if (Date.now() > deadline) throw new Error('the app did not reach the restarted Redis within 5 s');
        await sleep(20);
      }
      expectError(res, 401, 'WX_SESSION_EXPIRED');
      expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
      // Still so once the subscription (and with it the cache) is back.
      await waitForSubscribers(watcher, channel, 1);
      expectError(await lost.http.get('/me').set(auth(reader)), 401, 'WX_SESSION_EXPIRED');
      expect((await lost.http.get('/whoami').set(auth(reader))).body).to.deep.equal({ session: false, openid: null, error: 'WX_SESSION_EXPIRED' });
      // A write to a lost session does not bring it back.
      expectError(await lost.http.post('/me/coins').set(auth(writer)), 401, 'WX_SESSION_EXPIRED');
      expect(await watcher.exists(`${prefix}volatile:${sessionIdOf(writer)}`)).to.equal(0);
      expect((await lost.http.post('/wx/logout').set(auth(reader))).status).to.equal(204);
      // Logging in again works.
      const again = (await lost.login()).token;
      expect((await lost.http.get('/me').set(auth(again))).status).to.equal(200);
    });
  });
});
