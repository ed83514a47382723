// The WeChat server APIs wx-session calls, on top of callWeChat. The HTTP and access-token part
// (call, callWithToken, tokens) also carries Douyin's and QQ's calls, with their own token API
// (a TokenDialect): src/platforms/.
import { WxSessionError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { signPayload } from '../crypto.js';
import type { TokenCache } from '../store.js';
import { FunctionTokenSource, StableTokenSource, fetchStableToken, type AccessTokenSource, type FetchedToken } from './access-token.js';
import { SharedTokenSource } from './shared-token.js';
import { BUSY, CONFIG_ERRCODES, KEY_EXPIRED, TOKEN_ERRCODES, asLoginError, errcodeError } from './errcodes.js';
import { callWeChat, sourceOf, type WeChatAnswer, type WeChatRequest } from './http.js';
import { platformLabel } from '../platforms/types.js';

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid?: string;
}

/**
 * The longest wx.login code accepted, at login and as a refresh's X-WX-Code (README.md,
 * "Errors"): a longer one is WX_BAD_REQUEST and never sent to WeChat.
 */
export const MAX_CODE_LENGTH = 256;

/** Backoff before each retry of a busy (-1) code2Session: at most two retries. */
const BUSY_BACKOFF_MS = [100, 250];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What checkSessionKey said of a key. Outages are thrown, not returned. */
export type KeyState = 'valid' | 'expired';

/** How a platform hands out access tokens, and how its answers say one was refused. */
export interface TokenDialect {
  /** One call of the platform's token API; its errors become WxSessionErrors. */
  fetch(call: (request: WeChatRequest) => Promise<WeChatAnswer>, appId: string, appSecret: string, forceRefresh: boolean): Promise<FetchedToken>;
  /** True when `answer` refuses the access token sent (renew it, retry once). */
  refused(answer: WeChatAnswer): boolean;
}

/** WeChat's: stable_token; 40001/40014/42001 refuse a token. */
export const WECHAT_TOKENS: TokenDialect = {
  fetch: fetchStableToken,
  refused: (answer) => TOKEN_ERRCODES.has(answer.errcode ?? 0),
};

export class WeChatApi {
  readonly #options: ResolvedOptions;
  readonly tokens: AccessTokenSource;
  readonly #fetchToken: (force: boolean) => Promise<unknown>;
  readonly #dialect: TokenDialect;
  /** Who answers, in messages: WeChat, or QQ (which answers in WeChat's table). */
  readonly #who: string;

  /**
   * `shared`: a cache where instances share the token (the store's), when it has one, keyed and
   * sealed by appId. `dialect`: the platform's token API (WeChat's by default).
   */
  constructor(options: ResolvedOptions, shared?: TokenCache, dialect: TokenDialect = WECHAT_TOKENS) {
    this.#options = options;
    this.#dialect = dialect;
    this.#who = platformLabel(options.platform);
    const fetchToken = (force: boolean) => dialect.fetch((request) => this.call(request), options.appId, options.appSecret, force);
    this.#fetchToken = fetchToken;
    const provide = options.accessToken;
    if (provide) this.tokens = new FunctionTokenSource(() => provide(options.appId));
    else if (shared) {
      // The lock outlives a slow fetch; a waiter gives up on the holder after one call's time.
      const lockMs = Math.max(10_000, 2 * options.timeout);
      this.tokens = new SharedTokenSource({ fetchToken, cache: shared, appId: options.appId, lockMs, waitMs: options.timeout + 500, now: options.now });
    } else this.tokens = new StableTokenSource(fetchToken, options.now);
  }

  /**
   * Asks WeChat whether the app's credentials work: one stable_token call (it hands out the
   * current token and invalidates nothing), or the user's own accessToken function.
   */
  async verifyCredentials(): Promise<void> {
    if (this.#options.accessToken) await this.tokens.get();
    else await this.#fetchToken(false);
  }

  /**
   * A call that needs an access token. When the platform refuses the token (WeChat:
   * 40001/40014/42001) the source renews it and the call is retried once.
   */
  async callWithToken(build: (accessToken: string) => WeChatRequest): Promise<WeChatAnswer> {
    const token = await this.tokens.get();
    const answer = await this.call(build(token));
    if (!this.#dialect.refused(answer)) return answer;
    return this.call(build(await this.tokens.renew(token)));
  }

  /** checkSessionKey: `signature = hex(hmac_sha256(session_key, ''))`. */
  async checkSessionKey(openid: string, sessionKey: string): Promise<KeyState> {
    const signature = signPayload('', sessionKey);
    const build = (accessToken: string): WeChatRequest => ({
      method: 'GET',
      path: '/wxa/checksession',
      query: { access_token: accessToken, signature, openid, sig_method: 'hmac_sha256' },
    });
    const answer = await this.callWithToken(build);
    const errcode = answer.errcode ?? 0;
    if (errcode === 0) return 'valid';
    if (errcode === KEY_EXPIRED) return 'expired';
    throw errcodeError(errcode, 'checkSessionKey', sourceOf(answer, build('')), this.#who);
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
    const source = sourceOf(answer, { method: 'POST', path, query: {} });
    if (errcode === KEY_EXPIRED || CONFIG_ERRCODES.has(errcode)) throw errcodeError(errcode, path, source, this.#who);
    throw new WxSessionError('WX_UPSTREAM_ERROR', { errcode, ...source, message: `${this.#who} answered ${path} with errcode ${errcode}` });
  }

  call(request: WeChatRequest): Promise<WeChatAnswer> {
    const { fetch, apiBase, timeout, appId, platform } = this.#options;
    return callWeChat(fetch, apiBase, timeout, request, appId, platform);
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
    const answer = await retryBusy(() => this.call(request));
    const errcode = answer.errcode ?? 0;
    if (errcode !== 0) throw asLoginError(errcodeError(errcode, 'code2Session', sourceOf(answer, request), this.#who), this.#who);
    const { openid, session_key: sessionKey, unionid } = answer;
    if (typeof openid !== 'string' || openid.length === 0 || typeof sessionKey !== 'string' || sessionKey.length === 0) {
      throw new WxSessionError('WX_UPSTREAM_ERROR', { message: 'code2Session answered without openid or session_key' });
    }
    return typeof unionid === 'string' && unionid.length > 0 ? { openid, sessionKey, unionid } : { openid, sessionKey };
  }
}

/**
 * Makes a call again while WeChat answers -1 (busy): at most twice, after a short backoff
 * (docs/api.md, "The core"). A timeout is not retried: the first attempt may have been applied.
 */
export async function retryBusy(attempt: () => Promise<WeChatAnswer>): Promise<WeChatAnswer> {
  for (let retry = 0; ; retry++) {
    const answer = await attempt();
    if (answer.errcode !== BUSY || retry >= BUSY_BACKOFF_MS.length) return answer;
    await sleep(BUSY_BACKOFF_MS[retry]!);
  }
}
