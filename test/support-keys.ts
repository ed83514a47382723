// Helpers for the session_key tests (access tokens, checkSessionKey, signed APIs, user data):
// encryptedData made as WeChat makes it, a store that records what the core writes, a logger that
// keeps what it is told, and small apps on every framework whose routes call the session helpers.
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import express5 from 'express';
import Koa3 from 'koa';
import supertest from 'supertest';
import { expect } from 'chai';
import { createWxSession, WxSessionError, type Logger, type SessionRecord, type SessionStore, type WxSession, type WxSessionCore, type WxSessionOptions } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import type { TokenCache } from '../src/wechat/access-token.js';
import { wxSession as expressSession } from '../adapters/express.js';
import { wxSession as koaSession } from '../adapters/koa.js';
import { SECRET, closeServer, coreOptions, listen, type AdapterName } from './helpers.js';
import { accessTokenContext, Sealer, sessionKeyContext } from '../src/seal.js';
import { witnessLog } from './witness.js';

// ---- crypto, computed here independently of src/

/** WeChat's login-state signature: hex(hmac_sha256(key = session_key string as UTF-8, message = body)). */
export function hmacHex(sessionKey: string, body: string | Buffer): string {
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(body).digest('hex');
}

/** rawData signature: hex(sha1(rawData + session_key)). */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** The official login-state signature vectors (DESIGN.md §6). */
export const SIGNATURE_VECTORS = {
  sessionKey: 'o0q0otL8aEzpcZL/FT9WsQ==',
  body: '{"foo":"bar"}',
  signature: '654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b',
  emptySignature: '46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128',
  /** What signing with the base64-DECODED key gives: wrong. */
  wrongKeyFormSignature: 'bfa6883695fed51bb7e5897ce895842574a58f8a9cc5c4343f47c515ab337b89',
} as const;

/** A user object as wx.getUserInfo would encrypt it, with the watermark WeChat adds. */
export function userPayload(appId: string, fields: Record<string, unknown> = {}, timestamp = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  return { nickName: '微信用户 Band', gender: 1, language: 'zh_CN', city: 'Guangzhou', ...fields, watermark: { appid: appId, timestamp } };
}

/**
 * encryptedData as WeChat makes it: AES-128-CBC, PKCS#7, key = base64-decode(sessionKey), a random
 * 16-byte iv unless given. `plaintext` may be an object (JSON-encoded) or raw text.
 */
export function encryptUserData(sessionKey: string, plaintext: unknown, iv: Buffer = randomBytes(16)): { encryptedData: string; iv: string } {
  const key = Buffer.from(sessionKey, 'base64');
  if (key.length !== 16) throw new Error(`support-keys: a session_key decodes to 16 bytes, got ${key.length}`);
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  const text = typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext);
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

/**
 * The same ciphertext with its padding deliberately broken: flipping the high bit of the last byte
 * of the second-to-last block flips the same bit of the last plaintext byte, the padding length
 * (1..16), so it becomes >= 0x81 and PKCS#7 unpadding fails, always.
 */
export function breakPadding(encryptedData: string): string {
  const bytes = Buffer.from(encryptedData, 'base64');
  if (bytes.length < 32) throw new Error('support-keys: breakPadding needs at least two blocks');
  bytes[bytes.length - 17]! ^= 0x80;
  return bytes.toString('base64');
}

/** A login code for `openid` and the session_key the mock will hand out with it. */
export function codeWithKey(mock: MockWeChat, openid: string): { code: string; sessionKey: string } {
  const code = mock.issueCode(openid);
  const sessionKey = mock.sessionKeyOf(openid);
  if (sessionKey === undefined) throw new Error('support-keys: the mock did not create a session_key for the code');
  return { code, sessionKey };
}

// ---- session_keys at rest (DESIGN.md §8 "Nothing usable at rest")

/**
 * The plaintext session_key a stored record holds sealed, opened as the core would open it (the
 * record's session id and appId are the associated data); undefined when it does not open.
 */
export function openStoredKey(record: Pick<SessionRecord, 'sessionKey'> | undefined, sessionId: string, appId: string, secrets: readonly string[] = [SECRET]): string | undefined {
  if (!record) return undefined;
  return new Sealer(secrets).open(record.sessionKey, sessionKeyContext(appId, sessionId));
}

