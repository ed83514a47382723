// The WeChat server APIs wx-session calls, on top of callWeChat.
import { WxSessionError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { BUSY, errcodeError } from './errcodes.js';
import { callWeChat, type WeChatAnswer, type WeChatRequest } from './http.js';

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid?: string;
}

/** Backoff before each retry of a busy (-1) code2Session: at most two retries. */
const BUSY_BACKOFF_MS = [100, 250];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WeChatApi {
  readonly #options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    this.#options = options;
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
