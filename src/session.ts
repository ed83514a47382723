// The session object handed to route code: read-only identity, `data` saved automatically,
// and session_key helpers. session_key is readable but never enumerable nor serialised.
import { inspect } from 'node:util';
import { decryptData, signPayload, verifyRawData } from './crypto.js';
import { interactiveItems, storageItems, storageKeys, type InteractiveItem, type StorageItem } from './wechat/limits.js';
import type { SessionRecord } from './store.js';
import type { PlayerCalls } from './player-calls.js';
import type { WxSessionPayments } from './wechat/payments.js';
import type { PhoneNumber, RiskRankInput } from './wechat/player-apis.js';
import type { PlatformName } from './options.js';
import type { SignedCall } from './platforms/types.js';

/**
 * The shape of `session.data`. Empty by default; declare your own fields with
 * `declare module 'wx-session' { interface WxSessionData { coins?: number } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WxSessionData {}

/** What a session needs from the core that made it: the app of the session. */
export interface SessionHost {
  readonly appId: string;
  /** The app's platform (for records made before platforms were recorded). */
  readonly platformName: PlatformName;
  readonly maxDataAge: number | undefined;
  /** The core's clock (epoch ms), for the watermark age `maxDataAge` limits. */
  now(): number;
  destroy(session: WxSession): Promise<void>;
  /** Saves `data`, given as the JSON the session serialised it to. */
  save(session: WxSession, data: string): Promise<void>;
  checkKey(session: WxSession): Promise<boolean>;
  signedPost(session: WxSession, call: SignedCall, payload: unknown): Promise<void>;
  /** The session_key the record holds sealed (SECURITY.md, "Store compromise"). */
  openKey(session: WxSession): string;
  /** The key reset, phone number, risk rank and payments (player-calls.ts). */
  readonly player: PlayerCalls;
}

export interface WxSessionJSON {
  /** Absent for a Douyin guest (then `anonymous` and `anonymousOpenid`). */
  openid: string;
  anonymous?: true;
  anonymousOpenid?: string;
  unionid?: string;
  data: WxSessionData & Record<string, unknown>;
  userInfo?: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
}

export class WxSession {
  /** The session id (not the token). */
  readonly id: string;
  #record: SessionRecord;
  readonly #host: SessionHost;
  /** The opened session_key, once a helper needed it: opening is lazy, the hot path never does it. */
  #key: string | undefined;
  #data: (WxSessionData & Record<string, unknown>) | undefined;
  #snapshot: string | undefined;
  #destroyed = false;
  #onDataUse: ((session: WxSession, arg: never) => void) | undefined;
  #onDataUseArg: unknown;
  #payments: WxSessionPayments | undefined;

  /** @internal Made by the core; route code receives it ready. */
  constructor(id: string, record: SessionRecord, host: SessionHost) {
    this.id = id;
    this.#record = record;
    this.#host = host;
  }

  /**
   * The player's openid in this app. Undefined for a Douyin guest (`anonymous`, logged in with an
   * anonymous code): an app that serves guests checks `session.anonymous` first.
   */
  get openid(): string {
    const record = this.#record;
    return record.anonymous ? (undefined as unknown as string) : record.openid;
  }
  /** True for a Douyin guest session: `anonymousOpenid` and no `openid`; no key checks, no signed APIs. */
  get anonymous(): boolean {
    return this.#record.anonymous === true;
  }
  /** A Douyin guest's anonymous_openid; undefined for a logged-in player. */
  get anonymousOpenid(): string | undefined {
    const record = this.#record;
    return record.anonymous ? record.openid : undefined;
  }
  /** The app the session belongs to. */
  get appId(): string {
    return this.#record.appId;
  }
  /** The app's platform: 'wechat', 'douyin' or 'qq'. */
  get platform(): PlatformName {
    return this.#record.platform ?? this.#host.platformName;
  }
  get unionid(): string | undefined {
    return this.#record.unionid;
  }
  get userInfo(): Record<string, unknown> | undefined {
    return this.#record.userInfo;
  }
  get createdAt(): number {
    return this.#record.createdAt;
  }
  get expiresAt(): number {
    return this.#record.expiresAt;
  }
  /** WeChat's session_key, for server-side use only. Not enumerable, not in JSON. */
  get sessionKey(): string {
    return (this.#key ??= this.#host.openKey(this));
  }

  /** The app's own fields; changes are saved before the response is sent. */
  get data(): WxSessionData & Record<string, unknown> {
    if (this.#data === undefined) {
      this.#dataUsed();
      // Copied on first use, so a change is saved by us, not by sharing the store's object.
      this.#snapshot = JSON.stringify(this.#record.data);
      this.#data = JSON.parse(this.#snapshot) as WxSessionData & Record<string, unknown>;
    }
    return this.#data;
  }
  set data(value: WxSessionData & Record<string, unknown>) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new TypeError('wx-session: session.data must be a plain object');
    }
    if (this.#snapshot === undefined) this.#snapshot = JSON.stringify(this.#record.data);
    this.#dataUsed();
    this.#data = value;
  }

