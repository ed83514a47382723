// Douyin (ByteDance) mini games (docs/platforms.md), under /mgplatform/api/apps/ of
// minigame.zijieapi.com. Two error dialects: the older flat `{error, errcode, errmsg}`
// (jscode2session, user storage) and `{err_no, err_msg|err_tips, log_id, data?}` (tokens,
// check_session_key, reset_session_key). Both become WxSessionErrors of the one table:
// 40018/40019 a bad code, 40015/40017/40020 the app's setup, -1 busy (code2Session retries it),
// 28001039 a stale session_key (as WeChat's 87009; in a login answer, just an unlisted number), 28001003 a refused access token (renewed,
// retried once); anything else, or an answer that says neither, WX_UPSTREAM_ERROR.
import { signPayload } from '../crypto.js';
import { withSetupHint } from '../diagnostics.js';
import { nonEmpty, WxSessionError, type ErrorCode } from '../errors.js';
import { tokenIn, type FetchedToken } from '../wechat/access-token.js';
import { retryBusy, type KeyState, type TokenDialect, type WeChatApi } from '../wechat/api.js';
import { asLoginError, BUSY, messageOf } from '../wechat/errcodes.js';
import { sourceOf, type WeChatAnswer, type WeChatRequest } from '../wechat/http.js';
import { unsupported, type LoginAnswer, type Platform, type SignedCall } from './types.js';

const BASE = '/mgplatform/api/apps';

const PATHS: Readonly<Record<SignedCall, string | undefined>> = Object.freeze({
  setUserStorage: `${BASE}/set_user_storage`,
  removeUserStorage: `${BASE}/remove_user_storage`,
  setUserInteractiveData: undefined,
});

/** check_session_key (and the signed calls) refusing the signature: the key is stale. */
export const DOUYIN_KEY_EXPIRED = 28001039;
/** The access token is invalid or expired. */
export const DOUYIN_TOKEN_INVALID = 28001003;

/** Numbers that say the app's own setup is wrong, and what to do. */
const SETUP_HINTS: ReadonlyMap<number, string> = new Map([
  [40015, "Douyin refused the AppID (40015): check the app's appId"],
  [40017, "Douyin refused the AppSecret (40017): check the app's appSecret, or reset it in the Douyin developer console and deploy the new one"],
  [40020, "Douyin refused the grant type (40020): the API base may not be Douyin's"],
]);

const BY_ERRNO: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [40018, 'WX_CODE_INVALID'],
  [40019, 'WX_CODE_INVALID'],
  [DOUYIN_KEY_EXPIRED, 'WX_SESSION_KEY_EXPIRED'],
]);

/**
 * The error number of a Douyin answer in either dialect: 0 for a success, undefined when the
 * answer says neither (truncated, another shape).
 */
export function douyinErrno(answer: WeChatAnswer): number | undefined {
  if (answer.err_no !== undefined) return typeof answer.err_no === 'number' ? answer.err_no : undefined;
  if (answer.error !== undefined) {
    if (answer.error === 0) return 0;
    return typeof answer.errcode === 'number' && answer.errcode !== 0 ? answer.errcode : undefined;
  }
  return typeof answer.errcode === 'number' ? answer.errcode : undefined;
}

/** The error for a non-zero (or unreadable: undefined) Douyin number. Never echoes Douyin's message. */
export function douyinError(errno: number | undefined, operation: string, source: { endpoint?: string; rid?: string }): WxSessionError {
  if (errno === undefined) {
    return withSetupHint(new WxSessionError('WX_UPSTREAM_ERROR', { ...source, message: `Douyin's answer to ${operation} says neither success nor an error number` }), null);
  }
  const hint = SETUP_HINTS.get(errno);
  if (hint !== undefined) {
    const message = `Douyin rejected the app configuration in ${operation} (errcode ${errno}); check appId and appSecret`;
    return withSetupHint(new WxSessionError('WX_CONFIG_ERROR', { errcode: errno, ...source, message }), hint);
  }
  const code = BY_ERRNO.get(errno);
  if (code !== undefined) return withSetupHint(new WxSessionError(code, { errcode: errno, ...source, message: messageOf(code, 'Douyin') }), null);
  const message = errno === BUSY ? `Douyin is busy (${operation}, errcode -1)` : `Douyin answered ${operation} with errcode ${errno}`;
  return withSetupHint(new WxSessionError('WX_UPSTREAM_ERROR', { errcode: errno, ...source, message }), null);
}

/** The answer when it is a success, else its error. */
function expectOk(answer: WeChatAnswer, request: WeChatRequest, operation: string): WeChatAnswer {
  const errno = douyinErrno(answer);
  if (errno === 0) return answer;
  throw douyinError(errno, operation, sourceOf(answer, request));
}

