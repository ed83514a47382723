// Type fixture (compiled by test/client-types.test.ts against the BUILT declarations, never run):
// game code using wx-session/client. Compiled with lib ES2017 and no @types at all, so it also
// proves the published client declarations stand alone (no WeChat or Node typings needed).
import {
  createSessionClient, SessionClientError,
  type SessionClient, type SessionLoginResult, type SessionResponse, type SessionUploadResponse, type WxApi,
} from 'wx-session/client';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

// Any object with the members the client calls will do (a test fake, another platform's API).
const storage: Record<string, string> = {};
const fake: WxApi = {
  login(options) {
    options.success?.({ code: 'code' });
  },
  request(options) {
    options.success?.({ statusCode: 200, data: { ok: true }, header: {} });
  },
  uploadFile(options) {
    options.success?.({ statusCode: 200, data: '{}' });
  },
  getStorageSync: (key) => storage[key] ?? '',
  setStorageSync(key, value) {
    storage[key] = value;
  },
  removeStorageSync(key) {
    delete storage[key];
  },
};

const client: SessionClient = createSessionClient({ baseUrl: 'https://game.example.com', wx: fake, storageKey: 'k', loginPath: '/l', logoutPath: '/o' });

async function play(): Promise<void> {
  const me = await client.request<{ openid: string }>({ url: '/me' });
  assertType<Equals<typeof me, SessionResponse<{ openid: string }>>>();
  const openid: string = me.data.openid;
  const status: number = me.statusCode;
  const retryAfter: unknown = me.header['Retry-After'];

  const untyped = await client.request({ url: '/me/score', method: 'POST', data: { score: 1 }, header: { 'X-Game': '1' }, timeout: 5000 });
  assertType<Equals<typeof untyped.data, unknown>>();

  const upload: SessionUploadResponse = await client.uploadFile({ url: '/upload', filePath: 'wxfile://a', name: 'file', formData: { round: 3 } });
  const text: string = upload.data;

  const login: SessionLoginResult = await client.login();
  const token: string = login.token;
  const expiresIn: number = login.expiresIn;
  const maybe: string | undefined = client.token();
  await client.logout();

  try {
    await client.login();
  } catch (error) {
    if (error instanceof SessionClientError) {
      const code: string = error.code;
      const seconds: number | undefined = error.retryAfter;
      const http: number | undefined = error.statusCode;
      void [code, seconds, http];
    }
  }
  void [openid, status, retryAfter, text, token, expiresIn, maybe];
}
void play;
