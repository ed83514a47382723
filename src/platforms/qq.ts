// QQ mini games (docs/platforms.md): WeChat's code2Session and WeChat's errcode table at
// api.q.qq.com, an access token from `GET /api/getToken` (each fetch replaces the previous
// token), signed user storage under /api/openDataContext/. No server-side checkSessionKey, no
// key reset, no interactive data: those reject WX_BAD_REQUEST, and key checks are off.
import { withSetupHint } from '../diagnostics.js';
import { WxSessionError } from '../errors.js';
import { tokenIn, type FetchedToken } from '../wechat/access-token.js';
import { WECHAT_TOKENS, type KeyState, type TokenDialect, type WeChatApi } from '../wechat/api.js';
import { errcodeError } from '../wechat/errcodes.js';
import { sourceOf, type WeChatAnswer, type WeChatRequest } from '../wechat/http.js';
import { unsupported, type LoginAnswer, type Platform, type SignedCall } from './types.js';

const PATHS: Readonly<Record<SignedCall, string | undefined>> = Object.freeze({
  setUserStorage: '/api/openDataContext/set_user_storage',
  removeUserStorage: '/api/openDataContext/remove_user_storage',
  setUserInteractiveData: undefined,
});

/** getToken's 40001 is a wrong AppSecret, not a refused token as on the other APIs. */
const BAD_SECRET = 40001;

/** `GET /api/getToken`: `{ access_token, expires_in }` or WeChat's `{ errcode, errmsg }`. */
async function fetchQqToken(call: (request: WeChatRequest) => Promise<WeChatAnswer>, appId: string, appSecret: string): Promise<FetchedToken> {
  const request: WeChatRequest = { method: 'GET', path: '/api/getToken', query: { grant_type: 'client_credential', appid: appId, secret: appSecret } };
  const answer = await call(request);
  const errcode = answer.errcode ?? 0;
  if (errcode === BAD_SECRET) {
    const error = new WxSessionError('WX_CONFIG_ERROR', {
      errcode,
      ...sourceOf(answer, request),
      message: 'QQ rejected the app configuration in getToken (errcode 40001); check appSecret',
    });
    throw withSetupHint(error, "QQ refused the AppSecret (40001 from getToken): check the app's appSecret");
  }
  if (errcode !== 0) throw errcodeError(errcode, 'getToken', sourceOf(answer, request), 'QQ');
  return tokenIn(answer, 'getToken', request.path);
}

/** QQ's tokens: getToken (no force mode: every fetch is a new token); refused as on WeChat. */
export const QQ_TOKENS: TokenDialect = { fetch: fetchQqToken, refused: WECHAT_TOKENS.refused };

export class QqPlatform implements Platform {
  readonly name = 'qq' as const;
  readonly checksKeys = false;
  readonly guests = false;
  readonly wechat = undefined;
  readonly #api: WeChatApi;
  readonly #appId: string;

  /** `api`: a WeChatApi on QQ's apiBase, made with QQ_TOKENS. */
  constructor(api: WeChatApi, appId: string) {
    this.#api = api;
    this.#appId = appId;
  }

  get tokens() {
    return this.#api.tokens;
  }

  code2Session(code: string): Promise<LoginAnswer> {
    return this.#api.code2Session(code);
  }

  async anonymousCode2Session(): Promise<LoginAnswer> {
    throw unsupported('A guest login (anonymousCode)', this.name, this.#appId);
  }

  async checkSessionKey(): Promise<KeyState> {
    throw unsupported('A server-side session_key check', this.name, this.#appId);
  }

  signedPath(call: SignedCall): string | undefined {
    return PATHS[call];
  }

  async signedPost(call: SignedCall, openid: string, sessionKey: string, payload: unknown): Promise<void> {
    const path = PATHS[call];
    if (path === undefined) throw unsupported('Interactive data (setUserInteractiveData)', this.name, this.#appId);
    await this.#api.signedPost(path, openid, sessionKey, payload);
  }

  async resetSessionKey(): Promise<string> {
    throw unsupported('A session_key reset', this.name, this.#appId);
  }

  verifyCredentials(): Promise<void> {
    return this.#api.verifyCredentials();
  }
}
