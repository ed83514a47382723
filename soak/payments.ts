// The soak's mini-game payments (DESIGN.md §9): the players' buy operation, the ledger of what
// each player's billNos did, and the end check that the mock's balances agree with it.
//
// A buy reads the balance (GET /me/balance), then buys (POST /me/buy) with a fresh billNo. A buy
// answered 5xx or not at all is retried with the SAME billNo (WeChat's pay is idempotent per
// bill_no), until it is answered 200 or 502 with errcode 90012 (the billNo was already paid).
// Meanwhile the driver injects a -1 or a timeout on the mock's /wxa/game/pay now and then; a
// timeout is a delay past the instance's WeChat timeout, so that pay lands after the instance
// gave up on it and only the retry's 90012 tells. At the end, for every player:
//   balance at the mock = start - the amounts of the player's distinct billNos that succeeded,
// so no payment was lost and none was taken twice.
import { BUY_ATTEMPTS, PAY_ZONE, START_BALANCE, WECHAT_TIMEOUT_MS } from './config.js';
import type { MockControl } from './processes.js';
import { isRecord, type Exchange } from './recorder.js';
import type { Shared } from './shared.js';
import { CHECK, who } from './violations.js';

/** What one player's billNos did. */
interface Account {
  /** Amounts of the billNos that succeeded (200, or 90012 on a retry). */
  paid: number;
  /** Amounts of billNos given up on after BUY_ATTEMPTS: each may or may not have been debited. */
  uncertain: number;
  billNos: number;
}

/** A 5xx the injected faults explain: -1 after the library's retries (502 WX_UPSTREAM_ERROR), or a timeout (504). */
export function isPayFailure(ex: Pick<Exchange, 'path' | 'status' | 'errorCode' | 'data'>): boolean {
  if (ex.path !== '/me/buy') return false;
  if (ex.status === 504 && ex.errorCode === 'WX_UPSTREAM_TIMEOUT') return true;
  return ex.status === 502 && ex.errorCode === 'WX_UPSTREAM_ERROR' && !isDuplicate(ex);
}

/** 502 WX_UPSTREAM_ERROR with errcode 90012: the billNo was paid already. */
export function isDuplicate(ex: Pick<Exchange, 'status' | 'errorCode' | 'data'>): boolean {
  return ex.status === 502 && ex.errorCode === 'WX_UPSTREAM_ERROR' && isRecord(ex.data) && ex.data.errcode === 90012;
}

export class PaymentLedger {
  readonly #mock: MockControl;
  readonly #accounts = new Map<string, Account>();
  /** Faults injected on /wxa/game/pay, and buy answers they explain (5xx). */
  faultsInjected = 0;
  payFailures = 0;
  #next = 0;

  constructor(mock: MockControl) {
    this.#mock = mock;
  }

  /** The player's account, its starting balance set at the mock on first use. */
  async account(openid: string): Promise<Account> {
    let account = this.#accounts.get(openid);
    if (!account) {
      account = { paid: 0, uncertain: 0, billNos: 0 };
      this.#accounts.set(openid, account);
      await this.#mock.call({ op: 'setBalance', openid, zoneId: PAY_ZONE, amount: START_BALANCE });
    }
    return account;
  }

  /** A billNo used once in the whole run: `soak-<player>-<n>` (WeChat's charset, under 64 chars). */
  billNo(player: number): string {
    return `soak-${player}-${this.#next++}`;
  }

  /** The next fault on /wxa/game/pay: -1 and a timeout in turn. */
  async injectFault(): Promise<void> {
    const fault = this.faultsInjected % 2 === 0 ? 'errcode -1' : 'timeout';
    await this.#mock.call({ op: 'payFault', fault, delayMs: WECHAT_TIMEOUT_MS + 500 });
    this.faultsInjected += 1;
  }

  /** The end check: every account's balance at the mock; returns the check's detail. */
  async check(shared: Shared): Promise<string> {
    let billNos = 0;
    let paid = 0;
    for (const [openid, account] of this.#accounts) {
      billNos += account.billNos;
      paid += account.paid;
      const balance = await this.#mock.call({ op: 'balanceOf', openid, zoneId: PAY_ZONE });
      const expected = START_BALANCE - account.paid;
      if (balance > expected || balance < expected - account.uncertain) {
        shared.violations.add(CHECK.payments, `${who(openid)}: balance ${balance} at the mock, expected ${expected} (${account.billNos} billNos, ${account.paid} paid${account.uncertain ? `, up to ${account.uncertain} more uncertain` : ''})`);
      }
    }
    if (this.payFailures > this.faultsInjected * 3) {
      shared.violations.add(CHECK.payments, `${this.payFailures} buys answered 5xx, more than the ${this.faultsInjected} faults injected explain`);
    }
    return `${this.#accounts.size} players, ${billNos} billNos, ${paid} paid; ${this.faultsInjected} faults injected on /wxa/game/pay, ${this.payFailures} buys answered 5xx and retried`;
  }
}

/** What a player lends its buy: its requests, each answer checked by the player. */
export interface Buyer {
  openid: string;
  number: number;
  request(url: string, method: 'GET' | 'POST', data?: unknown): Promise<{ statusCode: number; data: unknown } | undefined>;
}

/** One buy: the balance read, then a fresh billNo paid, retried with the same billNo until done. */
export async function buy(shared: Shared, ledger: PaymentLedger, buyer: Buyer): Promise<void> {
  const account = await ledger.account(buyer.openid);
  const where = who(buyer.openid);
  const read = await buyer.request(`/me/balance?zoneId=${PAY_ZONE}`, 'GET');
  if (read?.statusCode === 200) {
    const balance = isRecord(read.data) ? read.data.balance : undefined;
    if (account.uncertain === 0 && balance !== START_BALANCE - account.paid) {
      shared.violations.add(CHECK.payments, `${where} GET /me/balance: ${String(balance)}, expected ${START_BALANCE - account.paid}`);
    }
  }
  const billNo = ledger.billNo(buyer.number);
  const amount = 1 + Math.floor(Math.random() * 100);
  account.billNos += 1;
  for (let attempt = 0; attempt < BUY_ATTEMPTS; attempt++) {
    if (attempt > 0) shared.counts.buyRetries += 1;
    const res = await buyer.request('/me/buy', 'POST', { billNo, amount, zoneId: PAY_ZONE });
    if (res?.statusCode === 200 || (res && isDuplicate({ status: res.statusCode, errorCode: isRecord(res.data) ? (res.data.code as string) : undefined, data: res.data }))) {
      account.paid += amount;
      shared.counts.buys += 1;
      return;
    }
    // 5xx (checked by the player against the faults) or no answer: the same billNo again.
    if (res && res.statusCode < 500) return;
  }
  account.uncertain += amount;
  shared.violations.add(CHECK.payments, `${where} POST /me/buy ${billNo}: not done after ${BUY_ATTEMPTS} attempts`);
}
