// wx-session: WeChat Mini Game / Mini Program login sessions. The framework-agnostic core.
export { createWxSession, isWxSessionCore } from './core.js';
export type { AuthResult, AuthenticateOptions, LoginExtras, LoginResult, WxSessionCore } from './core.js';
export { ErrorCode, WxSessionError, errorStatus, isWxSessionError } from './errors.js';
export type { WxSessionErrorOptions } from './errors.js';
export { signPayload, decryptData, verifyRawData } from './crypto.js';
export type { DecryptDataInput } from './crypto.js';
export { MemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export type { SessionRecord, SessionStore } from './store.js';
export type { WxSession, WxSessionJSON } from './session.js';
export type { InteractiveItem, StorageItem } from './wechat/limits.js';
export type { AccessTokenSource, TokenCache } from './wechat/access-token.js';
export type { CheckSessionKeyOptions, FetchLike, Logger, WxSessionOptions } from './options.js';
export { defaults } from './options.js';

/**
 * The shape of `session.data`. Empty by default; declare your own fields with
 * `declare module 'wx-session' { interface WxSessionData { coins?: number } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WxSessionData {}
