// The WeChat half of the fault matrix (README.md, "Errors"), shared by the
// test/faults-wechat-*.test.ts files: each file is one call the server makes to WeChat on a request
// path, run through every adapter × every fault below (late, never, reset mid-body, HTTP 500 / 502 /
// 503, truncated JSON, non-JSON, an unknown errcode).
// Expected: 504 WX_UPSTREAM_TIMEOUT when late or never, 502 WX_UPSTREAM_ERROR otherwise (with the
// errcode when WeChat gave one), except checksession and the token it needs, which fail open (200,
// the session as it is, a warning without secrets). Every answer within TIMEOUT + margin; every
// pre-existing session's stored record identical, its GET /me answer identical, its token still good.
import { expect } from 'chai';
import type { Response } from 'supertest';
import type { SessionRecord, SessionStore } from '../../src/index.js';
import { checkOutagePause } from '../../src/key-freshness.js';
import { startMockWeChat, type MockFault, type MockWeChat } from '../../src/testing/index.js';
import { adapters, SECRET, type AdapterName } from '../../harness/apps.js';
import { encryptUserData, expectNoSecrets, openSharedToken, userPayload } from './keys.js';
import { testClock } from './clock.js';
import { startKeysApp, type KeysApp } from './keys-app.js';
import { MemoryTokenCache, RecordingStore, sessionIdOf } from './stores.js';
import { expectErrorBody } from './wire.js';

/** The core's `timeout` (ms per WeChat call). */
export const TIMEOUT = 250;
/** Every faulted WeChat answer comes within this (the timeout plus room for a noisy machine). */
const BOUND = TIMEOUT + 750;

export const C2S = '/sns/jscode2session';
export const CHECK = '/wxa/checksession';
export const STABLE = '/cgi-bin/stable_token';
export const STORAGE = '/wxa/set_user_storage';
export const UNKNOWN_ERRCODE = 61234;
export const H = 'X-WX-Session';
/** How far to move the clock to be past the pause of key checks after an outage (interval 0). */
export const PAST_PAUSE = checkOutagePause(0) + 100;

/** How the server should see a fault: it timed out, it could not read an answer, or WeChat said an errcode. */
export type Kind = 'timeout' | 'unreadable' | 'errcode';

