// What operators see (docs/operators.md): the logger lines for failures of the app's own setup,
// for outages and for store failures, and the node:diagnostics_channel channels that metrics and
// tracing subscribe to without a wrapper. Nothing published or logged here holds a secret.
import diagnostics from 'node:diagnostics_channel';
import { ErrorCode, WxSessionError } from './errors.js';
import type { Logger, PlatformName } from './options.js';
import { CONFIG_ERRCODES, PAY_SIG_INVALID, TOKEN_ERRCODES } from './wechat/errcodes.js';

/** The channel names, pinned in README ("Operators"). */
export const CHANNELS = Object.freeze({
  /** A TracingChannel: `tracing:wx-session:wechat:start|end|asyncStart|asyncEnd|error`, one trace per WeChat HTTP call. */
  wechat: 'wx-session:wechat',
  /** A plain channel: one message per session event (login, logout, refresh, eviction, expiry). */
  session: 'wx-session:session',
});

/** The context of one traced WeChat call; `errcode` and `rid` are set once WeChat answered. */
export interface WeChatCallContext {
  appId: string;
  /** Whose API: 'wechat', 'douyin' or 'qq' (the channel traces all three). */
  platform: PlatformName;
  /** The API path, e.g. `/sns/jscode2session`. */
  endpoint: string;
  method: 'GET' | 'POST';
  /** The platform's error number (WeChat's errcode, Douyin's err_no; 0 for a success), once answered. */
  errcode?: number;
  /** The platform's request id (WeChat's rid in its errmsg, Douyin's log_id), when the answer carried one. */
  rid?: string;
}

export type SessionEventName = 'login' | 'logout' | 'refresh' | 'eviction' | 'expiry';

/** One message on `wx-session:session`. */
export interface SessionEvent {
  event: SessionEventName;
  appId: string;
  /** The player's openid; for a Douyin guest (`anonymous: true`), its anonymous_openid. */
  openid: string;
  anonymous?: true;
  /** eviction: how many sessions the per-user cap destroyed. */
  count?: number;
  /** expiry: 'ttl' (the session's lifetime ran out) or 'key' (WeChat said 87009 under keyExpired 'reject'). */
  reason?: 'ttl' | 'key';
}

export const wechatChannel = diagnostics.tracingChannel<unknown, WeChatCallContext>(CHANNELS.wechat);
const sessionChannel = diagnostics.channel(CHANNELS.session);

/** True while anyone listens for session events (a logout then reads the record to name its openid). */
export function sessionChannelWanted(): boolean {
  return sessionChannel.hasSubscribers;
}

export function publishSession(event: SessionEvent): void {
  if (sessionChannel.hasSubscribers) sessionChannel.publish(event);
}

/** WeChat's request id, from an errmsg such as `"invalid appsecret, rid: 6476d8b4-2c1e..."`. */
export function ridOf(errmsg: unknown): string | undefined {
  if (typeof errmsg !== 'string') return undefined;
  const match = /rid:\s*([\w-]{1,64})/.exec(errmsg);
  return match?.[1];
}

/** What to do about a setup errcode: the line an operator reads first. */
const HINTS: ReadonlyMap<number, string> = new Map([
  [40002, 'WeChat refused the grant type (40002): the API base may not be WeChat'],
  [40013, 'the AppID is not valid (40013): check appId (WX_APPID)'],
  [40125, 'AppSecret rejected (40125): check appSecret (WX_APPSECRET), or reset it in the admin console and deploy the new one'],
  [40164, "this server's IP is not on the API allow-list (40164): add it under Development settings in the mini-game admin console"],
  [41002, 'the AppID is missing from the request (41002)'],
  [41004, 'the AppSecret is missing from the request (41004)'],
  [43002, 'WeChat wants another HTTP method for this API (43002)'],
  [45009, "the app reached this API's daily limit (45009)"],
  [48001, 'this app is not authorised for this API (48001): check its permissions in the admin console'],
  [89503, 'this IP needs an administrator to approve the call (89503): confirm it in WeChat, or add the IP to the allow-list'],
]);

/**
 * Errors of Douyin's and QQ's own numbers, with the setup hint each stands for (null: none). Their
 * numbers are not WeChat's (Douyin's 40002 is a missing access token, not a bad grant type), so
 * WeChat's table below is not read for them.
 */
const platformHints = new WeakMap<WxSessionError, string | null>();

/** Marks `error` as one of another platform's numbers, with the setup hint it stands for, if any. */
export function withSetupHint(error: WxSessionError, hint: string | null): WxSessionError {
  platformHints.set(error, hint);
  return error;
}

/** The one-line reason for a failure of the app's own setup, or undefined when it is not one. */
export function setupProblem(error: unknown): string | undefined {
  if (!(error instanceof WxSessionError)) return undefined;
  const hint = platformHints.get(error);
  if (hint !== undefined) return hint ?? undefined;
  if (error.errcode === undefined) return undefined;
  if (CONFIG_ERRCODES.has(error.errcode)) return HINTS.get(error.errcode) ?? `WeChat rejected the app configuration (${error.errcode})`;
  if (error.errcode === PAY_SIG_INVALID) {
    return 'WeChat rejected the pay_sig (90011): check the payment option\'s appKey and env (the sandbox has its own AppKey)';
  }
  if (TOKEN_ERRCODES.has(error.errcode)) {
    return `WeChat refused a freshly renewed access token (${error.errcode}): another server may be fetching tokens with /cgi-bin/token, which replaces them; use stable_token everywhere, or the accessToken option`;
  }
  return undefined;
}

/** Upstream failures that are WeChat's or the network's, not the client's and not the app's setup. */
function isOutage(error: unknown): boolean {
  if (!(error instanceof WxSessionError)) return true;
  return error.code === ErrorCode.WX_UPSTREAM_ERROR || error.code === ErrorCode.WX_UPSTREAM_TIMEOUT;
}

/**
 * Logs a failed WeChat call once: `logger.error` for the app's own setup (with the hint),
 * `logger.warn` for an outage; nothing for what a client caused (a bad code, a stale key).
 * `operation` names what failed (e.g. 'checkSessionKey'), `consequence` what happens now (e.g.
 * "the request goes on with the session as it is"). The entry names the endpoint, the errcode
 * and WeChat's rid; never a secret.
 */
export function reportUpstream(logger: Logger, operation: string, error: unknown, consequence?: string): void {
  const err = error instanceof WxSessionError ? error : undefined;
  const entry: Record<string, unknown> = { endpoint: err?.endpoint ?? operation, code: err?.code ?? 'WX_UPSTREAM_ERROR' };
  if (err?.errcode !== undefined) entry.errcode = err.errcode;
  if (err?.rid !== undefined) entry.rid = err.rid;
  const then = consequence ? `; ${consequence}` : '';
  const problem = setupProblem(error);
  if (problem) {
    (logger.error ?? logger.warn).call(logger, `wx-session: ${operation}: ${problem}${then}`, entry);
    return;
  }
  if (!isOutage(error)) return;
  entry.message = err?.message ?? 'unexpected error';
  logger.warn(`wx-session: ${operation} failed${then}`, entry);
}

/**
 * Logs a failed store operation (`action`, e.g. 'read a session') as `logger.warn`, with the
 * error's message only, and returns the WX_STORE_UNAVAILABLE the caller throws or answers.
 */
export function storeFailure(logger: Logger, action: string, error: unknown): WxSessionError {
  logger.warn(`wx-session: session store failed to ${action}`, { error: error instanceof Error ? error.message : String(error) });
  return new WxSessionError('WX_STORE_UNAVAILABLE', { cause: error });
}
