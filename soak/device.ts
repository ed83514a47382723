// A player's device: the harness's fake `wx` (harness/fake-wx.ts), whose wx.login takes codes from
// the mock process and whose wx.request goes to one of the two instances at random, as a load
// balancer would. Every answer is recorded and handed to the player; every network error is a
// violation.
import { createFakeWx } from '../harness/fake-wx.js';
import type { WxApi, WxRequestOptions } from '../src/client/index.js';
import { BALANCER, REQUEST_TIMEOUT_MS } from './config.js';
import { errorCodeOf, labelOf, parseBody, type Exchange } from './recorder.js';
import type { Shared } from './shared.js';
import { CHECK } from './violations.js';

const hasHeader = (headers: Record<string, unknown> | undefined, name: string) => Object.keys(headers ?? {}).some((key) => key.toLowerCase() === name);

/** The fake `wx` of `openid`'s device; `onExchange` sees each answered request before the client does. */
export function deviceWx(shared: Shared, openid: string, onExchange: (exchange: Exchange) => void): WxApi {
  const { mock, instances, recorder, secrets } = shared;
  const wx = createFakeWx({
    async code() {
      const { code, sessionKey } = await mock.call({ op: 'issueCode', openid });
      // The first code creates the user's session_key: from now on it may leak, so look for it.
      secrets.add(sessionKey, 'session_key');
      return code;
    },
    timeoutMs: REQUEST_TIMEOUT_MS,
    onAnswer(answer) {
      const instance = instances.find((candidate) => answer.url.startsWith(`${candidate.url}/`))!;
      const path = answer.url.slice(instance.url.length);
      const sentCode = hasHeader(answer.headers, 'x-wx-code');
      const token = answer.headers['X-WX-Session'];
      const data = parseBody(answer.text);
      const errorCode = errorCodeOf(data);
      const exchange: Exchange = {
        label: labelOf(answer.method, path, sentCode),
        instance: instance.name,
        method: answer.method,
        path,
        sentCode,
        ...(token !== undefined ? { token } : {}),
        status: answer.status,
        ...(errorCode !== undefined ? { errorCode } : {}),
        data,
        ms: answer.ms,
        sentAt: Date.now() - answer.ms,
      };
      recorder.record(exchange, answer.text, answer.header);
      onExchange(exchange);
    },
  });
  const request = (options: WxRequestOptions) => {
    const instance = instances[Math.floor(Math.random() * instances.length)]!;
    const method = options.method ?? 'GET';
    const path = options.url.slice(BALANCER.length);
    wx.request({
      ...options,
      url: options.url.replace(BALANCER, instance.url),
      fail(error) {
        recorder.networkErrors += 1;
        // Unanswered: the instance may still redeem its code (a statuses violation already).
        if (path === '/wx/login' || hasHeader(options.header, 'x-wx-code')) shared.codeRequestsUnanswered.count += 1;
        shared.violations.add(CHECK.statuses, `${method} ${path} on ${instance.name}: network error ${error.errMsg.replace(/^request:fail /, '')}`);
        options.fail?.(error);
      },
    });
  };
  return { ...wx, request };
}