/** `sessionKey` sealed as the core seals it for session `sessionId` of `appId` (to plant into a record). */
export function sealKey(sessionKey: string, sessionId: string, appId: string, secrets: readonly string[] = [SECRET]): string {
  return new Sealer(secrets).seal(sessionKey, sessionKeyContext(appId, sessionId));
}

/**
 * Asserts the stored record holds `plain` sealed: the stored value is not the key itself, and it
 * opens to it. Compares without chai's diff, which would print the key.
 */
export function expectStoredKey(record: Pick<SessionRecord, 'sessionKey'> | undefined, sessionId: string, appId: string, plain: string | undefined, what = 'the stored session_key', secrets: readonly string[] = [SECRET]): void {
  expect(record !== undefined, `${what}: no record`).to.equal(true);
  expect(typeof plain === 'string' && plain !== '', `${what}: no key to compare with`).to.equal(true);
  expect(record!.sessionKey === plain, `${what} is held in clear`).to.equal(false);
  expect(record!.sessionKey.includes(plain!), `${what} contains the key in clear`).to.equal(false);
  expect(record!.sessionKey.startsWith('wxs1.'), `${what} is not in the sealed form`).to.equal(true);
  expect(openStoredKey(record, sessionId, appId, secrets) === plain, `${what} opens to the expected key`).to.equal(true);
}

/**
 * The plaintext access token a shared TokenCache entry holds sealed (the core seals it before the
 * store keeps it); undefined when there is none or it does not open.
 */
export function openSharedToken(held: { token: string } | undefined, appId: string, secrets: readonly string[] = [SECRET]): string | undefined {
  if (!held) return undefined;
  return new Sealer(secrets).open(held.token, accessTokenContext(appId));
}

/**
 * Runs `fn` with Date.now (the core's clock and the mock's, which is built on it) `ms` ahead: for
 * what happens once a pause is over (checkOutagePause) without sleeping through it.
 */
export async function withClockAhead<T>(ms: number, fn: () => PromiseLike<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + ms;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

// ---- stores, loggers, secrets

/** The session id inside a token (`<id>.<signature>`, cookie-signature). */
export function sessionIdOf(token: string): string {
  return token.slice(0, token.lastIndexOf('.'));
}

/** An in-memory store that keeps every record by id and counts the calls the core makes. */
export class RecordingStore implements SessionStore {
  readonly records = new Map<string, SessionRecord>();
  counts = { get: 0, set: 0, destroy: 0, touch: 0 };

  async get(id: string): Promise<SessionRecord | undefined> {
    this.counts.get++;
    const record = this.records.get(id);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }
  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.counts.set++;
    if (ttlMs > 0) this.records.set(id, record);
    else this.records.delete(id);
  }
  async destroy(id: string): Promise<void> {
    this.counts.destroy++;
    this.records.delete(id);
  }
  async touch(id: string, ttlMs: number): Promise<void> {
    this.counts.touch++;
    const record = this.records.get(id);
    if (record) this.records.set(id, { ...record, expiresAt: Date.now() + ttlMs });
  }

  /** The stored record of the session behind `token`. */
  recordOf(token: string): SessionRecord | undefined {
    return this.records.get(sessionIdOf(token));
  }

  /** Pretends WeChat last confirmed this session's key `ms` ago (no sleeping in tests). */
  ageKeyCheck(token: string, ms: number): void {
    const id = sessionIdOf(token);
    const record = this.records.get(id);
    if (!record) throw new Error('support-keys: no such session');
    this.records.set(id, { ...record, keyCheckedAt: record.keyCheckedAt - ms });
  }
}

/**
 * A TokenCache (the `store.accessTokens` a RedisStore offers) kept in memory: what several
 * server instances would share. Locks expire by themselves, like Redis `SET NX PX`.
 */
export class MemoryTokenCache implements TokenCache {
  readonly #tokens = new Map<string, { token: string; until: number }>();
  readonly #locks = new Map<string, { owner: object; until: number }>();

