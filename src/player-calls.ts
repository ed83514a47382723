// The core's side of DESIGN.md §9, the session_key's further APIs: the key reset (the new key
// sealed into the store), the phone number, the risk rank, the encrypted-data check and the
// mini-game payments. The WeChat calls are wechat/player-apis.ts and wechat/payments.ts; here
// are what they do to sessions (a 87009/90010 marks the key stale, as the signed APIs do, so the
// next request with X-WX-Code repairs it) and the logging of §8.
import { reportUpstream, storeFailure } from './diagnostics.js';
import { ErrorCode, WxSessionError } from './errors.js';
import type { KeyFreshness } from './key-freshness.js';
import type { ResolvedOptions } from './options.js';
import { withoutStale, type SessionRecords } from './records.js';
import type { WxSession } from './session.js';
import type { SessionRecord } from './store.js';
import type { WeChatApi } from './wechat/api.js';
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
  resetSessionKey,
  riskRankBody,
  type EncryptedDataCheck,
  type PhoneNumber,
  type RiskRankInput,
} from './wechat/player-apis.js';

export interface PlayerCallsContext {
  readonly options: ResolvedOptions;
  readonly api: WeChatApi;
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

  /**
   * Runs a WeChat call for `session` (or for no session): a failure is logged as §8 says, and a
   * stale-key answer marks the key that signed the call stale.
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

  /** `session.resetKey()`: WeChat issues a new key, which replaces the old one in the store. */
  async resetKey(session: WxSession): Promise<void> {
    const { api, records, options } = this.#context;
    const fresh = await this.#guard('/wxa/resetusersessionkey', () => resetSessionKey(api, session.openid, session.sessionKey), session);
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
    const checked = checkPhoneCode(code, openid);
    return this.#guard('/wxa/business/getuserphonenumber', () => getPhoneNumber(this.#context.api, checked, openid as string | undefined));
  }

  /** `session.riskRank()`. */
  async riskRank(session: WxSession, input: RiskRankInput): Promise<number> {
    const body = riskRankBody(this.#context.options.appId, session.openid, input);
    return this.#guard('/wxa/getuserriskrank', () => getRiskRank(this.#context.api, body));
  }

  /** `core.checkEncryptedData()`. */
  checkEncryptedData(encryptedData: unknown): Promise<EncryptedDataCheck> {
    return this.#guard('/wxa/business/checkencryptedmsg', () => checkEncryptedMsg(this.#context.api, encryptedData));
  }

  /** One of `session.payments`: checked, signed over the exact bytes sent, and sent. */
  async payment(session: WxSession, kind: PaymentKind, input: unknown): Promise<unknown> {
    const { options, api } = this.#context;
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
