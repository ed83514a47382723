// The WeChat server APIs wx-session calls, on top of callWeChat.
import { WxSessionError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { signPayload } from '../crypto.js';
import { FunctionTokenSource, SharedTokenSource, StableTokenSource, fetchStableToken, type AccessTokenSource, type TokenCache } from './access-token.js';
import { BUSY, CONFIG_ERRCODES, KEY_EXPIRED, TOKEN_ERRCODES, errcodeError } from './errcodes.js';
import { callWeChat, type WeChatAnswer, type WeChatRequest } from './http.js';

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid?: string;
}

/** Backoff before each retry of a busy (-1) code2Session: at most two retries. */
const BUSY_BACKOFF_MS = [100, 250];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What checkSessionKey said of a key. Outages are thrown, not returned. */
export type KeyState = 'valid' | 'expired';

export class WeChatApi {
  readonly #options: ResolvedOptions;
  readonly tokens: AccessTokenSource;

  /** `shared`: a cache where instances share the token (the store's), when it has one. */
  constructor(options: ResolvedOptions, shared?: TokenCache) {
    this.#options = options;
    const fetchToken = (force: boolean) => fetchStableToken((request) => this.call(request), options.appId, options.appSecret, force);
    if (options.accessToken) this.tokens = new FunctionTokenSource(options.accessToken);
    else if (shared) this.tokens = new SharedTokenSource(fetchToken, shared, options.appId, Math.max(10_000, 2 * options.timeout));
    else this.tokens = new StableTokenSource(fetchToken);
  }

  /**
   * A call that needs an access token. When WeChat refuses the token (40001/40014/42001) the
   * source renews it and the call is retried once.
   */
  async callWithToken(build: (accessToken: string) => WeChatRequest): Promise<WeChatAnswer> {
    const token = await this.tokens.get();
    const answer = await this.call(build(token));
    if (!TOKEN_ERRCODES.has(answer.errcode ?? 0)) return answer;
    return this.call(build(await this.tokens.renew(token)));
  }

  /** checkSessionKey: `signature = hex(hmac_sha256(session_key, ''))`. */
  async checkSessionKey(openid: string, sessionKey: string): Promise<KeyState> {
    const signature = signPayload('', sessionKey);
    const answer = await this.callWithToken((accessToken) => ({
      method: 'GET',
      path: '/wxa/checksession',
      query: { access_token: accessToken, signature, openid, sig_method: 'hmac_sha256' },
    }));
    const errcode = answer.errcode ?? 0;
    if (errcode === 0) return 'valid';
    if (errcode === KEY_EXPIRED) return 'expired';
    throw errcodeError(errcode, 'checkSessionKey');
  }

  /**
   * A login-state signed POST (user storage, interactive data): the signature covers the exact
   * body bytes sent. 87009 -> WX_SESSION_KEY_EXPIRED; other errcodes -> WX_UPSTREAM_ERROR.
   */
  async signedPost(path: string, openid: string, sessionKey: string, payload: unknown): Promise<void> {
    const body = JSON.stringify(payload);
    const signature = signPayload(body, sessionKey);
    const answer = await this.callWithToken((accessToken) => ({
      method: 'POST',
      path,
      query: { access_token: accessToken, signature, openid, sig_method: 'hmac_sha256' },
      body,
    }));
    const errcode = answer.errcode ?? 0;
    if (errcode === 0) return;
    if (errcode === KEY_EXPIRED || CONFIG_ERRCODES.has(errcode)) throw errcodeError(errcode, path);
    throw new WxSessionError('WX_UPSTREAM_ERROR', { errcode, message: `WeChat answered ${path} with errcode ${errcode}` });
  }

  call(request: WeChatRequest): Promise<WeChatAnswer> {
    return callWeChat(this.#options.fetch, this.#options.apiBase, this.#options.timeout, request);
  }

  /**
   * Exchanges a wx.login code. Retries errcode -1 at most twice; never retries anything else,
   * and never a timeout: the code may already be spent.
   */
  async code2Session(code: string): Promise<Code2SessionResult> {
    const { appId, appSecret } = this.#options;
    const request: WeChatRequest = {
      method: 'GET',
      path: '/sns/jscode2session',
      query: { appid: appId, secret: appSecret, js_code: code, grant_type: 'authorization_code' },
    };
    for (let attempt = 0; ; attempt++) {
      const answer = await this.call(request);
      const errcode = answer.errcode ?? 0;
      if (errcode === BUSY && attempt < BUSY_BACKOFF_MS.length) {
        await sleep(BUSY_BACKOFF_MS[attempt]!);
        continue;
      }
      if (errcode !== 0) throw errcodeError(errcode, 'code2Session');
      const { openid, session_key: sessionKey, unionid } = answer;
      if (typeof openid !== 'string' || openid.length === 0 || typeof sessionKey !== 'string' || sessionKey.length === 0) {
        throw new WxSessionError('WX_UPSTREAM_ERROR', { message: 'code2Session answered without openid or session_key' });
      }
      return typeof unionid === 'string' && unionid.length > 0 ? { openid, sessionKey, unionid } : { openid, sessionKey };
    }
  }
}
