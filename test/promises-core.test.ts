// The promises that must hold under attack (SECURITY.md, "Threat model"; issue 10), on the core
// itself: no secret in an error's cause chain, nothing usable at rest, sessions of one app, the
// per-user cap, and the pause of key checks after a checksession outage. Each block names the
// finding it covers.
import { inspect } from 'node:util';
import { expect } from 'chai';
import { createWxSession, MemoryStore, WxSessionError, type SessionRecord, type SessionStore } from '../src/index.js';
import { coreOptions, startApp, SECRET, type TestApp } from '../harness/apps.js';
import { captureLogger, expectNoSecrets } from './support/keys.js';
import { sessionIdOf } from './support/stores.js';
import { sampleId, sampleRecord } from '../src/testing/index.js';

const CHECK = '/wxa/checksession';

describe('promises under attack: the core', () => {
  let mock: Awaited<ReturnType<typeof startApp>>['mock'];
  let app: TestApp;
  before(async () => {
    app = await startApp('express5');
    mock = app.mock;
  });
  after(async () => {
    await app?.close();
  });

  describe('no secret in any error or cause chain (finding 3)', () => {
    /** A store failing as ioredis does: the error carries the command and its arguments (the record). */
    function failingStore(): SessionStore {
      const store = new MemoryStore();
      const fail = (name: string, args: unknown[]) => {
        const error = Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), {
          name: 'ReplyError',
          command: { name, args },
        });
        Object.defineProperty(error, 'cause', { value: { args }, enumerable: true });
        return Promise.reject(error);
      };
      return Object.assign(store, {
        set: (id: string, record: SessionRecord) => fail('set', [id, JSON.stringify(record), 'PX', 1000]),
      });
    }

    it('a failed save wraps the store error with its class, message and code only, at any depth', async () => {
      const logger = captureLogger();
      const core = createWxSession(coreOptions(mock, { store: failingStore(), logger }));
      const openid = 'oCauseChain';
      const error = await core.login(mock.issueCode(openid)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.an.instanceOf(WxSessionError);
      const err = error as WxSessionError;
      expect(err.code).to.equal('WX_STORE_UNAVAILABLE');
      const cause = err.cause as Error & { code?: unknown };
      expect(cause.name).to.equal('Error');
      expect(cause.message).to.contain('OOM');
      expect(Object.keys(cause), 'nothing beside name, message and code').to.deep.equal([]);
      const shown = [inspect(err, { depth: Infinity, showHidden: true }), JSON.stringify(err), JSON.stringify(err.cause), String(err.stack), logger.text].join('\n');
      expect(shown.match(/.{0,40}(args|PX|oCauseChain).{0,40}/)?.[0] ?? "", "no command arguments, no record").to.equal("");
      expectNoSecrets(shown, [mock.sessionKeyOf(openid), mock.appSecret, SECRET], 'the error');
    });

    it('a cause keeps a string code (ECONNREFUSED) and the class name of the error', () => {
      class ReplyError extends Error {}
      const original = Object.assign(new ReplyError('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', command: { args: ['secret'] } });
      const wrapped = new WxSessionError('WX_STORE_UNAVAILABLE', { cause: original });
      const cause = wrapped.cause as Error & { code?: unknown };
      expect(cause).to.not.equal(original);
      expect(cause.name).to.equal('ReplyError');
      expect(cause.code).to.equal('ECONNREFUSED');
      expect(inspect(wrapped, { depth: Infinity, showHidden: true })).to.not.contain("'secret'");
    });
  });

  describe('nothing usable at rest (finding 5, in-process store)', () => {
    it('the store holds no session_key, and the session still signs, decrypts and checks with it', async () => {
      const store = new MemoryStore();
      const core = createWxSession(coreOptions(mock, { store }));
      const openid = 'oAtRest';
      const { token, session } = await core.login(mock.issueCode(openid));
      const key = mock.sessionKeyOf(openid)!;
      const stored = await store.get(sessionIdOf(token));
      expect(stored!.sessionKey.startsWith('wxs1.'), 'sealed form').to.equal(true);
      expect(JSON.stringify(stored).includes(key), 'the key is not in the record').to.equal(false);
      const again = (await core.authenticate(token)).session!;
      expect(again.sessionKey === key, 'opened on demand').to.equal(true);
      expect(await again.checkKey()).to.equal(true);
      expect(session.sessionKey === key).to.equal(true);
    });

    it('a record sealed under an old secret is read, then sealed again under the new one; dropping the old secret then loses nothing', async () => {
      const store = new MemoryStore();
      const OLD = 'an-old-signing-secret-0123456789abcdef';
      const old = createWxSession(coreOptions(mock, { store, secret: OLD }));
      const openid = 'oRotate';
      const { token } = await old.login(mock.issueCode(openid));
      const sealedBefore = (await store.get(sessionIdOf(token)))!.sessionKey;
      const rotated = createWxSession(coreOptions(mock, { store, secret: [SECRET, OLD] }));
      const auth = await rotated.authenticate(token);
      expect(auth.session, 'the old record is readable').to.not.equal(null);
      expect(auth.token, 'the token is re-issued under the new secret').to.be.a('string');
      const sealedAfter = (await store.get(sessionIdOf(token)))!.sessionKey;
      expect(sealedAfter === sealedBefore, 'sealed again').to.equal(false);
      const onlyNew = createWxSession(coreOptions(mock, { store, secret: SECRET }));
      const later = await onlyNew.authenticate(auth.token!);
      expect(later.session, 'the re-issued token works with the new secret alone').to.not.equal(null);
      expect(later.session!.sessionKey === mock.sessionKeyOf(openid)).to.equal(true);
    });

    it('an altered sealed key does not open: its helpers and its key check refuse the session, and the operator is told', async () => {
      const store = new MemoryStore();
      const logger = captureLogger();
      const core = createWxSession(coreOptions(mock, { store, logger, checkSessionKey: { interval: 0 } }));
      const { token } = await core.login(mock.issueCode('oTampered'));
      const id = sessionIdOf(token);
      const record = (await store.get(id))!;
      const other = await core.login(mock.issueCode('oSomeoneElse'));
      // Another session's sealed key moved into this record: bound to its own id, it does not open here.
      await store.set(id, { ...record, sessionKey: (await store.get(sessionIdOf(other.token)))!.sessionKey }, 60_000);
      const auth = await core.authenticate(token);
      expect(auth.session, 'a check is due: the key is needed and lost').to.equal(null);
      expect(auth.code).to.equal('WX_SESSION_EXPIRED');
      expect(logger.text).to.contain('could not be opened');
      // Without a check due the hot path opens nothing; the first helper that needs the key refuses.
      const lazy = createWxSession(coreOptions(mock, { store, checkSessionKey: false }));
      const session = (await lazy.authenticate(token)).session!;
      expect(() => session.sign('{}')).to.throw(WxSessionError, /log in again/);
    });
  });

  describe('sessions belong to one app (finding 8, core)', () => {
    it('authenticate refuses a record of another appId with WX_SESSION_INVALID, sync and async paths alike', async () => {
      const store = new MemoryStore();
      const a = createWxSession(coreOptions(mock, { store }));
      const b = createWxSession(coreOptions(mock, { store, appId: 'wxanotherapp00000' }));
      const { token } = await a.login(mock.issueCode());
      expect(b.authenticateSync(token)).to.deep.equal({ session: null, code: 'WX_SESSION_INVALID' });
      expect(await b.authenticate(token)).to.deep.equal({ session: null, code: 'WX_SESSION_INVALID' });
      expect((await a.authenticate(token)).session).to.not.equal(null);
    });
  });

  describe('per-user cap (finding 4, core)', () => {
    it('maxSessionsPerUser: 3 keeps the newest three; false keeps all', async () => {
      const capped = createWxSession(coreOptions(mock, { maxSessionsPerUser: 3 }));
      const tokens = [];
      for (let i = 0; i < 6; i++) tokens.push((await capped.login(mock.issueCode('oCap3'))).token);
      const alive = await Promise.all(tokens.map(async (token) => (await capped.authenticate(token)).session !== null));
      expect(alive).to.deep.equal([false, false, false, true, true, true]);
      const open = createWxSession(coreOptions(mock, { maxSessionsPerUser: false }));
      const all = [];
      for (let i = 0; i < 12; i++) all.push((await open.login(mock.issueCode('oNoCap'))).token);
      const kept = await Promise.all(all.map(async (token) => (await open.authenticate(token)).session !== null));
      expect(kept.every(Boolean)).to.equal(true);
    });

    it('MemoryStore: sessions of one millisecond are capped in the order they were made (the newest is kept)', async () => {
      for (let run = 0; run < 50; run++) {
        const store = new MemoryStore({ max: 100 });
        const createdAt = Date.now();
        const ids = Array.from({ length: 6 }, () => sampleId());
        for (const id of ids) await store.set(id, { ...sampleRecord(), openid: 'oSameMs', createdAt }, 60_000);
        expect(await store.limitSessions('oSameMs', 3)).to.equal(3);
        const kept = await Promise.all(ids.map(async (id) => (await store.get(id)) !== undefined));
        expect(kept, `run ${run}`).to.deep.equal([false, false, false, true, true, true]);
      }
    });

    it('a store without limitSessions gets no cap and one warning when the core is created', () => {
      const logger = captureLogger();
      const bare: SessionStore = { get: async () => undefined, set: async () => {}, destroy: async () => {}, update: async () => false };
      createWxSession(coreOptions(mock, { store: bare, logger }));
      expect(logger.lines.filter((line) => String(line[1]).includes('limitSessions'))).to.have.length(1);
      const quiet = captureLogger();
      createWxSession(coreOptions(mock, { store: bare, logger: quiet, maxSessionsPerUser: false }));
      expect(quiet.lines).to.have.length(0);
    });

    it('maxSessionsPerUser must be a positive integer or false', () => {
      for (const bad of [0, -1, 1.5, '10', true]) {
        expect(() => createWxSession(coreOptions(mock, { maxSessionsPerUser: bad as never }))).to.throw(TypeError, /^wx-session: maxSessionsPerUser/);
      }
    });
  });

  describe('checksession outages pause the checks (finding 10)', () => {
    it('at interval 0 an outage costs one failing check, not one per request', async () => {
      const logger = captureLogger();
      const core = createWxSession(coreOptions(mock, { checkSessionKey: { interval: 0 }, logger }));
      const { token } = await core.login(mock.issueCode());
      mock.resetCalls();
      mock.fault(CHECK, { status: 503 });
      try {
        for (let i = 0; i < 10; i++) expect((await core.authenticate(token)).session, 'fails open').to.not.equal(null);
        expect(mock.callsTo(CHECK), 'one check, then a pause').to.have.length(1);
      } finally {
        mock.clearFaults(CHECK);
      }
      expect(logger.lines.filter((line) => line[0] === 'warn')).to.have.length(1);
    });
  });
});
