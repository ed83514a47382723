// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// what a user of the framework-agnostic core writes.
import {
  createWxSession, ErrorCode, MemoryStore, WxSessionError, signPayload, decryptData, verifyRawData,
  type AuthResult, type LoginResult, type SessionRecord, type SessionStore, type WxSession,
  type WxSessionCore, type WxSessionOptions,
} from 'wx-session';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

// A user-written store satisfies the published interface.
class MapStore implements SessionStore {
  readonly #map = new Map<string, SessionRecord>();
  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#map.get(id);
  }
  async set(id: string, record: SessionRecord, _ttlMs: number): Promise<void> {
    this.#map.set(id, record);
  }
  async destroy(id: string): Promise<void> {
    this.#map.delete(id);
  }
}

export async function main(): Promise<void> {
  const mock: MockWeChat = await startMockWeChat({ appId: 'wxapp' });
  const options: WxSessionOptions = {
    appId: mock.appId,
    appSecret: mock.appSecret,
    secret: ['n'.repeat(32), 'o'.repeat(32)],
    store: new MemoryStore(),
    ttl: 7 * 24 * 3600,
    checkSessionKey: { interval: 1800 },
    keyExpired: 'refresh',
    apiBase: mock.url,
    timeout: 5000,
    fetch: globalThis.fetch,
    accessToken: async () => 'token',
    exposeOpenid: true,
  };
  const wx: WxSessionCore = createWxSession(options);
  createWxSession({ appId: 'a', appSecret: 'b', secret: 'x'.repeat(32), store: new MapStore(), checkSessionKey: false, keyExpired: 'reject' });

  const login: LoginResult = await wx.login(mock.issueCode('oUser1'));
  const token: string = login.token;
  const expiresIn: number = login.expiresIn;
  const session: WxSession = login.session;
  await wx.login(mock.issueCode(), { encryptedData: 'e', iv: 'i' });

  const r: AuthResult = await wx.authenticate(token, { code: 'fresh' });
  if (r.session) {
    const s = r.session;
    assertType<Equals<typeof s, WxSession>>();
    const openid: string = s.openid;
    const unionid: string | undefined = s.unionid;
    const key: string = s.sessionKey;
    const reissued: string | undefined = r.token;
    const created: number = s.createdAt + s.expiresAt;
    const signature: string = s.sign('{"k":1}');
    const user: Record<string, unknown> = s.decrypt('enc', 'iv');
    const ok: boolean = s.verifyRawData('raw', 'sig');
    assertType<Equals<typeof s.data.coins, number | undefined>>();
    s.data.coins = (s.data.coins ?? 0) + 1;
    void [openid, unionid, key, reissued, created, signature, user, ok, JSON.stringify(s)];
    await s.destroy();
  } else {
    assertType<Equals<typeof r.session, null>>();
    const code: ErrorCode = r.code;
    if (code === ErrorCode.WX_SESSION_EXPIRED) {
      assertType<Equals<typeof code, 'WX_SESSION_EXPIRED'>>();
    }
  }
  await wx.logout(token);

  // ErrorCode: a frozen object whose values are literal types, and the union type of them.
  assertType<Equals<typeof ErrorCode.WX_SESSION_EXPIRED, 'WX_SESSION_EXPIRED'>>();
  const codes: readonly ErrorCode[] = Object.values(ErrorCode);

  try {
    await wx.login('code');
  } catch (error) {
    if (error instanceof WxSessionError) {
      const c: ErrorCode = error.code;
      const status: number = error.status;
      const errcode: number | undefined = error.errcode;
      const message: string = error.message;
      const name: string = error.name;
      const body: { code: ErrorCode; message: string; errcode?: number } = error.toJSON();
      void [c, status, errcode, message, name, body];
    }
  }
  const made = new WxSessionError(ErrorCode.WX_STORE_UNAVAILABLE, { message: 'down', cause: new Error('x') });
  const madeAlso = new WxSessionError('WX_CODE_INVALID', { errcode: 40029 });
  const isError: Error = made;

  const sig: string = signPayload('body', 'key');
  const valid: boolean = verifyRawData('raw', 'sig', 'key');
  void [session, expiresIn, codes, madeAlso, isError, sig, valid, decryptData];
  await mock.close();
}

declare module 'wx-session' {
  interface WxSessionData {
    coins?: number;
  }
}
