// One WeChat HTTP call: a deadline covering the whole exchange (headers and body), and every
// way it can fail mapped to WX_UPSTREAM_TIMEOUT or WX_UPSTREAM_ERROR. URLs carry secrets in
// their query, so no message here ever includes one. Douyin's and QQ's calls go through here too.
import { WxSessionError } from '../errors.js';
import type { FetchLike, PlatformName } from '../options.js';
import { ridOf, wechatChannel, type WeChatCallContext } from '../diagnostics.js';
import type { ErrcodeSource } from './errcodes.js';
import { platformLabel } from '../platforms/types.js';

export interface WeChatRequest {
  method: 'GET' | 'POST';
  /** Path under apiBase, e.g. '/sns/jscode2session'. */
  path: string;
  query: Record<string, string>;
  /** Exact bytes to send (signatures are computed over them). */
  body?: string;
  /** Headers beyond the JSON content type (Douyin's SDK sends its access_token as one). */
  headers?: Record<string, string>;
}

/** The parsed JSON object WeChat answered. `errcode` is left for the caller to judge. */
export type WeChatAnswer = Record<string, unknown> & { errcode?: number };

/** The request id an answer carries: WeChat's `rid` in its errmsg, Douyin's `log_id`. */
export function requestIdOf(answer: WeChatAnswer): string | undefined {
  const rid = ridOf(answer.errmsg);
  if (rid !== undefined) return rid;
  const logId = answer.log_id;
  return typeof logId === 'string' && /^[\w-]{1,64}$/.test(logId) ? logId : undefined;
}

/** The error number an answer carries in any platform's dialect (`errcode`, Douyin's `err_no`), 0 for none. */
export function errnoOf(answer: WeChatAnswer): number {
  if (typeof answer.errcode === 'number') return answer.errcode;
  return typeof answer.err_no === 'number' ? answer.err_no : 0;
}

/** Where an answer came from, for errcodeError: the path and the platform's request id. */
export function sourceOf(answer: WeChatAnswer, request: WeChatRequest): ErrcodeSource {
  const rid = requestIdOf(answer);
  return rid === undefined ? { endpoint: request.path } : { endpoint: request.path, rid };
}

/**
 * One WeChat call, traced on the `wx-session:wechat` TracingChannel when anyone subscribes (the
 * context carries the endpoint, and once answered, the errcode and rid).
 */
export function callWeChat(
  fetchImpl: FetchLike,
  apiBase: string,
  timeout: number,
  request: WeChatRequest,
  appId: string,
  platform: PlatformName = 'wechat',
): Promise<WeChatAnswer> {
  const who = platformLabel(platform);
  if (!wechatChannel.hasSubscribers) return exchange(fetchImpl, apiBase, timeout, request, who);
  const context: WeChatCallContext = { appId, platform, endpoint: request.path, method: request.method };
  let answer: WeChatAnswer | undefined;
  // The traced function resolves nothing: tracePromise puts its result on the context that
  // subscribers see, and WeChat's answer holds session_keys and access tokens.
  return wechatChannel
    .tracePromise(async () => {
      answer = await exchange(fetchImpl, apiBase, timeout, request, who);
      context.errcode = errnoOf(answer);
      const rid = requestIdOf(answer);
      if (rid !== undefined) context.rid = rid;
    }, context)
    .then(() => answer!);
}

async function exchange(fetchImpl: FetchLike, apiBase: string, timeout: number, request: WeChatRequest, who: string): Promise<WeChatAnswer> {
  const endpoint = request.path;
  const url = `${apiBase}${request.path}?${new URLSearchParams(request.query).toString()}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let status: number;
  let text: string;
  try {
    const response = await fetchImpl(url, {
      method: request.method,
      signal: controller.signal,
      headers: headersOf(request),
      body: request.body,
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (controller.signal.aborted) {
      throw new WxSessionError('WX_UPSTREAM_TIMEOUT', { endpoint, message: `${who} did not answer ${request.path} within ${timeout} ms` });
    }
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `could not reach ${who} for ${request.path}`, cause: scrub(error) });
  } finally {
    clearTimeout(timer);
  }
  if (status < 200 || status > 299) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${who} answered ${request.path} with HTTP ${status}` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${who}'s answer to ${request.path} is not JSON` });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${who}'s answer to ${request.path} is not an object` });
  }
  const answer = parsed as WeChatAnswer;
  if (answer.errcode !== undefined && typeof answer.errcode !== 'number') {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${who}'s answer to ${request.path} has a non-numeric errcode` });
  }
  return answer;
}

function headersOf(request: WeChatRequest): Record<string, string> | undefined {
  const json = request.body === undefined ? undefined : { 'content-type': 'application/json' };
  return request.headers === undefined ? json : { ...json, ...request.headers };
}

/** Keeps a network error's name and code (ECONNREFUSED...) and drops anything that may quote the URL. */
function scrub(error: unknown): Error {
  const inner = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof inner?.code === 'string' ? inner.code : (error as { code?: unknown } | null)?.code;
  const clean = new Error(typeof code === 'string' ? code : 'network error');
  clean.name = error instanceof Error ? error.name : 'Error';
  return clean;
}
