// What the access-token suites share: the mock's endpoints, what the recorded stable_token and
// API calls carried, sessions to make calls with, and the check of a rejection.
import { expect } from 'chai';
import { WxSessionError, type WxSession, type WxSessionCore } from '../../src/index.js';
import type { MockCall, MockWeChat } from '../../src/testing/index.js';

export const STABLE = '/cgi-bin/stable_token';
export const CHECK = '/wxa/checksession';

/** force_refresh of each recorded stable_token call, in order (the body is logged with the secret redacted). */
export function forceFlags(mock: MockWeChat): unknown[] {
  return mock.callsTo(STABLE).map((call) => (JSON.parse(call.body ?? '{}') as { force_refresh?: unknown }).force_refresh);
}

/** The errcode each recorded call was answered. */
export function errcodes(calls: MockCall[]): Array<number | undefined> {
  return calls.map((call) => call.errcode);
}

/** `count` sessions of fresh openids (`prefix` + a number), logged in through `core`. */
export async function sessions(core: WxSessionCore, mock: MockWeChat, count: number, prefix = 'oTok'): Promise<WxSession[]> {
  const made: WxSession[] = [];
  for (let i = 0; i < count; i++) made.push((await core.login(mock.issueCode(`${prefix}${String(i).padStart(4, '0')}`))).session);
  return made;
}

/** `error` is a WxSessionError of `code` (and WeChat's `errcode`, when given); returned for more checks. */
export function expectWxError(error: unknown, code: string, errcode?: number): WxSessionError {
  expect(error).to.be.instanceOf(WxSessionError);
  const err = error as WxSessionError;
  expect(err.code).to.equal(code);
  if (errcode !== undefined) expect(err.errcode).to.equal(errcode);
  return err;
}
