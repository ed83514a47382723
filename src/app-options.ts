// The app part of createWxSession's options (docs/several-games.md): one app at the top level
// (`appId`, `appSecret`, `platform?`, `apiBase?`, `payment?`) or several in `apps`, each checked
// once, at construction, with a TypeError that names the field (never its value when it is a
// secret).
import { nonEmpty } from './errors.js';
import type { AppOptions, Logger, PaymentOptions, PlatformName, ResolvedPayment, WxSessionCoreOptions } from './options.js';

/** Each platform's API base. */
export const API_BASES: Readonly<Record<PlatformName, string>> = Object.freeze({
  wechat: 'https://api.weixin.qq.com',
  douyin: 'https://minigame.zijieapi.com',
  qq: 'https://api.q.qq.com',
});

const PLATFORMS: readonly PlatformName[] = ['wechat', 'douyin', 'qq'];

/** The fields an entry of `apps` may have; another one is a TypeError (a typo would be ignored otherwise). */
const APP_FIELDS: ReadonlySet<string> = new Set(['appId', 'appSecret', 'platform', 'payment', 'apiBase']);

/** One app's own options, resolved. */
export interface ResolvedApp {
  appId: string;
  appSecret: string;
  platform: PlatformName;
  apiBase: string;
  payment: ResolvedPayment | undefined;
}

export function fail(message: string): never {
  throw new TypeError(`wx-session: ${message}`);
}

/** `where` prefixes the field names of the messages: '' at the top level, 'apps[1].' in `apps`. */
export function resolvePayment(payment: PaymentOptions | undefined, where = ''): ResolvedPayment | undefined {
  if (payment === undefined) return undefined;
  if (payment === null || typeof payment !== 'object') fail(`${where}payment must be { offerId, appKey, env? }`);
  const { offerId, appKey } = payment;
  const env = payment.env ?? 0;
  if (!nonEmpty(offerId)) fail(`${where}payment.offerId must be a non-empty string`);
  if (env !== 0 && env !== 1) fail(`${where}payment.env must be 0 (production) or 1 (sandbox)`);
  if (typeof appKey === 'string') {
    if (!nonEmpty(appKey)) fail(`${where}payment.appKey must be a non-empty string or { production, sandbox }`);
    return { offerId, env, appKey };
  }
  if (appKey === null || typeof appKey !== 'object' || !nonEmpty(appKey.production) || !nonEmpty(appKey.sandbox)) {
    // Names the field only: the value is a secret.
    fail(`${where}payment.appKey must be a non-empty string or { production, sandbox } of non-empty strings`);
  }
  return { offerId, env, appKey: env === 1 ? appKey.sandbox : appKey.production };
}

/** One app, from the top level (`where` '') or from `apps[i]` (`where` 'apps[i].'). */
function resolveApp(app: AppOptions, where: string): ResolvedApp {
  const { appId, appSecret } = app;
  if (!nonEmpty(appId)) fail(`${where}appId is required`);
  if (!nonEmpty(appSecret)) fail(`${where}appSecret is required`);
  const platform = app.platform ?? 'wechat';
  if (!PLATFORMS.includes(platform)) fail(`${where}platform must be 'wechat', 'douyin' or 'qq'`);
  const apiBase = app.apiBase ?? API_BASES[platform];
  if (typeof apiBase !== 'string' || !/^https?:\/\//.test(apiBase)) fail(`${where}apiBase must be an http(s) URL`);
  if (app.payment !== undefined && platform !== 'wechat') {
    fail(`${where}payment is WeChat's mini-game virtual payment: only for platform 'wechat' (this app is '${platform}')`);
  }
  return { appId, appSecret, platform, apiBase: apiBase.replace(/\/+$/, ''), payment: resolvePayment(app.payment, where) };
}

/** The top-level fields that belong to one app: with `apps`, each goes in its app instead. */
const ONE_APP_FIELDS = ['appId', 'appSecret', 'platform', 'apiBase', 'payment'] as const;

/** The apps a core serves, in the order given; at least one, appIds distinct. */
export function resolveApps(options: WxSessionCoreOptions): ResolvedApp[] {
  const { apps } = options;
  if (apps === undefined) return [resolveApp(options as AppOptions, '')];
  for (const field of ONE_APP_FIELDS) {
    if (options[field] !== undefined) fail(`give either apps or a top-level ${field}, not both (with apps, ${field} goes in each app)`);
  }
  if (!Array.isArray(apps) || apps.length === 0) fail('apps must be a non-empty array of { appId, appSecret, platform?, payment?, apiBase? }');
  const seen = new Set<string>();
  return apps.map((app: unknown, index) => {
    const where = `apps[${index}].`;
    if (app === null || typeof app !== 'object' || Array.isArray(app)) fail(`apps[${index}] must be { appId, appSecret, platform?, payment?, apiBase? }`);
    for (const field of Object.keys(app)) {
      if (!APP_FIELDS.has(field)) fail(`${where}${field} is not an app option (appId, appSecret, platform, payment, apiBase)`);
    }
    const resolved = resolveApp(app as AppOptions, where);
    if (seen.has(resolved.appId)) fail(`${where}appId repeats an earlier app's: each app is listed once`);
    seen.add(resolved.appId);
    return resolved;
  });
}

/**
 * The logger of one app of several: each entry also names the app (`appId`), so an operator can
 * tell which app's setup or platform failed. A core of one app logs as before.
 */
export function appLogger(logger: Logger, appId: string): Logger {
  const tag = (rest: unknown[]): unknown[] => {
    const [first, ...others] = rest;
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) return [{ ...first, appId }, ...others];
    return [...rest, { appId }];
  };
  const error = logger.error;
  return {
    warn: (message, ...rest) => logger.warn(message, ...tag(rest)),
    ...(error === undefined ? {} : { error: (message: string, ...rest: unknown[]) => error.call(logger, message, ...tag(rest)) }),
  };
}