  async get(appId: string): Promise<{ token: string; ttlMs: number } | undefined> {
    const entry = this.#tokens.get(appId);
    const ttlMs = entry ? entry.until - Date.now() : 0;
    return entry && ttlMs > 0 ? { token: entry.token, ttlMs } : undefined;
  }
  async set(appId: string, token: string, ttlMs: number): Promise<void> {
    this.#tokens.set(appId, { token, until: Date.now() + ttlMs });
  }
  async drop(appId: string, token: string): Promise<void> {
    if (this.#tokens.get(appId)?.token === token) this.#tokens.delete(appId);
  }
  async lock(appId: string, name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const key = `${appId}:${name}`;
    const held = this.#locks.get(key);
    if (held && held.until > Date.now()) return undefined;
    const owner = {};
    this.#locks.set(key, { owner, until: Date.now() + ttlMs });
    return async () => {
      if (this.#locks.get(key)?.owner === owner) this.#locks.delete(key);
    };
  }
}

/** A RecordingStore that offers a shared access-token cache, as RedisStore does. */
export class SharingStore extends RecordingStore {
  readonly accessTokens = new MemoryTokenCache();
}

/** A logger that keeps every call; `text` is all of it, serialised (errors with their stacks). */
export function captureLogger(): Logger & { lines: unknown[][]; readonly text: string } {
  const lines: unknown[][] = [];
  const serialise = (value: unknown): string =>
    value instanceof Error ? `${value.name}: ${value.message}\n${value.stack ?? ''} ${serialise((value as { cause?: unknown }).cause)}` : JSON.stringify(value) ?? String(value);
  return {
    lines,
    warn(message: string, ...rest: unknown[]) {
      lines.push(['warn', message, ...rest]);
      witnessLog('a logger line', [message, ...rest]);
    },
    error(message: string, ...rest: unknown[]) {
      lines.push(['error', message, ...rest]);
      witnessLog('a logger line', [message, ...rest]);
    },
    get text() {
      return lines.map((line) => line.map(serialise).join(' ')).join('\n');
    },
  };
}

/** Asserts none of `secrets` (empty/undefined ones skipped) occurs in `text`. */
export function expectNoSecrets(text: string, secrets: ReadonlyArray<string | undefined>, where = 'text'): void {
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    expect(text.includes(secret), `${where} must not contain a secret (${secret.slice(0, 4)}…)`).to.equal(false);
  }
}

/** Everything an error could show: message, stack, JSON, cause chain. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const json = error instanceof WxSessionError ? JSON.stringify(error.toJSON()) : '';
  return `${String(error)}\n${error.stack ?? ''}\n${json}\n${JSON.stringify(error)}\n${errorText((error as { cause?: unknown }).cause ?? '')}`;
}

/** Awaits `promise`, which must reject; returns the rejection. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, it resolved');
}

// ---- an app whose routes call the session helpers, on every framework

/**
 * Routes (all behind `wx.required`; JSON bodies read by the route itself):
 *   GET  /me                  -> { openid, data, userInfo }
 *   POST /me/coins            -> data.coins += 1
 *   POST /storage             { kvList }        -> session.setUserStorage(kvList)      -> { ok: true }
 *   POST /storage/remove      { keys }          -> session.removeUserStorage(keys)     -> { ok: true }
 *   POST /interactive         { kvList }        -> session.setUserInteractiveData(kvList) -> { ok: true }
 *   GET  /check                                 -> { valid: await session.checkKey() }
 *   POST /sign                { body }          -> { signature: session.sign(body) }
 *   POST /decrypt             { encryptedData, iv } -> { data: session.decrypt(...) }
 *   POST /raw                 { rawData, signature } -> { valid: session.verifyRawData(...) }
 * A WxSessionError thrown by a helper answers its status with `error.toJSON()`.
 */
async function action(route: string, session: WxSession, input: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  try {
    switch (route) {
      case 'GET /me':
        return { status: 200, body: { openid: session.openid, data: session.data, userInfo: session.userInfo ?? null } };
      case 'POST /me/coins': {
        const data = session.data as { coins?: number };
        data.coins = (data.coins ?? 0) + 1;
        return { status: 200, body: { coins: data.coins } };
      }
      case 'POST /storage':
        await session.setUserStorage(input.kvList as never);
        return { status: 200, body: { ok: true } };
      case 'POST /storage/remove':
        await session.removeUserStorage(input.keys as never);
        return { status: 200, body: { ok: true } };
      case 'POST /interactive':
        await session.setUserInteractiveData(input.kvList as never);
        return { status: 200, body: { ok: true } };
      case 'GET /check':
        return { status: 200, body: { valid: await session.checkKey() } };
      case 'POST /sign':
        return { status: 200, body: { signature: session.sign(input.body as string) } };
      case 'POST /decrypt':
        return { status: 200, body: { data: session.decrypt(input.encryptedData as string, input.iv as string) } };
      case 'POST /raw':
        return { status: 200, body: { valid: session.verifyRawData(input.rawData as string, input.signature as string) } };
      default:
        return { status: 404, body: { error: 'no route' } };
    }
  } catch (error) {
    if (error instanceof WxSessionError) return { status: error.status, body: error.toJSON() };
    throw error;
  }
}

const ROUTES = new Set(['GET /me', 'POST /me/coins', 'POST /storage', 'POST /storage/remove', 'POST /interactive', 'GET /check', 'POST /sign', 'POST /decrypt', 'POST /raw']);

async function readJson(stream: AsyncIterable<unknown>): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** express 4 and koa 2 ship without types; loaded through a variable so tsc does not ask for them. */
async function framework(name: AdapterName): Promise<unknown> {
  if (name === 'express5') return express5;
  if (name === 'koa3') return Koa3;
  const specifier: string = name; // 'express4' | 'koa2' (npm aliases)
  return ((await import(specifier)) as { default: unknown }).default;
}

async function buildHandler(name: AdapterName, core: WxSessionCore): Promise<Parameters<typeof listen>[0]> {
  if (name === 'express5' || name === 'express4') {
    const express = (await framework(name)) as typeof express5;
    const app = express();
    const wx = expressSession(core);
    app.use(wx);
    app.use((req, res, next) => {
      const route = `${req.method} ${req.path}`;
      if (!ROUTES.has(route)) return next();
      wx.required(req, res, (error?: unknown) => {
        if (error) return next(error);
        readJson(req)
          .then((input) => action(route, req.wxSession!, input))
          .then(({ status, body }) => res.status(status).json(body), next);
      });
    });
    return app as unknown as Parameters<typeof listen>[0];
  }
  const Koa = (await framework(name)) as typeof Koa3;
  const app = new Koa();
  const wx = koaSession(core);
  app.use(wx);
  app.use(async (ctx, next) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (!ROUTES.has(route)) return next();
    await wx.required(ctx, async () => {
      const { status, body } = await action(route, ctx.state.wxSession!, await readJson(ctx.req));
      ctx.status = status;
      ctx.body = body;
    });
  });
  return app.callback();
}