function unreadable(operation: string, endpoint: string, missing: string): WxSessionError {
  return withSetupHint(new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${operation} answered without ${missing}` }), null);
}

/** `POST stable_token`: `{err_no, data: {access_token, expires_in}}`; it invalidates no other token. */
async function fetchDouyinToken(
  call: (request: WeChatRequest) => Promise<WeChatAnswer>,
  appId: string,
  appSecret: string,
  forceRefresh: boolean,
): Promise<FetchedToken> {
  const body = JSON.stringify({ appid: appId, secret: appSecret, grant_type: 'client_credential', force_refresh: forceRefresh });
  const request: WeChatRequest = { method: 'POST', path: `${BASE}/stable_token`, query: {}, body };
  const answer = expectOk(await call(request), request, 'stable_token');
  return tokenIn(answer.data as Record<string, unknown> | null | undefined, 'stable_token', request.path);
}

/** Douyin's tokens: stable_token; 28001003 (either dialect) refuses a token. */
export const DOUYIN_TOKENS: TokenDialect = {
  fetch: fetchDouyinToken,
  refused: (answer) => douyinErrno(answer) === DOUYIN_TOKEN_INVALID,
};

export class DouyinPlatform implements Platform {
  readonly name = 'douyin' as const;
  readonly checksKeys = true;
  readonly guests = true;
  readonly wechat = undefined;
  readonly #api: WeChatApi;
  readonly #appId: string;
  readonly #appSecret: string;

  /** `api`: a WeChatApi on Douyin's apiBase, made with DOUYIN_TOKENS (the HTTP and token part). */
  constructor(api: WeChatApi, appId: string, appSecret: string) {
    this.#api = api;
    this.#appId = appId;
    this.#appSecret = appSecret;
  }

  get tokens() {
    return this.#api.tokens;
  }

  code2Session(code: string): Promise<LoginAnswer> {
    return this.#redeem({ code });
  }

  anonymousCode2Session(anonymousCode: string): Promise<LoginAnswer> {
    return this.#redeem({ anonymous_code: anonymousCode });
  }

  /** jscode2session with `code` or `anonymous_code`; -1 retried at most twice, a timeout never. */
  async #redeem(grant: { code: string } | { anonymous_code: string }): Promise<LoginAnswer> {
    const request: WeChatRequest = { method: 'GET', path: `${BASE}/jscode2session`, query: { appid: this.#appId, secret: this.#appSecret, ...grant } };
    const answer = await retryBusy(() => this.#api.call(request));
    const errno = douyinErrno(answer);
    if (errno !== 0) throw asLoginError(douyinError(errno, 'code2Session', sourceOf(answer, request)), 'Douyin');
    const anonymous = 'anonymous_code' in grant;
    const openid = anonymous ? answer.anonymous_openid : answer.openid;
    const sessionKey = answer.session_key;
    if (!nonEmpty(openid) || !nonEmpty(sessionKey)) {
      throw unreadable('code2Session', request.path, anonymous ? 'anonymous_openid or session_key' : 'openid or session_key');
    }
    if (anonymous) return { openid, sessionKey, anonymous: true };
    return nonEmpty(answer.unionid) ? { openid, sessionKey, unionid: answer.unionid } : { openid, sessionKey };
  }

  /** check_session_key, signed over '' as WeChat's checksession (⚠ the message is undocumented). */
  async checkSessionKey(openid: string, sessionKey: string): Promise<KeyState> {
    const signature = signPayload('', sessionKey);
    const build = (accessToken: string): WeChatRequest => ({
      method: 'GET',
      path: `${BASE}/check_session_key`,
      // Query, as the page says; also a header, as Douyin's Go SDK sends it (docs/platforms.md).
      query: { access_token: accessToken, openid, signature, sig_method: 'hmac_sha256' },
      headers: { access_token: accessToken },
    });
    const answer = await this.#api.callWithToken(build);
    const errno = douyinErrno(answer);
    if (errno === 0) return 'valid';
    if (errno === DOUYIN_KEY_EXPIRED) return 'expired';
    // Anything else is an outage of the check: the caller fails open (SECURITY.md, "Faults: WeChat
    // and Redis misbehaving").
    throw douyinError(errno, 'checkSessionKey', sourceOf(answer, build('')));
  }

  signedPath(call: SignedCall): string | undefined {
    return PATHS[call];
  }

  async signedPost(call: SignedCall, openid: string, sessionKey: string, payload: unknown): Promise<void> {
    const path = PATHS[call];
    if (path === undefined) throw unsupported('Interactive data (setUserInteractiveData)', this.name, this.#appId);
    const body = JSON.stringify(payload);
    const signature = signPayload(body, sessionKey);
    const build = (accessToken: string): WeChatRequest => ({
      method: 'POST',
      path,
      query: { access_token: accessToken, openid, signature, sig_method: 'hmac_sha256' },
      body,
    });
    const answer = await this.#api.callWithToken(build);
    expectOk(answer, build(''), path);
  }

  /** reset_session_key (JSON body, token inside); signed over '' like check_session_key (⚠ undocumented). */
  async resetSessionKey(openid: string, sessionKey: string): Promise<string> {
    const path = `${BASE}/reset_session_key`;
    const signature = signPayload('', sessionKey);
    const build = (accessToken: string): WeChatRequest => ({
      method: 'POST',
      path,
      query: {},
      body: JSON.stringify({ access_token: accessToken, openid, signature, sig_method: 'hmac_sha256' }),
    });
    const answer = expectOk(await this.#api.callWithToken(build), build(''), 'resetSessionKey');
    const fresh = answer.session_key ?? (answer.data as Record<string, unknown> | null | undefined)?.session_key;
    if (!nonEmpty(fresh)) throw unreadable('resetSessionKey', path, 'session_key');
    return fresh;
  }

  verifyCredentials(): Promise<void> {
    return this.#api.verifyCredentials();
  }
}