  #dataUsed(): void {
    const hook = this.#onDataUse;
    if (hook === undefined) return;
    const arg = this.#onDataUseArg as never;
    this.#onDataUse = this.#onDataUseArg = undefined;
    hook(this, arg);
  }

  /**
   * @internal Runs `hook(session, arg)` once, the first time `data` is read or assigned: an
   * adapter arranges the save only then, so requests that never touch data pay nothing for it.
   * (A function and its argument rather than a closure: nothing is made per request.)
   */
  onDataUse<T>(hook: (session: WxSession, arg: T) => void, arg: T): void {
    if (this.#data !== undefined) hook(this, arg);
    else {
      this.#onDataUse = hook as (session: WxSession, arg: never) => void;
      this.#onDataUseArg = arg;
    }
  }

  /** The login-state signature of `body` under this session's key. */
  sign(body: string | Uint8Array): string {
    return signPayload(body, this.sessionKey);
  }

  /** Decrypts encryptedData sent by the game (watermark appid checked). */
  decrypt(encryptedData: string, iv: string): Record<string, unknown> {
    const host = this.#host;
    return decryptData({ appId: host.appId, sessionKey: this.sessionKey, encryptedData, iv, maxAge: host.maxDataAge, now: host.now() });
  }

  /** True when `signature === sha1(rawData + session_key)` (timing-safe). */
  verifyRawData(rawData: string, signature: string): boolean {
    return verifyRawData(rawData, signature, this.sessionKey);
  }

  /**
   * Asks WeChat now whether this session_key is still the user's (checkSessionKey). False marks
   * the session stale, so the next request takes the `keyExpired` path. Rejects on an outage.
   */
  checkKey(): Promise<boolean> {
    return this.#host.checkKey(this);
  }

  /** Mini-game user storage (WeChat `/wxa/set_user_storage`, Douyin's and QQ's own), signed with the session_key. */
  async setUserStorage(kvList: readonly StorageItem[]): Promise<void> {
    const kv_list = storageItems(kvList);
    await this.#host.signedPost(this, 'setUserStorage', { kv_list });
  }

  /** Removes user storage keys (`/wxa/remove_user_storage`). */
  async removeUserStorage(keys: readonly string[]): Promise<void> {
    const key = storageKeys(keys);
    await this.#host.signedPost(this, 'removeUserStorage', { key });
  }

  /** Interactive (friend-visible) data (`/wxa/setuserinteractivedata`, WeChat only): keys "1".."50", integer values. */
  async setUserInteractiveData(kvList: readonly InteractiveItem[]): Promise<void> {
    const kv_list = interactiveItems(kvList);
    await this.#host.signedPost(this, 'setUserInteractiveData', { kv_list });
  }

  /**
   * Asks WeChat for a new session_key (`resetusersessionkey`); the old one stops working at once
   * and the new one replaces it in the store. A rejected signature (87009) marks the key stale.
   */
  resetKey(): Promise<void> {
    return this.#host.player.resetKey(this);
  }

  /**
   * The phone number behind a code from the game's phone-number button (`getuserphonenumber`),
   * checked by WeChat to belong to this player. 40029 -> WX_CODE_INVALID, 45011 -> WX_RATE_LIMITED.
   */
  phoneNumber(code: string): Promise<PhoneNumber> {
    return this.#host.player.phoneNumber(code, this.openid);
  }

  /** WeChat's risk rank of this player, 0 (lowest) to 4 (`getuserriskrank`). */
  riskRank(input: RiskRankInput): Promise<number> {
    return this.#host.player.riskRank(this, input);
  }

  /**
   * Mini-game virtual payment 2.0 (the core's `payment` option): balance, pay, cancel, present,
   * signed with this session's key and the AppKey. 90010 marks the key stale and rejects
   * WX_SESSION_KEY_EXPIRED; 90012 (billNo already used) rejects WX_UPSTREAM_ERROR with its errcode.
   */
  get payments(): WxSessionPayments {
    return (this.#payments ??= this.#host.player.paymentsOf(this));
  }

  /** Logs out: the token is refused from now on. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.#host.destroy(this);
  }

  /** Saves `data` now if it changed (the adapters also do this before answering). */
  async save(): Promise<void> {
    await this.saveChanges();
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * @internal Saves `data` if it differs from what the store holds, serialising it once;
   * undefined when there is nothing to save, so a caller can go on without waiting.
   */
  saveChanges(): Promise<void> | undefined {
    if (this.#destroyed || this.#data === undefined) return undefined;
    const json = JSON.stringify(this.#data);
    return json === this.#snapshot ? undefined : this.#host.save(this, json);
  }

  /** @internal The record as it stands, with the current data. */
  get record(): SessionRecord {
    return this.#record;
  }

  /** @internal Called after the core wrote a new record; `savedData` is the data's JSON when it was saved. */
  replaceRecord(record: SessionRecord, savedData?: string): void {
    this.#key = undefined; // the new record may hold another key: open it again when needed
    this.#record = record;
    if (savedData !== undefined) this.#snapshot = savedData;
  }

  toJSON(): WxSessionJSON {
    const { openid, unionid, userInfo, createdAt, expiresAt, anonymous } = this.#record;
    const json = (anonymous ? { anonymous, anonymousOpenid: openid, data: this.data, createdAt, expiresAt } : { openid, data: this.data, createdAt, expiresAt }) as WxSessionJSON;
    if (unionid !== undefined) json.unionid = unionid;
    if (userInfo !== undefined) json.userInfo = userInfo;
    return json;
  }

  [inspect.custom](): string {
    return `WxSession ${inspect({ id: this.id, ...this.toJSON() })}`;
  }
}