export interface KeysApp {
  name: AdapterName;
  url: string;
  http: ReturnType<typeof supertest>;
  core: WxSessionCore;
  mock: MockWeChat;
  store: RecordingStore;
  logger: ReturnType<typeof captureLogger>;
  /** Logs in `openid` through POST /wx/login; returns the token. */
  login(openid: string): Promise<string>;
  close(): Promise<void>;
}

export interface KeysAppOptions {
  core?: Partial<WxSessionOptions>;
  /** Reuse a running mock (not closed by close()). */
  mock?: MockWeChat;
}

/** A real HTTP server running `name` with wxSession(core) and the helper routes above. */
export async function startKeysApp(name: AdapterName, options: KeysAppOptions = {}): Promise<KeysApp> {
  const mock = options.mock ?? (await startMockWeChat());
  const store = new RecordingStore();
  const logger = captureLogger();
  const core = createWxSession(coreOptions(mock, { store, logger, ...options.core }));
  const { server, url } = await listen(await buildHandler(name, core));
  const http = supertest(url);
  return {
    name, url, http, core, mock, store, logger,
    async login(openid) {
      const res = await http.post('/wx/login').send({ code: mock.issueCode(openid) });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    async close() {
      await closeServer(server as Server);
      if (!options.mock) await mock.close();
    },
  };
}

/** A core on `mock` with a RecordingStore, for tests that drive sessions without HTTP in front. */
export function coreFor(mock: MockWeChat, extra: Partial<WxSessionOptions> = {}): { core: WxSessionCore; store: RecordingStore } {
  const store = new RecordingStore();
  return { core: createWxSession(coreOptions(mock, { store, ...extra })), store };
}

