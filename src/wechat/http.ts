// One WeChat HTTP call: a deadline covering the whole exchange (headers and body), and every
// way it can fail mapped to WX_UPSTREAM_TIMEOUT or WX_UPSTREAM_ERROR. URLs carry secrets in
// their query, so no message here ever includes one.
import { WxSessionError } from '../errors.js';
import type { FetchLike } from '../options.js';

export interface WeChatRequest {
  method: 'GET' | 'POST';
  /** Path under apiBase, e.g. '/sns/jscode2session'. */
  path: string;
  query: Record<string, string>;
  /** Exact bytes to send (signatures are computed over them). */
  body?: string;
}

/** The parsed JSON object WeChat answered. `errcode` is left for the caller to judge. */
export type WeChatAnswer = Record<string, unknown> & { errcode?: number };

export async function callWeChat(
  fetchImpl: FetchLike,
  apiBase: string,
  timeout: number,
  request: WeChatRequest,
): Promise<WeChatAnswer> {
  const url = `${apiBase}${request.path}?${new URLSearchParams(request.query).toString()}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let status: number;
  let text: string;
  try {
    const response = await fetchImpl(url, {
      method: request.method,
      signal: controller.signal,
      headers: request.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: request.body,
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (controller.signal.aborted) {
      throw new WxSessionError('WX_UPSTREAM_TIMEOUT', { message: `WeChat did not answer ${request.path} within ${timeout} ms` });
    }
    throw new WxSessionError('WX_UPSTREAM_ERROR', { message: `could not reach WeChat for ${request.path}`, cause: scrub(error) });
  } finally {
    clearTimeout(timer);
  }
  if (status < 200 || status > 299) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { message: `WeChat answered ${request.path} with HTTP ${status}` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { message: `WeChat's answer to ${request.path} is not JSON` });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { message: `WeChat's answer to ${request.path} is not an object` });
  }
  const answer = parsed as WeChatAnswer;
  if (answer.errcode !== undefined && typeof answer.errcode !== 'number') {
    throw new WxSessionError('WX_UPSTREAM_ERROR', { message: `WeChat's answer to ${request.path} has a non-numeric errcode` });
  }
  return answer;
}

/** Keeps a network error's name and code (ECONNREFUSED...) and drops anything that may quote the URL. */
function scrub(error: unknown): Error {
  const inner = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = typeof inner?.code === 'string' ? inner.code : (error as { code?: unknown } | null)?.code;
  const clean = new Error(typeof code === 'string' ? code : 'network error');
  clean.name = error instanceof Error ? error.name : 'Error';
  return clean;
}
