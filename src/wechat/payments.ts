// Mini-game virtual payment 2.0 (`/wxa/game/getbalance|pay|cancelpay|present`, docs/payments.md):
// each call's input checked before anything is sent (WX_BAD_REQUEST), the body serialised once,
// both signatures computed over those exact bytes, and those bytes sent (also on every retry: -1
// and a renewed access token resend the same body and bill_no).
import { signPayload, signPayment } from '../crypto.js';
import { WxSessionError } from '../errors.js';
import type { ResolvedPayment } from '../options.js';
import { retryBusy, type WeChatApi } from './api.js';
import { CONFIG_ERRCODES, errcodeError } from './errcodes.js';
import { sourceOf, type WeChatAnswer, type WeChatRequest } from './http.js';

/** The session_key no longer signs (or the signature is wrong): treated as 87009 is. */
export const PAY_KEY_EXPIRED = 90010;
/** bill_no already used: the earlier call went through; callers can treat it as done. */
export const PAY_DUPLICATE = 90012;
/** Not enough coins for the pay. */
export const PAY_INSUFFICIENT = 90013;

export interface PaymentBase {
  /** The game's zone (server/partition) id, as configured in the payment admin page. */
  zoneId: string;
  /** The player's IP address. */
  userIp: string;
}

export interface PayInput extends PaymentBase {
  /** Coins to deduct, a positive integer. */
  amount: number;
  /** Your order number: at most 63 of `[0-9A-Za-z_-]`, not starting with `_`; idempotent for 48 h. */
  billNo: string;
  payitem?: string;
  remark?: string;
}

export interface CancelInput extends PaymentBase {
  amount: number;
  /** The refund's own number (same rules as billNo). */
  billNo: string;
  /** The billNo of the pay being refunded. */
  payBillNo: string;
}

export interface PresentInput extends PaymentBase {
  amount: number;
  billNo: string;
}

export interface PaymentBalance {
  balance: number;
  presentBalance: number;
  sumSave: number;
  sumPresent: number;
  sumBalance: number;
  sumCost: number;
  firstSave: boolean;
}

export interface PayResult {
  billNo: string;
  balance: number;
  usedPresentAmount: number;
}

export interface PresentResult {
  billNo: string;
  balance: number;
}

/** The calls of `session.payments`, bound to the session. */
export interface WxSessionPayments {
  balance(input: PaymentBase): Promise<PaymentBalance>;
  pay(input: PayInput): Promise<PayResult>;
  cancel(input: CancelInput): Promise<PayResult>;
  present(input: PresentInput): Promise<PresentResult>;
}

export type PaymentKind = keyof WxSessionPayments;

export const PAYMENT_PATHS: Readonly<Record<PaymentKind, string>> = Object.freeze({
  balance: '/wxa/game/getbalance',
  pay: '/wxa/game/pay',
  cancel: '/wxa/game/cancelpay',
  present: '/wxa/game/present',
});

const BILL_NO = /^[0-9A-Za-z-][0-9A-Za-z_-]{0,62}$/;

function bad(message: string): never {
  throw new WxSessionError('WX_BAD_REQUEST', { message });
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) bad(`${name} must be a non-empty string`);
  return value;
}

function billNo(value: unknown, name: string): string {
  if (typeof value !== 'string' || !BILL_NO.test(value)) bad(`${name} must be 1 to 63 of [0-9A-Za-z_-], not starting with _`);
  return value;
}

function amount(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) bad('amount must be a positive integer');
  return value;
}

/**
 * The call's own fields as WeChat names them, checked; `zone_id` and `user_ip` included. Throws
 * WX_BAD_REQUEST for anything WeChat's rules refuse.
 */
