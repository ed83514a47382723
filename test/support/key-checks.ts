// What the checkSessionKey suites share: a test app over a RecordingStore with a capturing
// logger, the checksession calls of one openid, and the checks on a key-expired answer.
import { expect } from 'chai';
import type { Response } from 'supertest';
import type { MockWeChat } from '../../src/testing/index.js';
import type { WxSessionOptions } from '../../src/index.js';
import { adapters, startApp, SECRET, type TestApp } from '../../harness/apps.js';
import { captureLogger, expectNoSecrets } from './keys.js';
import { RecordingStore } from './stores.js';
import { INVALID_TOKEN } from './wire.js';

export const CHECK = '/wxa/checksession';
export const CODE2SESSION = '/sns/jscode2session';

/** A test app over a RecordingStore, with a logger that keeps every line. */
export interface App extends TestApp {
  store: RecordingStore;
  logger: ReturnType<typeof captureLogger>;
}

/** Starts `name`'s test app with a RecordingStore, a capturing logger and `core` options; on `mock` when given. */
export async function start(name: (typeof adapters)[number], core: Partial<WxSessionOptions> = {}, mock?: MockWeChat): Promise<App> {
  const store = new RecordingStore();
  const logger = captureLogger();
  const app = await startApp(name, { core: { store, logger, ...core }, ...(mock ? { mock } : {}) });
  return Object.assign(app, { store, logger });
}

/** The checksession calls the mock received for `openid`. */
export function checksFor(mock: MockWeChat, openid: string) {
  return mock.callsTo(CHECK).filter((call) => call.query.openid === openid);
}

/** A 401 WX_SESSION_KEY_EXPIRED with `invalid_token`. */
export function expectKeyExpired(res: Response): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(401);
  expect(res.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
  expect(res.headers['www-authenticate']).to.equal(INVALID_TOKEN);
}

/** Nothing secret in what the client saw. */
export function expectClean(res: Response, app: App, openid: string): void {
  const seen = `${res.text}\n${JSON.stringify(res.headers)}`;
  expectNoSecrets(seen, [app.mock.sessionKeyOf(openid), app.mock.appSecret, app.mock.currentAccessToken(), SECRET], 'the answer');
  expect(seen, 'no session_key field').to.not.match(/session_key|sessionKey/);
}
