// For the tests of the player's APIs and payments through the core (session-apis, payments): a core
// on the mock WeChat with the mock's payment settings, a logger that keeps its lines, logged-in
// players, and checks that an error is the expected WxSessionError and shows no secret.
import { inspect } from 'node:util';
import { expect } from 'chai';
import { createWxSession, WxSessionError, type WxSession, type WxSessionCore, type WxSessionOptions } from '../../src/index.js';
import type { MockWeChat } from '../../src/testing/index.js';
import { coreOptions, SECRET } from '../../harness/apps.js';
import { RecordingStore } from './stores.js';
import { captureLogger, errorText, expectNoSecrets, rejectionOf } from './keys.js';

export const ZONE = '1';
export const IP = '203.0.113.7';

export interface PlayerCore {
  core: WxSessionCore;
  store: RecordingStore;
  logger: ReturnType<typeof captureLogger>;
  mock: MockWeChat;
}

/** The mock's payment option: both AppKeys, the env given (production by default). */
export function paymentOption(mock: MockWeChat, env: 0 | 1 = 0): NonNullable<WxSessionOptions['payment']> {
  return { offerId: mock.payment.offerId, appKey: { production: mock.payment.appKey, sandbox: mock.payment.sandboxAppKey }, env };
}

/** A core on `mock` (key checks off, so only the calls under test reach WeChat), with payments configured. */
export function playerCore(mock: MockWeChat, extra: Partial<WxSessionOptions> = {}): PlayerCore {
  const store = new RecordingStore();
  const logger = captureLogger();
  const core = createWxSession(coreOptions(mock, { store, logger, checkSessionKey: false, payment: paymentOption(mock), ...extra }));
  return { core, store, logger, mock };
}

/** Logs `openid` in through the core: its token and session. */
export async function loginAs(player: PlayerCore, openid: string): Promise<{ token: string; session: WxSession }> {
  const { token, session } = await player.core.login(player.mock.issueCode(openid));
  return { token, session };
}

/**
 * The WxSessionError `promise` rejects with, checked to be `code` (and `errcode` when given) and
 * to show no secret of the mock, the player or the core, however it is printed.
 */
export async function expectRejection(player: PlayerCore, promise: Promise<unknown>, code: string, errcode?: number, openid?: string): Promise<WxSessionError> {
  const error = await rejectionOf(promise);
  expect(error).to.be.an.instanceOf(WxSessionError);
  const wx = error as WxSessionError;
  expect(wx.code, wx.message).to.equal(code);
  if (errcode !== undefined) expect(wx.errcode).to.equal(errcode);
  expectClean(player, `${inspect(wx, { depth: 10, showHidden: true })}\n${errorText(wx)}`, 'the error', openid);
  return wx;
}

/** None of the secrets in play shows in `text`: AppKeys, AppSecret, access token, the signing secret, the player's key. */
export function expectClean(player: PlayerCore, text: string, where: string, openid?: string): void {
  const { mock } = player;
  const secrets = [mock.payment.appKey, mock.payment.sandboxAppKey, mock.appSecret, mock.currentAccessToken(), SECRET];
  if (openid !== undefined) secrets.push(mock.sessionKeyOf(openid));
  expectNoSecrets(text, secrets, where);
}

/** The number of calls the mock received, for "no call to WeChat" checks. */
export function callCount(mock: MockWeChat): number {
  return mock.calls.length;
}