export function paymentFields(kind: PaymentKind, input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== 'object') bad(`payments.${kind} takes an object`);
  const given = input as Partial<PayInput & CancelInput>;
  const fields: Record<string, unknown> = { zone_id: text(given.zoneId, 'zoneId'), user_ip: text(given.userIp, 'userIp') };
  if (kind === 'balance') return fields;
  fields.amount = amount(given.amount);
  fields.bill_no = billNo(given.billNo, 'billNo');
  if (kind === 'cancel') fields.pay_bill_no = billNo(given.payBillNo, 'payBillNo');
  if (kind === 'pay') {
    for (const name of ['payitem', 'remark'] as const) {
      const value = given[name];
      if (value === undefined) continue;
      if (typeof value !== 'string') bad(`${name} must be a string`);
      fields[name] = value;
    }
  }
  return fields;
}

/** One signed payment request: what goes on the wire, built once. */
export interface PaymentRequest {
  path: string;
  body: string;
  signature: string;
  paySig: string;
}

/** The body in WeChat's documented order, serialised once, and both signatures over its bytes. */
export function paymentRequest(kind: PaymentKind, payment: ResolvedPayment, call: { openid: string; sessionKey: string; ts: number; fields: Record<string, unknown> }): PaymentRequest {
  const path = PAYMENT_PATHS[kind];
  const { zone_id, user_ip, ...rest } = call.fields;
  const body = JSON.stringify({ openid: call.openid, offer_id: payment.offerId, ts: call.ts, zone_id, env: payment.env, user_ip, ...rest });
  return { path, body, signature: signPayload(body, call.sessionKey), paySig: signPayment({ uri: path, body, appKey: payment.appKey }) };
}

/** The error for a payment errcode: 90010 is a stale key, 90012 and the rest keep their errcode. */
function paymentError(errcode: number, answer: WeChatAnswer, path: string): WxSessionError {
  const source = sourceOf(answer, { method: 'POST', path, query: {} });
  if (errcode === PAY_KEY_EXPIRED) return new WxSessionError('WX_SESSION_KEY_EXPIRED', { errcode, ...source });
  if (errcode === 45011 || CONFIG_ERRCODES.has(errcode)) return errcodeError(errcode, path, source);
  return new WxSessionError('WX_UPSTREAM_ERROR', { errcode, ...source, message: `WeChat answered ${path} with errcode ${errcode}` });
}

/** Sends a built request (the same bytes on every attempt) and answers WeChat's JSON on errcode 0. */
export async function sendPayment(api: WeChatApi, request: PaymentRequest): Promise<WeChatAnswer> {
  const { path, body, signature, paySig } = request;
  const build = (accessToken: string): WeChatRequest => ({
    method: 'POST',
    path,
    query: { access_token: accessToken, signature, sig_method: 'hmac_sha256', pay_sig: paySig },
    body,
  });
  const answer = await retryBusy(() => api.callWithToken(build));
  const errcode = answer.errcode ?? 0;
  if (errcode !== 0) throw paymentError(errcode, answer, path);
  return answer;
}

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : NaN);

/** WeChat's answer in camelCase; a missing or non-numeric field is WX_UPSTREAM_ERROR. */
export function paymentResult(kind: PaymentKind, answer: WeChatAnswer): PaymentBalance | PayResult | PresentResult {
  const result: Record<string, unknown> =
    kind === 'balance'
      ? {
          balance: num(answer.balance),
          presentBalance: num(answer.present_balance),
          sumSave: num(answer.sum_save),
          sumPresent: num(answer.sum_present),
          sumBalance: num(answer.sum_balance),
          sumCost: num(answer.sum_cost),
        }
      : kind === 'present'
        ? { billNo: answer.bill_no, balance: num(answer.balance) }
        : { billNo: answer.bill_no, balance: num(answer.balance), usedPresentAmount: num(answer.used_present_amount ?? 0) };
  const unreadable = Object.values(result).some((value) => (typeof value === 'number' ? Number.isNaN(value) : typeof value !== 'string'));
  if (unreadable) throw new WxSessionError('WX_UPSTREAM_ERROR', { endpoint: PAYMENT_PATHS[kind], message: `WeChat's answer to ${PAYMENT_PATHS[kind]} lacks the expected fields` });
  // first_save is documented a boolean; some answers carry 0/1.
  if (kind === 'balance') result.firstSave = answer.first_save === true || answer.first_save === 1;
  return result as unknown as PaymentBalance | PayResult | PresentResult;
}
