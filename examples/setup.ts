// What the example servers do alike, whatever the framework: read wx-session's options from the
// environment (one game, or several on WeChat, Douyin and QQ), check the credentials with each
// platform before listening, read the { key, value } of POST /me/storage, listen, say they are up,
// and run when started as a program.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createWxSession, WxSessionError, type AppOptions, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { paymentFromEnv } from './shop.js';

declare module 'wx-session' {
  interface WxSessionData {
    score?: number;
  }
}

/** What createApp needs to know besides the core. */
export interface AppSettings {
  /** The core has the `payment` option (default: whether the options given have it). */
  payments?: boolean;
}

/** Whether the app serves the payment routes: as told, else whether the options given (or one of their apps) have `payment`. */
export function servesPayments(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): boolean {
  if (settings.payments !== undefined) return settings.payments;
  if ('apps' in coreOrOptions && Array.isArray(coreOrOptions.apps)) return coreOrOptions.apps.some((app) => app.payment !== undefined);
  return 'payment' in coreOrOptions && coreOrOptions.payment !== undefined;
}

/** `{ key, value }` from a /me/storage body; the key's limits are checked by setUserStorage. */
export function storageInput(body: unknown): { key: string; value: string | number | boolean } {
  const { key, value } = (body !== null && typeof body === 'object' ? body : {}) as { key?: unknown; value?: unknown };
  if (typeof key !== 'string') throw new WxSessionError('WX_BAD_REQUEST', { message: 'key must be a string' });
  if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'value must be a string, a number or a boolean' });
  }
  return { key, value };
}

/** Each platform's environment variables: its AppID, its AppSecret and (for tests) its API base. */
const PLATFORM_ENV = [
  { platform: 'wechat', appId: 'WX_APPID', appSecret: 'WX_APPSECRET', apiBase: 'WX_API_BASE' },
  { platform: 'douyin', appId: 'TT_APPID', appSecret: 'TT_APPSECRET', apiBase: 'TT_API_BASE' },
  { platform: 'qq', appId: 'QQ_APPID', appSecret: 'QQ_APPSECRET', apiBase: 'QQ_API_BASE' },
] as const;

const MISSING = 'set WX_APPID, WX_APPSECRET and WX_SESSION_SECRET (at least 32 characters); for Douyin or QQ games, TT_APPID and TT_APPSECRET, QQ_APPID and QQ_APPSECRET';

/**
 * wx-session options from the environment; throws when one is missing. One game: WX_APPID and
 * WX_APPSECRET (the shop's `payment` too, when set). Several games on one server: add TT_APPID and
 * TT_APPSECRET for Douyin, QQ_APPID and QQ_APPSECRET for QQ (each alone works too); the options
 * then list them in `apps`, and a login names its game by `appId` or X-WX-AppId.
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): WxSessionCoreOptions {
  const payment = paymentFromEnv(env);
  const apps: AppOptions[] = [];
  for (const names of PLATFORM_ENV) {
    const appId = env[names.appId];
    const appSecret = env[names.appSecret];
    if (!appId && !appSecret) continue;
    if (!appId || !appSecret) throw new Error(MISSING);
    const apiBase = env[names.apiBase];
    apps.push({
      appId,
      appSecret,
      ...(names.platform === 'wechat' ? {} : { platform: names.platform }),
      ...(apiBase ? { apiBase } : {}),
      ...(payment && names.platform === 'wechat' ? { payment } : {}),
    });
  }
  if (!env.WX_SESSION_SECRET || apps.length === 0) throw new Error(MISSING);
  const shared = {
    secret: env.WX_SESSION_SECRET,
    logger: console, // logger.warn for outages, logger.error for a setup WeChat refuses; never a secret
  };
  return apps.length === 1 ? { ...apps[0]!, ...shared } : { apps, ...shared };
}

/**
 * The core, once WeChat accepted the app's credentials: `core.verify()` makes one stable_token
 * call, and rejects with a one-line reason naming WeChat's errcode when it refuses them, e.g.
 * "AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...". With several games it asks
 * each game's platform, and the reason names the game first: "app tt… (douyin): Douyin refused
 * the AppSecret (40017): ...". It logs nothing: the caller reports it and exits 1, before anything
 * listens.
 */
export async function verifiedCore(options: WxSessionCoreOptions): Promise<WxSessionCore> {
  const core = createWxSession(options);
  await core.verify();
  return core;
}

/** Starts a Node server that is not yet listening on PORT (default 3000). */
export function listen(server: Server, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(env.PORT ?? 3000), () => resolve());
  });
}

/**
 * Says on stdout that the `name` example listens, once SIGTERM and SIGINT run `stop`: whoever
 * waits for the line may stop it at once.
 */
export function announce(name: string, server: Server, stop: () => unknown): Server {
  const { port } = server.address() as AddressInfo;
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  console.log(`wx-session ${name} example listening on http://localhost:${port}`);
  return server;
}

/** Runs `main` when `moduleUrl` is the program started; a failed start prints its reason and exits 1. */
export function runAsProgram(moduleUrl: string, name: string, main: () => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((error: unknown) => {
    console.error(`wx-session ${name} example: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
