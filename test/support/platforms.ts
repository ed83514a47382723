// Plumbing of the platform tests (apps.test.ts, platform-douyin.test.ts, platform-qq.test.ts): a
// core over the mock of each platform (startMockWeChat({ platform })), one core serving several
// apps, the rejection a call ends in, what a session says of its app and player, and the login
// route alone on Express.
import express from 'express';
import { closeServer, listen, SECRET } from '../../harness/apps.js';
import { createWxSession, WxSessionError, type AppOptions, type WxSession, type WxSessionCore, type WxSessionCoreOptions, type WxSessionOptions } from '../../src/index.js';
import { startMockWeChat, type MockPlatform, type MockWeChat } from '../../src/testing/index.js';
import { wxSession as expressSession } from '../../adapters/express.js';

/** An appId of each platform's shape (WeChat `wx…`, Douyin `tt…`, QQ numeric). */
export const APP_IDS: Readonly<Record<MockPlatform, string>> = { wechat: 'wxapps0000000001', douyin: 'ttapps0000000001', qq: '1110000001' };

/** A mock of `platform` under its own appId (`appId` overrides it). */
export function startPlatformMock(platform: MockPlatform, appId = APP_IDS[platform]): Promise<MockWeChat> {
  return startMockWeChat({ platform, appId });
}

/** For the calling suite: a WeChat, a Douyin and a QQ mock, started before its tests and closed after. */
export function threePlatformMocks(): () => [MockWeChat, MockWeChat, MockWeChat] {
  let mocks: [MockWeChat, MockWeChat, MockWeChat];
  before(async () => {
    mocks = await Promise.all([startPlatformMock('wechat'), startPlatformMock('douyin'), startPlatformMock('qq')]);
  });
  after(() => Promise.all(mocks.map((mock) => mock.close())));
  return () => mocks;
}

/** The entry of `apps` for a mock: its appId, secret, platform and URL. */
export function appOf(mock: MockWeChat, extra: Partial<AppOptions> = {}): AppOptions {
  return { appId: mock.appId, appSecret: mock.appSecret, platform: mock.platform, apiBase: mock.url, ...extra };
}

/** A one-app core on `mock` (the top-level form, with `platform`). */
export function platformCore(mock: MockWeChat, extra: Partial<WxSessionOptions> = {}): WxSessionCore {
  return createWxSession({ appId: mock.appId, appSecret: mock.appSecret, platform: mock.platform, apiBase: mock.url, secret: SECRET, timeout: 1000, ...extra });
}

/** A core serving every mock given, in that order. */
export function appsCore(mocks: readonly MockWeChat[], extra: Partial<Omit<WxSessionCoreOptions, 'apps'>> = {}): WxSessionCore {
  return createWxSession({ apps: mocks.map((mock) => appOf(mock)), secret: SECRET, timeout: 1000, ...extra } as WxSessionCoreOptions);
}

/** What a promise rejected with (a WxSessionError, in these tests); fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<WxSessionError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WxSessionError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

/** What a session says of its app and player. */
export function who(s: WxSession) {
  return { appId: s.appId, platform: s.platform, openid: s.openid ?? null, anonymous: s.anonymous, anonymousOpenid: s.anonymousOpenid ?? null };
}

/** The login route of `core` on Express, listening on loopback. */
export async function startServer(core: WxSessionCore): Promise<{ url: string; close(): Promise<void> }> {
  const { server, url } = await listen(express().use(expressSession(core)));
  return { url, close: () => closeServer(server) };
}

/** POST /wx/login with a JSON body and extra headers; the status and the parsed answer. */
export async function postLogin(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/wx/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