export const FAULTS: ReadonlyArray<{ name: string; fault: MockFault; kind: Kind }> = [
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

/** The error table: what a call that does not fail open answers for each kind of fault. */
export const UPSTREAM: Readonly<Record<Kind, { status: number; code: string }>> = {
  timeout: { status: 504, code: 'WX_UPSTREAM_TIMEOUT' },
  unreadable: { status: 502, code: 'WX_UPSTREAM_ERROR' },
  errcode: { status: 502, code: 'WX_UPSTREAM_ERROR' },
};

export function describeUpstream(kind: Kind): string {
  const { status, code } = UPSTREAM[kind];
  return `${status} ${code}${kind === 'errcode' ? ` (errcode ${UNKNOWN_ERRCODE})` : ''}`;
}

/**
 * The error answer of the table. `errcode`: the number WeChat said, undefined for none, or
 * 'either' where the answer may or may not repeat it (a failure met inside authenticate, whose
 * result carries only the ErrorCode).
 */
export function expectError(res: Response, status: number, code: string, errcode?: number | 'either'): void {
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

/** The answer a call that does not fail open gives for `kind` (with WeChat's errcode when it said one). */
export function expectUpstreamError(res: Response, kind: Kind): void {
  const { status, code } = UPSTREAM[kind];
  expectError(res, status, code, kind === 'errcode' ? UNKNOWN_ERRCODE : undefined);
}

export async function timed(request: PromiseLike<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await request;
  return { res, ms: Date.now() - started };
}

/**
 * Where a core keeps its access token: in process (StableTokenSource, a store without
 * `accessTokens`), or shared between instances through the store (SharedTokenSource, what a
 * RedisStore gives), each a path of its own to stable_token. The token source is the core's, not
 * the adapter's: the shared one runs on one Express and one Koa.
 */
export function tokenSourcesFor(name: AdapterName): ReadonlyArray<{ label: string; shared: boolean }> {
  const sources = [
    { label: 'cached in process', shared: false },
    { label: 'shared through store.accessTokens', shared: true },
  ];
  return sources.filter((tokens) => !tokens.shared || name === 'express5' || name === 'koa3');
}

/** A session logged in before any fault: what the store held for it and what GET /me answered. */
export interface Existing {
  label: string;
  openid: string;
  token: string;
  record: SessionRecord;
  me: unknown;
}

/** One adapter's servers for the matrix: instances of one server sharing one store and one mock. */
export class WeChatFaultBench {
  mock!: MockWeChat;
  /** One store for every app below: they are instances of one server. */
  store!: RecordingStore;
  /** checkSessionKey: false — reads sessions without calling WeChat or writing the store. */
  reader!: KeysApp;
  /** checkSessionKey: { interval: 0 } — every request checks the key. */
  checking!: KeysApp;
  /** checkSessionKey: false — the signed APIs alone talk to WeChat. */
  signing!: KeysApp;
  existing: Existing[] = [];
  /** The clock of every app below (their `now`): a test moves it past a pause instead of sleeping. */
  readonly clock = testClock();
  #probes = 0;
  #sharedTokens: MemoryTokenCache | undefined;

  constructor(readonly name: AdapterName) {}

  appOn(core: Record<string, unknown>): Promise<KeysApp> {
    return startKeysApp(this.name, { mock: this.mock, core: { store: this.store, timeout: TIMEOUT, now: this.clock.now, ...core } });
  }

  /**
   * A new instance on the same sessions, holding no access token yet: the store's records behind
   * a store of its own, with (shared) or without an empty token cache.
   */
  freshApp(core: Record<string, unknown>, shared: boolean): Promise<KeysApp> {
    const store = this.store;
    const sessions: SessionStore = {
      get: (id) => store.get(id),
      set: (id, record, ttlMs) => store.set(id, record, ttlMs),
      destroy: (id) => store.destroy(id),
      touch: (id, ttlMs) => store.touch(id, ttlMs),
    };
    this.#sharedTokens = shared ? new MemoryTokenCache() : undefined;
    return this.appOn({ ...core, store: this.#sharedTokens ? { ...sessions, accessTokens: this.#sharedTokens } : sessions });
  }

  /** After recovery, a shared token is where the other instances would find it. */
  async expectTokenShared(shared: boolean): Promise<void> {
    if (!shared) return;
    const held = await this.#sharedTokens!.get(this.mock.appId);
    const current = this.mock.currentAccessToken();
    // Sealed, as every token a store holds (SECURITY.md, "Store compromise").
    expect(held !== undefined && held.token !== current && !held.token.includes(current ?? '\u0000'), 'the shared cache holds the token sealed, not in clear').to.equal(true);
    expect(openSharedToken(held, this.mock.appId) === current, 'the renewed token is in the shared cache').to.equal(true);
  }

  async loginThrough(app: KeysApp, openid: string, extra: { unionid?: string; userInfo?: boolean } = {}): Promise<string> {
    const { mock } = this;
    const code = mock.issueCode(openid, extra.unionid ? { unionid: extra.unionid } : {});
    const body: Record<string, unknown> = { code };
    if (extra.userInfo) Object.assign(body, encryptUserData(mock.sessionKeyOf(openid)!, userPayload(mock.appId, { openId: openid })));
    const res = await app.http.post('/wx/login').send(body);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.token as string;
  }

  /** An openid no other session of this bench has. */
  newOpenid(prefix: string): string {
    return `${prefix}${this.name}${++this.#probes}`;
  }

  /** A session of its own for a follow-up request, so the pre-existing ones stay untouched. */
  probe(app: KeysApp): Promise<string> {
    return this.loginThrough(app, this.newOpenid('oProbe'));
  }

  /**
   * After the fault: checks pause (checkOutagePause: at least 5 s, at interval 0 too), so a new
   * session's request right away calls neither stable_token nor checksession; once the pause is
   * over, a new session's request makes one stable_token call and a check that succeeds, and a
   * shared token lands in the shared cache.
   */
  async expectChecksRecover(app: KeysApp, shared: boolean): Promise<void> {
    const { mock } = this;
    mock.resetCalls();
    expect((await app.http.get('/me').set(H, await this.probe(app))).status).to.equal(200);
    expect(mock.callsTo(STABLE).length + mock.callsTo(CHECK).length, 'checks paused after the outage').to.equal(0);
    this.clock.advance(PAST_PAUSE);
    expect((await app.http.get('/me').set(H, await this.probe(app))).status).to.equal(200);
    expect(mock.callsTo(STABLE)).to.have.length(1);
    expect(mock.callsTo(CHECK).map((call) => call.errcode)).to.deep.equal([0]);
    await this.expectTokenShared(shared);
  }

  recordOf(token: string): SessionRecord | undefined {
    return this.store.records.get(sessionIdOf(token));
  }

  /**
   * The pre-existing sessions are exactly as they were: the stored records field for field
   * (openid, unionid, sessionKey, data, userInfo, createdAt, expiresAt, keyCheckedAt, keyStale),
   * the same GET /me answer, the token still accepted.
   */
  async expectExistingIntact(when: string): Promise<void> {
    const { existing } = this;
    for (const one of existing) expect(this.recordOf(one.token), `${when}: the stored record of ${one.label}`).to.deep.equal(one.record);
    const answers = await Promise.all(existing.map((one) => this.reader.http.get('/me').set(H, one.token)));
    for (const [index, res] of answers.entries()) {
      expect(res.status, `${when}: GET /me of ${existing[index]!.label}: ${JSON.stringify(res.body)}`).to.equal(200);
      expect(res.body, `${when}: GET /me of ${existing[index]!.label}`).to.deep.equal(existing[index]!.me);
    }
    for (const one of existing) expect(this.recordOf(one.token), `${when}: ${one.label} after GET /me`).to.deep.equal(one.record);
  }

  /**
   * Runs one cell: the fault on `path` for one call, the request, then the common assertions
   * (time bound, one call to the faulted path, no session created or lost, pre-existing
   * sessions intact). Returns the answer for the row's own assertions.
   */
  async cell(path: string, kind: Kind, fault: MockFault, request: () => PromiseLike<Response>): Promise<Response> {
    const { mock, store } = this;
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
    await this.expectExistingIntact('after the fault');
    return answer.res;
  }

  /** A warning about checksession reached the logger, and nothing secret did. */
  expectFailOpenWarning(app: KeysApp, linesBefore: number, one: Existing): void {
    const { mock } = this;
    const added = app.logger.lines.slice(linesBefore);
    expect(added.some((line) => line[0] === 'warn' && /checkSessionKey failed/.test(String(line[1]))), `a checksession warning in ${JSON.stringify(added.map((l) => l[1]))}`).to.equal(true);
    expectNoSecrets(app.logger.text, [mock.appSecret, mock.sessionKeyOf(one.openid), mock.currentAccessToken(), SECRET, one.token], 'the log');
  }

  /** A signed API on `one`'s session goes through again, and its record is as it was. */
  async expectSignedApiRecovers(app: KeysApp, one: Existing, key: string, shared: boolean): Promise<void> {
    const again = await app.http.post('/storage').set(H, one.token).send({ kvList: [{ key, value: 'again' }] });
    expect(again.status, JSON.stringify(again.body)).to.equal(200);
    await this.expectTokenShared(shared);
    expect(this.recordOf(one.token)).to.deep.equal(one.record);
  }

  /** Three long-lived instances and sessions of every shape, with data the app saved. */
  async start(): Promise<void> {
    const { name } = this;
    this.mock = await startMockWeChat();
    this.store = new RecordingStore();
    [this.reader, this.checking, this.signing] = await Promise.all([
      this.appOn({ checkSessionKey: false }),
      this.appOn({ checkSessionKey: { interval: 0 } }),
      this.appOn({ checkSessionKey: false }),
    ]);
    const { reader, checking, signing } = this;
    const made = [
      { label: 'E1 (unionid, coins 2)', openid: `oE1${name}`, token: await this.loginThrough(reader, `oE1${name}`, { unionid: `uE1${name}` }), coins: 2 },
      { label: 'E2 (userInfo, coins 1)', openid: `oE2${name}`, token: await this.loginThrough(reader, `oE2${name}`, { userInfo: true }), coins: 1 },
      { label: 'E3 (plain)', openid: `oE3${name}`, token: await this.loginThrough(reader, `oE3${name}`), coins: 0 },
    ];
    for (const one of made) {
      for (let i = 0; i < one.coins; i++) expect((await reader.http.post('/me/coins').set(H, one.token)).status).to.equal(200);
    }
    // Both long-lived apps hold an access token already (a later cell fetching one is its own row).
    expect((await checking.http.get('/me').set(H, await this.probe(checking))).status).to.equal(200);
    expect((await signing.http.post('/storage').set(H, await this.probe(signing)).send({ kvList: [{ key: 'warm', value: '1' }] })).status).to.equal(200);

    this.existing = [];
    for (const one of made) {
      const me = await reader.http.get('/me').set(H, one.token);
      expect(me.status).to.equal(200);
      this.existing.push({ label: one.label, openid: one.openid, token: one.token, record: structuredClone(this.recordOf(one.token)!), me: me.body });
    }
    expect(this.existing[0]!.record.unionid).to.be.a('string');
    expect(this.existing[1]!.record.userInfo).to.be.an('object');
    expect(this.existing[0]!.me).to.deep.include({ data: { coins: 2 } });
  }

  async stop(): Promise<void> {
    await Promise.all([this.reader, this.checking, this.signing].filter(Boolean).map((app) => app.close()));
    await this.mock?.close();
  }

  /** Every pre-existing session still works on every instance, checks included, with its data. */
  async expectAllStillWork(): Promise<void> {
    const { mock, checking, signing } = this;
    await this.expectExistingIntact('at the end');
    // The rows may have expired every access token: both instances renew theirs first.
    expect((await checking.http.get('/me').set(H, await this.probe(checking))).status).to.equal(200);
    expect((await signing.http.post('/storage').set(H, await this.probe(signing)).send({ kvList: [{ key: 'renew', value: '1' }] })).status).to.equal(200);
    this.clock.advance(1000); // a second on, so the check below shows in keyCheckedAt
    for (const one of this.existing) {
      mock.resetCalls();
      const res = await checking.http.get('/me').set(H, one.token);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.equal(one.me);
      expect(mock.callsTo(CHECK).map((call) => call.errcode), `${one.label}'s key is still WeChat's`).to.deep.equal([0]);
      // The successful check is the only change: it records when the key was confirmed.
      const now = this.recordOf(one.token)!;
      expect(now.keyCheckedAt).to.be.above(one.record.keyCheckedAt);
      expect({ ...now, keyCheckedAt: one.record.keyCheckedAt }).to.deep.equal(one.record);
      const stored = await signing.http.post('/storage').set(H, one.token).send({ kvList: [{ key: 'end', value: '1' }] });
      expect(stored.status, JSON.stringify(stored.body)).to.equal(200);
    }
  }
}

/**
 * One describe() per adapter, each with its bench started before and closed after, the file's
 * rows from `rows`, and, after them, the check that every pre-existing session still works.
 * `make`: a bench with more in it (wechat-faults-player.ts adds the player routes).
 */
export function everyAdapter<B extends WeChatFaultBench>(title: string, rows: (bench: B) => void, make?: (name: AdapterName) => B): void {
  for (const name of adapters) {
    describe(`faults: WeChat × ${title} (${name})`, function () {
      this.timeout(10_000);
      const bench = make ? make(name) : (new WeChatFaultBench(name) as B);
      before(() => bench.start());
      after(() => bench.stop());
      rows(bench);
      describe('after the whole matrix', () => {
        it('every pre-existing session still works on every instance, checks included, with its data', () => bench.expectAllStillWork());
      });
    });
  }
}
