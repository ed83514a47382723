/**
 * The mock WeChat's mini-game virtual payment 2.0 (`/wxa/game/getbalance|pay|cancelpay|present`,
 * docs/payments.md): signature against the player's current session_key, pay_sig against the AppKey
 * of the body's env, balances per (openid, zone_id, env), idempotent bill_no, cancel once.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { KitAnswer, KitRequest, KitRoute, MockKit } from './mock-player-apis.js';

/** The `payment` option of {@link startMockWeChat}. Defaults: random 32-character keys, offerId `'1450000001'`. */
export interface MockPaymentOptions {
  offerId?: string;
  appKey?: string;
  sandboxAppKey?: string;
}

/** The payment settings the mock checks against ({@link MockWeChat.payment}). The keys are secrets. */
export interface MockPaymentSettings {
  readonly offerId: string;
  readonly appKey: string;
  readonly sandboxAppKey: string;
}

/** One payment operation the mock applied ({@link MockWeChat.payments}). */
export interface MockPayment {
  kind: 'pay' | 'cancel' | 'present';
  openid: string;
  zoneId: string;
  env: 0 | 1;
  billNo: string;
  amount: number;
}

interface Purse {
  balance: number;
  present: number;
  sumSave: number;
  sumPresent: number;
  sumCost: number;
}

const BILL_NO = /^[0-9A-Za-z-][0-9A-Za-z_-]{0,62}$/;

function key32(): string {
  return randomBytes(16).toString('hex');
}

export function resolvePaymentOptions(options: MockPaymentOptions | undefined): MockPaymentSettings {
  const { offerId = '1450000001', appKey = key32(), sandboxAppKey = key32() } = options ?? {};
  for (const [name, value] of Object.entries({ offerId, appKey, sandboxAppKey })) {
    if (typeof value !== 'string' || value === '') throw new TypeError(`wx-session/testing: payment.${name} must be a non-empty string`);
  }
  return Object.freeze({ offerId, appKey, sandboxAppKey });
}

