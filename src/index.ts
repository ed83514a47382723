// wx-session: WeChat Mini Game / Mini Program login sessions. The framework-agnostic core.
export { createWxSession, isWxSessionCore } from './core.js';
export type { AppChoice, AuthResult, AuthenticateOptions, LoginExtras, LoginResult, WxSessionCore } from './core-types.js';
export { ErrorCode, WxSessionError, errorStatus, isWxSessionError } from './errors.js';
export type { WxSessionErrorOptions } from './errors.js';
export { signPayload, signPayment, decryptData, verifyRawData } from './crypto.js';
export type { DecryptDataInput } from './crypto.js';
export { MemoryStore } from './stores/memory.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export type { SessionRecord, SessionStore, TokenCache } from './store.js';
export type { WxSession, WxSessionData, WxSessionJSON } from './session.js';
export type { InteractiveItem, StorageItem } from './wechat/limits.js';
export type { AccessTokenSource } from './wechat/access-token.js';
export type {
  AppOptions,
  CheckSessionKeyOptions,
  FetchLike,
  Logger,
  PaymentOptions,
  PlatformName,
  WxSessionAppsOptions,
  WxSessionCommonOptions,
  WxSessionCoreOptions,
  WxSessionOptions,
} from './options.js';
export type { EncryptedDataCheck, PhoneNumber, RiskRankInput } from './wechat/player-apis.js';
export type { CancelInput, PayInput, PayResult, PaymentBalance, PaymentBase, PresentInput, PresentResult, WxSessionPayments } from './wechat/payments.js';
export { defaults } from './options.js';

