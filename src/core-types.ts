// What the core offers (WxSessionCore) and what its calls take and answer: the contract the
// adapters and applications program against. The core itself is core.ts.
import type { ErrorCode } from './errors.js';
import type { WxSession } from './session.js';
import type { EncryptedDataCheck, PhoneNumber } from './wechat/player-apis.js';
import type { PlatformName } from './options.js';

export interface LoginExtras {
  /** From wx.getUserInfo & co; decrypted with the new session_key into `session.userInfo`. */
  encryptedData?: unknown;
  iv?: unknown;
  /**
   * The app logging in (body `appId` or header `X-WX-AppId`): may be left out when the core
   * serves one app; required when it serves several (else WX_BAD_REQUEST). One it does not serve
   * is WX_APP_UNKNOWN.
   */
  appId?: unknown;
  /**
   * Douyin's anonymous code (`tt.login()`'s `anonymousCode`): without a `code`, it logs in a guest
   * (`session.anonymous`, `session.anonymousOpenid`, no openid). With a `code`, the code wins.
   */
  anonymousCode?: unknown;
}

/** Names the app of a call the core makes for no session, when the core serves several. */
export interface AppChoice {
  /** Required when the core serves several apps; optional with one. */
  appId?: string;
}

export interface LoginResult {
  /** The signed token the game sends back in `X-WX-Session`. */
  token: string;
  session: WxSession;
  /** Seconds until the session expires unless it rolls. */
  expiresIn: number;
}

export type AuthResult =
  | { session: WxSession; code?: undefined; /** Present when the token was re-issued under the newest secret. */ token?: string }
  | { session: null; code: ErrorCode; token?: undefined; /** WeChat's errcode, when a refresh failed on one. */ errcode?: number };

export interface AuthenticateOptions {
  /** A fresh wx.login code (`X-WX-Code`), redeemed only if the session_key turns out stale. */
  code?: unknown;
}

export interface WxSessionCore {
  login(code: unknown, extras?: LoginExtras): Promise<LoginResult>;
  authenticate(token: unknown, options?: AuthenticateOptions): Promise<AuthResult>;
  /**
   * The same answer without waiting, when it needs no I/O: the store can look the record up
   * synchronously (`peek`) and nothing is to be checked, renewed or re-sealed. Undefined means:
   * call authenticate. The adapters use it so a request is not deferred needlessly.
   */
  authenticateSync(token: unknown, options?: AuthenticateOptions): AuthResult | undefined;
  logout(token: unknown): Promise<void>;
  /**
   * Checks the app's credentials with WeChat now (one `stable_token` call, or your `accessToken`
   * function): resolves when they work, rejects with a WxSessionError whose message says which
   * one is wrong and what to do ("AppSecret rejected (40125): ..."). Logs nothing: the rejection
   * is the report. Call it at start-up. With several apps, every app's (Douyin: stable_token;
   * QQ: getToken, which replaces the app's current token), the message naming the app that failed.
   */
  verify(): Promise<void>;
  /**
   * The phone number behind a code from the phone-number button (`getuserphonenumber`). With
   * `openid`, WeChat checks the code was issued to that player. 40029 -> WX_CODE_INVALID,
   * 45011 -> WX_RATE_LIMITED; a code that is not a string or over 256 characters -> WX_BAD_REQUEST.
   */
  phoneNumber(code: string, options?: { openid?: string } & AppChoice): Promise<PhoneNumber>;
  /**
   * Asks WeChat whether it issued this encryptedData (phone-number data, last 3 days;
   * `checkencryptedmsg` over hex(sha256(encryptedData))).
   */
  checkEncryptedData(encryptedData: string, options?: AppChoice): Promise<EncryptedDataCheck>;
  /**
   * The options in force, secrets left out. `appId` is the app's (with several apps: the first
   * of `apps`); `apps` lists every app served, in the order given.
   */
  readonly config: Readonly<{ appId: string; apps: readonly Readonly<{ appId: string; platform: PlatformName }>[]; ttl: number; exposeOpenid: boolean }>;
}