export function paymentApis(kit: MockKit, settings: MockPaymentSettings) {
  const purses = new Map<string, Purse>();
  /** (openid, zone, env, bill_no) → the operation that used it. */
  const bills = new Map<string, MockPayment>();
  const cancelled = new Set<string>();
  const applied: MockPayment[] = [];

  const purseKey = (openid: string, zoneId: string, env: number): string => JSON.stringify([openid, zoneId, env]);
  const billKey = (openid: string, zoneId: string, env: number, billNo: string): string => JSON.stringify([openid, zoneId, env, billNo]);

  function purseOf(openid: string, zoneId: string, env: number): Purse {
    const key = purseKey(openid, zoneId, env);
    let purse = purses.get(key);
    if (!purse) {
      purse = { balance: 0, present: 0, sumSave: 0, sumPresent: 0, sumCost: 0 };
      purses.set(key, purse);
    }
    return purse;
  }

  type Checked = { openid: string; zoneId: string; env: 0 | 1; json: Record<string, unknown>; purse: Purse };

  /** Checks every payment call shares, in WeChat's order: token, signature, pay_sig, parameters. */
  function check(uri: string, { query, body }: KitRequest): Checked | KitAnswer {
    const denied = kit.checkAccessToken(query);
    if (denied) return denied;
    const json = kit.parseJsonObject(body);
    if (!json) return kit.errAnswer(90018);
    const openid = typeof json.openid === 'string' ? json.openid : '';
    const key = openid ? kit.keyOf(openid) : undefined;
    if (key === undefined) return kit.errAnswer(90018);
    if (query.sig_method !== 'hmac_sha256') return kit.errAnswer(90018);
    // A key replaced by a new login or resetusersessionkey no longer signs: 90010.
    if (!kit.sameText(query.signature ?? '', kit.hmacHex(key, body))) return kit.errAnswer(90010);
    const env = json.env === 1 ? 1 : json.env === 0 ? 0 : undefined;
    if (env === undefined) return kit.errAnswer(90018);
    const appKey = env === 1 ? settings.sandboxAppKey : settings.appKey;
    const message = Buffer.concat([Buffer.from(`${uri}&`, 'utf8'), body]);
    if (!kit.sameText(query.pay_sig ?? '', kit.hmacHex(appKey, message))) return kit.errAnswer(90011);
    if (json.offer_id !== settings.offerId) return kit.errAnswer(90018);
    if (typeof json.zone_id !== 'string' || json.zone_id === '' || typeof json.user_ip !== 'string') return kit.errAnswer(90018);
    if (typeof json.ts !== 'number' || !Number.isInteger(json.ts)) return kit.errAnswer(90018);
    return { openid, zoneId: json.zone_id, env, json, purse: purseOf(openid, json.zone_id, env) };
  }

  function amountOf(json: Record<string, unknown>): number | undefined {
    const { amount } = json;
    return typeof amount === 'number' && Number.isSafeInteger(amount) && amount > 0 ? amount : undefined;
  }

  function billOf(json: Record<string, unknown>, field: string): string | undefined {
    const value = json[field];
    return typeof value === 'string' && BILL_NO.test(value) ? value : undefined;
  }

  function ok(json: Record<string, unknown>): KitAnswer {
    return { status: 200, json: { errcode: 0, errmsg: 'ok', ...json } };
  }

  function total(purse: Purse): number {
    return purse.balance + purse.present;
  }

  function getBalance(ctx: KitRequest): KitAnswer {
    const checked = check('/wxa/game/getbalance', ctx);
    if (!('purse' in checked)) return checked;
    const { purse } = checked;
    return ok({
      balance: total(purse),
      gen_balance: purse.present,
      present_balance: purse.present,
      first_save: purse.sumSave > 0 ? 1 : 0,
      save_amt: purse.sumSave,
      save_sum: purse.sumSave,
      cost_sum: purse.sumCost,
      present_sum: purse.sumPresent,
      sum_save: purse.sumSave,
      sum_present: purse.sumPresent,
      sum_balance: total(purse),
      sum_cost: purse.sumCost,
    });
  }

  function record(op: MockPayment): void {
    bills.set(billKey(op.openid, op.zoneId, op.env, op.billNo), op);
    applied.push(op);
  }

  type Billed = Checked & { amount: number; billNo: string; payBillNo: string | undefined };

  /**
   * The checks of a call that moves coins: the shared ones, then `amount`, `bill_no` (and, for a
   * refund, `pay_bill_no`) well-formed, then a `bill_no` not used before.
   */
  function billed(uri: string, ctx: KitRequest, refund = false): Billed | KitAnswer {
    const checked = check(uri, ctx);
    if (!('purse' in checked)) return checked;
    const { openid, zoneId, env, json } = checked;
    const amount = amountOf(json);
    const billNo = billOf(json, 'bill_no');
    const payBillNo = refund ? billOf(json, 'pay_bill_no') : undefined;
    if (amount === undefined || billNo === undefined || (refund && payBillNo === undefined)) return kit.errAnswer(90018);
    if (bills.has(billKey(openid, zoneId, env, billNo))) return kit.errAnswer(90012);
    return { ...checked, amount, billNo, payBillNo };
  }

  function pay(ctx: KitRequest): KitAnswer {
    const call = billed('/wxa/game/pay', ctx);
    if (!('purse' in call)) return call;
    const { openid, zoneId, env, purse, amount, billNo } = call;
    if (total(purse) < amount) return kit.errAnswer(90013);
    // Present coins are spent first, as WeChat reports with used_present_amount.
    const usedPresent = Math.min(purse.present, amount);
    purse.present -= usedPresent;
    purse.balance -= amount - usedPresent;
    purse.sumCost += amount;
    record({ kind: 'pay', openid, zoneId, env, billNo, amount });
    return ok({ bill_no: billNo, balance: total(purse), used_present_amount: usedPresent });
  }

  function cancelPay(ctx: KitRequest): KitAnswer {
    const call = billed('/wxa/game/cancelpay', ctx, true);
    if (!('purse' in call)) return call;
    const { openid, zoneId, env, purse, amount, billNo } = call;
    const payBillNo = call.payBillNo!;
    const paid = bills.get(billKey(openid, zoneId, env, payBillNo));
    if (!paid || paid.kind !== 'pay' || amount !== paid.amount) return kit.errAnswer(90018);
    const payKey = billKey(openid, zoneId, env, payBillNo);
    if (cancelled.has(payKey)) return kit.errAnswer(90012);
    cancelled.add(payKey);
    purse.balance += amount;
    purse.sumCost -= amount;
    record({ kind: 'cancel', openid, zoneId, env, billNo, amount });
    return ok({ bill_no: billNo, balance: total(purse), used_present_amount: 0 });
  }

  function present(ctx: KitRequest): KitAnswer {
    const call = billed('/wxa/game/present', ctx);
    if (!('purse' in call)) return call;
    const { openid, zoneId, env, purse, amount, billNo } = call;
    purse.present += amount;
    purse.sumPresent += amount;
    record({ kind: 'present', openid, zoneId, env, billNo, amount });
    return ok({ bill_no: billNo, balance: total(purse) });
  }

  const routes: [string, KitRoute][] = [
    ['/wxa/game/getbalance', { method: 'POST', handle: getBalance }],
    ['/wxa/game/pay', { method: 'POST', handle: pay }],
    ['/wxa/game/cancelpay', { method: 'POST', handle: cancelPay }],
    ['/wxa/game/present', { method: 'POST', handle: present }],
  ];

  function checkEnv(env: unknown): 0 | 1 {
    if (env !== 0 && env !== 1) throw new TypeError('wx-session/testing: env must be 0 or 1');
    return env;
  }

  const api = {
    setBalance(openid: string, zoneId: string, amount: number, env: 0 | 1 = 0): void {
      if (typeof openid !== 'string' || openid === '' || typeof zoneId !== 'string' || zoneId === '') throw new TypeError('wx-session/testing: openid and zoneId must be non-empty strings');
      if (!Number.isSafeInteger(amount) || amount < 0) throw new TypeError('wx-session/testing: amount must be a safe integer >= 0');
      const purse = purseOf(openid, zoneId, checkEnv(env));
      // The set amount counts as saved (bought) coins.
      purse.sumSave += Math.max(0, amount - purse.balance);
      purse.balance = amount;
    },
    balanceOf(openid: string, zoneId: string, env: 0 | 1 = 0): { balance: number; presentBalance: number } {
      const purse = purses.get(purseKey(openid, zoneId, checkEnv(env)));
      return { balance: purse ? total(purse) : 0, presentBalance: purse?.present ?? 0 };
    },
    get payments(): MockPayment[] {
      return applied.map((op) => ({ ...op }));
    },
  };
  return { routes, api };
}
