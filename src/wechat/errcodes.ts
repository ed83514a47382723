// WeChat errcodes and what each becomes (the error table: README.md, "Errors").
import { WxSessionError, type ErrorCode } from '../errors.js';

/** WeChat says the app's own credentials or settings are wrong: the operator must act. */
export const CONFIG_ERRCODES: ReadonlySet<number> = new Set([40002, 40013, 40125, 40164, 41002, 41004, 43002, 45009, 48001, 89503]);

/** The access token is invalid, expired or replaced: fetch another and retry once. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** WeChat is busy; the only errcode worth retrying. */
export const BUSY = -1;

/** The session_key no longer matches the user's (checkSessionKey, signed APIs). */
export const KEY_EXPIRED = 87009;

/** Virtual payment: the pay_sig did not verify, i.e. the AppKey or env configured is wrong. */
export const PAY_SIG_INVALID = 90011;

const byErrcode: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [40029, 'WX_CODE_INVALID'],
  [40163, 'WX_CODE_USED'],
  [40226, 'WX_USER_BLOCKED'],
  [45011, 'WX_RATE_LIMITED'],
  [KEY_EXPIRED, 'WX_SESSION_KEY_EXPIRED'],
]);

/** Where an errcode came from: the API path and WeChat's request id, for the operator's log. */
export interface ErrcodeSource {
  endpoint?: string;
  rid?: string;
}

/**
 * The error for a non-zero errcode. Never includes WeChat's errmsg: it is not ours to echo. `who`
 * names the platform answering in WeChat's table (QQ does) in the messages.
 */
export function errcodeError(errcode: number, api: string, source: ErrcodeSource = {}, who = 'WeChat'): WxSessionError {
  if (CONFIG_ERRCODES.has(errcode)) {
    return new WxSessionError('WX_CONFIG_ERROR', {
      errcode,
      ...source,
      message: `${who} rejected the app configuration in ${api} (errcode ${errcode}); check appId, appSecret and the API allow-list`,
    });
  }
  const code = byErrcode.get(errcode);
  if (code) {
    if (who === 'WeChat') return new WxSessionError(code, { errcode, ...source });
    return new WxSessionError(code, { errcode, ...source, message: messageOf(code, who) });
  }
  const message = errcode === BUSY ? `${who} is busy (${api}, errcode -1)` : `${who} answered ${api} with errcode ${errcode}`;
  return new WxSessionError('WX_UPSTREAM_ERROR', { errcode, message, ...source });
}

/** What a login may answer when the platform refuses or fails it (docs/api.md, "The core"). */
const LOGIN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['WX_CODE_INVALID', 'WX_CODE_USED', 'WX_USER_BLOCKED', 'WX_RATE_LIMITED', 'WX_CONFIG_ERROR', 'WX_UPSTREAM_ERROR']);

/**
 * The error of a code2Session answer: a number that means something elsewhere (a stale
 * session_key, 87009 or Douyin's 28001039) is, in a login, just a number the table does not
 * list: WX_UPSTREAM_ERROR with it.
 */
export function asLoginError(error: WxSessionError, who: string): WxSessionError {
  if (LOGIN_CODES.has(error.code)) return error;
  const { errcode, endpoint, rid } = error;
  return new WxSessionError('WX_UPSTREAM_ERROR', { errcode, endpoint, rid, message: `${who} answered code2Session with errcode ${errcode}` });
}

const LOGIN_CALLS: Readonly<Record<string, string>> = { WeChat: 'wx.login()', QQ: 'qq.login()', Douyin: 'tt.login()' };

/** The default message of `code` as another platform (`who`: 'QQ', 'Douyin') would have it said. */
export function messageOf(code: ErrorCode, who: string): string {
  return new WxSessionError(code).message.replace('WeChat', who).replace('wx.login()', LOGIN_CALLS[who] ?? 'wx.login()');
}
