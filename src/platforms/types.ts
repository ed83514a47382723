// What the core asks of a platform (docs/platforms.md): one object per app, speaking that
// platform's paths and error dialect, and answering in WxSessionErrors of the one table
// (README.md, "Errors"). The core, key freshness and the session objects see only this interface.
import { WxSessionError } from '../errors.js';
import type { PlatformName } from '../options.js';
import type { KeyState, WeChatApi } from '../wechat/api.js';
import type { AccessTokenSource } from '../wechat/access-token.js';

export type { PlatformName };

/** What a login code (or a Douyin anonymous code) gave. */
export interface LoginAnswer {
  /** The openid; for a guest (`anonymous`), the anonymous_openid. */
  openid: string;
  sessionKey: string;
  unionid?: string;
  /** A Douyin guest: logged in with an anonymous code, known by its anonymous_openid only. */
  anonymous?: boolean;
}

/** The signed mini-game server APIs of `session` (signature over the exact body sent). */
export type SignedCall = 'setUserStorage' | 'removeUserStorage' | 'setUserInteractiveData';

export interface Platform {
  readonly name: PlatformName;
  /** Whether the platform has a server-side check of a session_key (QQ has none). */
  readonly checksKeys: boolean;
  /** Whether the platform logs in guests with an anonymous code (Douyin). */
  readonly guests: boolean;
  /** The app's access tokens (per app: its own in-process cache and shared-store key). */
  readonly tokens: AccessTokenSource;
  /** WeChat's own APIs (phone number, risk rank, encrypted data, payments); undefined elsewhere. */
  readonly wechat: WeChatApi | undefined;
  /** Redeems a login code. -1 (busy) is retried at most twice; a timeout never. */
  code2Session(code: string): Promise<LoginAnswer>;
  /** Redeems a Douyin anonymous code; rejects WX_BAD_REQUEST on a platform without guests. */
  anonymousCode2Session(anonymousCode: string): Promise<LoginAnswer>;
  /** 'expired' for a stale key; an outage rejects. Rejects WX_BAD_REQUEST where there is no check. */
  checkSessionKey(openid: string, sessionKey: string): Promise<KeyState>;
  /** The path of a signed call, for logs; undefined where the platform has none. */
  signedPath(call: SignedCall): string | undefined;
  /** A signed call: stale key -> WX_SESSION_KEY_EXPIRED, other errors -> WX_UPSTREAM_ERROR. */
  signedPost(call: SignedCall, openid: string, sessionKey: string, payload: unknown): Promise<void>;
  /** A new session_key for the player (WeChat resetusersessionkey, Douyin reset_session_key). */
  resetSessionKey(openid: string, sessionKey: string): Promise<string>;
  /** Checks the app's credentials (one token call, or the accessToken option). */
  verifyCredentials(): Promise<void>;
}

const NAMES: Readonly<Record<PlatformName, string>> = { wechat: 'WeChat', douyin: 'Douyin', qq: 'QQ' };

/** The platform's name as people write it. */
export const platformLabel = (platform: PlatformName): string => NAMES[platform];

/** The rejection of something a platform does not offer: WX_BAD_REQUEST, saying so. */
export function unsupported(what: string, platform: PlatformName, appId: string): WxSessionError {
  return new WxSessionError('WX_BAD_REQUEST', { message: `${what} is not available on ${platformLabel(platform)} (app ${appId})` });
}
