// The core's side of the session_key's further APIs (docs/session-key.md, "Key reset, phone
// number, risk rank, encrypted data"; docs/payments.md): the key reset (the new key sealed into
// the store), the phone number, the risk rank, the encrypted-data check and the mini-game
// payments. The WeChat calls are wechat/player-apis.ts and wechat/payments.ts; here are what they
// do to sessions (a 87009/90010 marks the key stale, as the signed APIs do, so the next request
// with X-WX-Code repairs it) and their logging (docs/operators.md). All but the key reset (WeChat
// and Douyin) are WeChat's: on another platform, or for a Douyin guest, they reject WX_BAD_REQUEST.
import { reportUpstream, storeFailure } from './diagnostics.js';
import { ErrorCode, WxSessionError } from './errors.js';
import type { KeyFreshness } from './key-freshness.js';
import type { ResolvedOptions } from './options.js';
import { withoutStale, type SessionRecords } from './records.js';
import type { WxSession } from './session.js';
import type { SessionRecord } from './store.js';
import type { WeChatApi } from './wechat/api.js';
import { unsupported, type Platform } from './platforms/types.js';
import {
  PAY_DUPLICATE,
  PAY_INSUFFICIENT,
  PAYMENT_PATHS,
  paymentFields,
  paymentRequest,
  paymentResult,
  sendPayment,
  type PaymentKind,
  type WxSessionPayments,
} from './wechat/payments.js';
import {
  checkEncryptedMsg,
  checkPhoneCode,
  getPhoneNumber,
  getRiskRank,
  riskRankBody,
  type EncryptedDataCheck,
  type PhoneNumber,
  type RiskRankInput,
} from './wechat/player-apis.js';

export interface PlayerCallsContext {
  readonly options: ResolvedOptions;
  readonly platform: Platform;
  readonly records: SessionRecords;
  readonly freshness: KeyFreshness;
}

/** Payment answers that are the game's business, not an outage: not logged. */
const BUSINESS_ERRCODES: ReadonlySet<number> = new Set([PAY_DUPLICATE, PAY_INSUFFICIENT]);

export class PlayerCalls {
  readonly #context: PlayerCallsContext;

  constructor(context: PlayerCallsContext) {
    this.#context = context;
  }

  /** WeChat's API client, for a call only WeChat offers (`what`); elsewhere WX_BAD_REQUEST. */
  #wechat(what: string): WeChatApi {
    const { platform, options } = this.#context;
    if (platform.wechat === undefined) throw unsupported(what, platform.name, options.appId);
    return platform.wechat;
  }

  /**
   * Runs a WeChat call for `session` (or for no session): a failure is logged
   * (docs/operators.md), and a stale-key answer marks the key that signed the call stale.
   */
  async #guard<T>(operation: string, call: () => Promise<T>, session?: WxSession): Promise<T> {
    const sealed = session?.record.sessionKey;
    try {
      return await call();
    } catch (error) {
      const business = error instanceof WxSessionError && error.errcode !== undefined && BUSINESS_ERRCODES.has(error.errcode);
      if (!business) reportUpstream(this.#context.options.logger, operation, error, 'the call rejects');
      if (session && sealed !== undefined && error instanceof WxSessionError && error.code === ErrorCode.WX_SESSION_KEY_EXPIRED) {
        await this.#context.freshness.markStale(session, sealed);
      }
      throw error;
    }
  }

  /** `session.resetKey()`: the platform issues a new key, which replaces the old one in the store. */
  async resetKey(session: WxSession): Promise<void> {
    const { platform, records, options } = this.#context;
    const openid = playerOf(session, 'A session_key reset');
    const operation = platform.name === 'wechat' ? '/wxa/resetusersessionkey' : 'resetSessionKey';
    const fresh = await this.#guard(operation, () => platform.resetSessionKey(openid, session.sessionKey), session);
    const sessionKey = records.seal(session.id, fresh);
    const keyCheckedAt = options.now();
    let record: SessionRecord | undefined;
    try {
      // Whatever the store holds now, WeChat's new key is the only one that works.
      record = await records.update(session.id, (current) => withoutStale({ ...current, sessionKey, keyCheckedAt }));
    } catch (error) {
      throw storeFailure(options.logger, 'save a reset session key', error);
    }
    // Undefined: the session was logged out meanwhile, and stays so.
    if (record) session.replaceRecord(record);
  }

  /** `core.phoneNumber()` and `session.phoneNumber()`. */
  async phoneNumber(code: unknown, openid?: unknown): Promise<PhoneNumber> {
    const api = this.#wechat('The phone number (getuserphonenumber)');
    const checked = checkPhoneCode(code, openid);
    return this.#guard('/wxa/business/getuserphonenumber', () => getPhoneNumber(api, checked, openid as string | undefined));
  }

  /** `session.riskRank()`. */
  async riskRank(session: WxSession, input: RiskRankInput): Promise<number> {
    const api = this.#wechat('The risk rank (getuserriskrank)');
    const body = riskRankBody(this.#context.options.appId, session.openid, input);
    return this.#guard('/wxa/getuserriskrank', () => getRiskRank(api, body));
  }

  /** `core.checkEncryptedData()`. */
  async checkEncryptedData(encryptedData: unknown): Promise<EncryptedDataCheck> {
    const api = this.#wechat('The encrypted-data check (checkencryptedmsg)');
    return this.#guard('/wxa/business/checkencryptedmsg', () => checkEncryptedMsg(api, encryptedData));
  }

  /** One of `session.payments`: checked, signed over the exact bytes sent, and sent. */
  async payment(session: WxSession, kind: PaymentKind, input: unknown): Promise<unknown> {
    const { options } = this.#context;
    const api = this.#wechat('Virtual payment (session.payments)');
    const payment = options.payment;
    if (!payment) throw new WxSessionError('WX_CONFIG_ERROR', { message: 'payment is not configured' });
    const fields = paymentFields(kind, input);
    return this.#guard(
      PAYMENT_PATHS[kind],
      async () => {
        const ts = Math.floor(options.now() / 1000);
        const request = paymentRequest(kind, payment, { openid: session.openid, sessionKey: session.sessionKey, ts, fields });
        return paymentResult(kind, await sendPayment(api, request));
      },
      session,
    );
  }

  /** `session.payments`: the four calls bound to `session`. */
  paymentsOf(session: WxSession): WxSessionPayments {
    const call = (kind: PaymentKind) => (input: unknown) => this.payment(session, kind, input);
    return Object.freeze({ balance: call('balance'), pay: call('pay'), cancel: call('cancel'), present: call('present') }) as WxSessionPayments;
  }
}

/** The openid of a logged-in player; a Douyin guest (anonymous) has none: WX_BAD_REQUEST. */
export function playerOf(session: WxSession, what: string): string {
  if (session.anonymous) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: `${what} needs a logged-in player: a guest session (Douyin anonymous login) has no openid` });
  }
  return session.openid;
}
