// The soak's mini-game payments (docs/payments.md): the players' buy operation, the ledger of what
// each player's billNos did, and the end check that the mock's balances agree with it.
//
// A buy reads the balance (GET /me/balance), then buys (POST /me/buy) with a fresh billNo. A buy
// answered 5xx or not at all is retried with the SAME billNo (WeChat's pay is idempotent per
// bill_no), until it is answered 200 or, on a retry, 502 with errcode 90012 (the billNo was
// already paid). Meanwhile the driver injects a -1 or a timeout on the mock's /wxa/game/pay now
// and then; a timeout is a pay WeChat applies but never answers (the instance answers 504), and
// only the retry's 90012 (or the retry's own 200) tells. At the end, for every player:
//   balance at the mock = start - the amounts of the player's distinct billNos that succeeded,
// so no payment was lost and none was taken twice.
import { setTimeout as sleep } from 'node:timers/promises';
import { BUY_RETRY_MS, PAY_ZONE, START_BALANCE, WECHAT_TIMEOUT_MS } from './config.js';
import type { MockTally } from './mock-process.js';
import type { MockControl } from './processes.js';
import { errorCodeOf, isRecord, type Exchange } from './recorder.js';
import type { PaymentsReport } from './report.js';
import type { Shared } from './shared.js';
import { CHECK, who } from './violations.js';

/** A pay held by a timeout fault lands at once (before the instance's 504 and the retry), or a second after the retry. */
const LANDS_AT_ONCE_MS = 0;
const LANDS_AFTER_RETRY_MS = WECHAT_TIMEOUT_MS + 1000;
/** A buy's retries are this far apart. */
const RETRY_PAUSE_MS = 100;
/**
 * WeChat answers every pay -1 for this long: longer than the library's retries of -1 (100 + 250
 * ms of backoff), so the pays started early in it fail 502 and the players retry them.
 */
const BUSY_MS = 600;

/** What one player's billNos did. */
interface Account {
  /** Amounts of the billNos that succeeded (200, or 90012 on a retry), and how many. */
  paid: number;
  paidBillNos: number;
  /** Amounts of billNos whose outcome is unknown (given up on, or ended by an answer the player flagged after a failed attempt): each may or may not have been debited. */
  uncertain: number;
  billNos: number;
}

type Answered = Pick<Exchange, 'status' | 'errorCode' | 'data'>;

const errcodeOf = (ex: Answered) => (isRecord(ex.data) ? ex.data.errcode : undefined);

/**
 * A 5xx of POST /me/buy the injected faults explain: -1 on every attempt the library made (502
 * WX_UPSTREAM_ERROR, errcode -1), or a pay that outlasted the instance's timeout (504).
 */
export function isPayFailure(ex: Answered & Pick<Exchange, 'path'>): boolean {
  if (ex.path !== '/me/buy') return false;
  if (ex.status === 504 && ex.errorCode === 'WX_UPSTREAM_TIMEOUT') return true;
  return ex.status === 502 && ex.errorCode === 'WX_UPSTREAM_ERROR' && errcodeOf(ex) === -1;
}

/** 502 WX_UPSTREAM_ERROR with errcode 90012: the billNo was paid already. */
export function isDuplicate(ex: Answered): boolean {
  return ex.status === 502 && ex.errorCode === 'WX_UPSTREAM_ERROR' && errcodeOf(ex) === 90012;
}

export class PaymentLedger {
  readonly #mock: MockControl;
  readonly #accounts = new Map<string, Account>();
  /** Faults injected on /wxa/game/pay (-1 windows and timeouts), and the buy answers they explain (counted by the players' checks). */
  busyWindows = 0;
  timeoutFaults = 0;
  failedBusy = 0;
  failedTimeout = 0;
  /** Retries answered 90012. */
  paidByDuplicate = 0;
  #next = 0;

  constructor(mock: MockControl) {
    this.#mock = mock;
  }

  /** The player's account, its starting balance set at the mock on first use. */
  async account(openid: string): Promise<Account> {
    let account = this.#accounts.get(openid);
    if (!account) {
      account = { paid: 0, paidBillNos: 0, uncertain: 0, billNos: 0 };
      this.#accounts.set(openid, account);
      await this.#mock.call({ op: 'setBalance', openid, zoneId: PAY_ZONE, amount: START_BALANCE });
    }
    return account;
  }

  /** A billNo used once in the whole run: `soak-<player>-<n>` (WeChat's charset, under 64 chars). */
  billNo(player: number): string {
    return `soak-${player}-${this.#next++}`;
  }

  /**
   * The next fault on /wxa/game/pay (soak/pay-faults.ts), in turn: -1 for BUSY_MS; a pay left
   * unanswered that lands at once (the retry after the 504 finds the billNo paid: 90012); -1
   * again; a pay left unanswered that lands after the retry (which paid it: the late one is 90012).
   * Not counted when the mock declined it (the last one is still under way): it comes next time.
   */
  async injectFault(): Promise<void> {
    const turn = (this.busyWindows + this.timeoutFaults) % 4;
    if (turn % 2 === 0) {
      if (await this.#mock.call({ op: 'payFault', fault: 'errcode -1', ms: BUSY_MS })) this.busyWindows += 1;
    } else {
      const ms = turn === 1 ? LANDS_AT_ONCE_MS : LANDS_AFTER_RETRY_MS;
      if (await this.#mock.call({ op: 'payFault', fault: 'timeout', ms })) this.timeoutFaults += 1;
    }
  }

  /** A buy answered 502 (-1) or 504, as isPayFailure says. */
  failed(ex: Pick<Exchange, 'status'>): void {
    if (ex.status === 504) this.failedTimeout += 1;
    else this.failedBusy += 1;
  }

  /** No more faults: those not yet met are dropped (a delayed pay under way still lands late). */
  async stopFaults(): Promise<void> {
    await this.#mock.call({ op: 'clearPayFaults' });
  }

  /** The end check: every account's balance at the mock against its record. */
  async check(shared: Shared, tally: MockTally): Promise<PaymentsReport> {
    const report: PaymentsReport = {
      players: this.#accounts.size,
      billNos: 0,
      paidBillNos: 0,
      paidAmount: 0,
      paidByDuplicate: this.paidByDuplicate,
      busyWindows: this.busyWindows,
      timeoutFaults: this.timeoutFaults,
      failedBusy: this.failedBusy,
      failedTimeout: this.failedTimeout,
      payCalls: tally.pay,
      payBusy: tally.payBusy,
      payDuplicates: tally.payDuplicates,
      payHeld: tally.payHeld,
      payHeldApplied: tally.payHeldApplied,
    };
    for (const [openid, account] of this.#accounts) {
      report.billNos += account.billNos;
      report.paidBillNos += account.paidBillNos;
      report.paidAmount += account.paid;
      const balance = await this.#mock.call({ op: 'balanceOf', openid, zoneId: PAY_ZONE });
      const expected = START_BALANCE - account.paid;
      if (balance > expected || balance < expected - account.uncertain) {
        const kind = balance > expected ? 'lost' : 'doubled';
        shared.violations.add(CHECK.payments, `${who(openid)}: balance ${balance} at the mock, expected ${expected} (${account.billNos} billNos, ${account.paidBillNos} paid${account.uncertain ? `, up to ${account.uncertain} more uncertain` : ''}): ${Math.abs(expected - balance)} ${kind}`);
      }
    }
    // A 502 (-1) needs three -1s at the mock (the library retries twice), a 504 one delayed pay.
    if (this.failedBusy * 3 > tally.payBusy) {
      shared.violations.add(CHECK.payments, `${this.failedBusy} buys answered 502 errcode -1, more than the mock's ${tally.payBusy} answers of -1 explain`);
    }
    if (this.failedTimeout > this.timeoutFaults) {
      shared.violations.add(CHECK.payments, `${this.failedTimeout} buys answered 504, more than the ${this.timeoutFaults} pays left unanswered explain`);
    }
    return report;
  }
}

/** What a player lends its buy: its requests, each answer checked by the player. */
export interface Buyer {
  openid: string;
  number: number;
  /** `retry`: the same billNo again, so a 90012 is the earlier attempt's success. Undefined: no answer. */
  request(url: string, method: 'GET' | 'POST', data?: unknown, retry?: boolean): Promise<{ statusCode: number; data: unknown } | undefined>;
}

/** GET /me/balance must say what the player's record says (unless an uncertain billNo is in the way). */
async function checkBalance(shared: Shared, account: Account, buyer: Buyer): Promise<void> {
  const read = await buyer.request(`/me/balance?zoneId=${PAY_ZONE}`, 'GET');
  if (read?.statusCode !== 200 || account.uncertain > 0) return;
  const balance = isRecord(read.data) ? read.data.balance : undefined;
  if (balance !== START_BALANCE - account.paid) {
    shared.violations.add(CHECK.payments, `${who(buyer.openid)} GET /me/balance: ${String(balance)}, expected ${START_BALANCE - account.paid}`);
  }
}

/** One buy: the balance read, then a fresh billNo paid, retried with the same billNo until done. */
export async function buy(shared: Shared, ledger: PaymentLedger, buyer: Buyer): Promise<void> {
  const account = await ledger.account(buyer.openid);
  await checkBalance(shared, account, buyer);
  const where = `${who(buyer.openid)} POST /me/buy`;
  const billNo = ledger.billNo(buyer.number);
  const amount = 1 + Math.floor(Math.random() * 100);
  account.billNos += 1;
  const giveUp = Date.now() + BUY_RETRY_MS;
  for (let attempt = 0; attempt === 0 || Date.now() < giveUp; attempt++) {
    if (attempt > 0) {
      shared.counts.buyRetries += 1;
      await sleep(RETRY_PAUSE_MS);
    }
    const res = await buyer.request('/me/buy', 'POST', { billNo, amount, zoneId: PAY_ZONE }, attempt > 0);
    const answered = res && { status: res.statusCode, errorCode: errorCodeOf(res.data), data: res.data };
    const duplicate = attempt > 0 && answered !== undefined && isDuplicate(answered);
    if (res?.statusCode === 200 || duplicate) {
      const after = START_BALANCE - account.paid - amount;
      const balance = isRecord(res!.data) ? res!.data.balance : undefined;
      if (!duplicate && account.uncertain === 0 && balance !== after) {
        shared.violations.add(CHECK.payments, `${where} ${billNo}: answered balance ${String(balance)}, expected ${after}`);
      }
      account.paid += amount;
      account.paidBillNos += 1;
      shared.counts.buys += 1;
      if (duplicate) ledger.paidByDuplicate += 1;
      return;
    }
    // Any other answer below 500 is one the player flagged: after a failed attempt, the pay may have landed.
    if (res && res.statusCode < 500) {
      if (attempt > 0) account.uncertain += amount;
      return;
    }
    // 5xx (checked by the player against the faults) or no answer: the same billNo again.
  }
  account.uncertain += amount;
  shared.violations.add(CHECK.payments, `${where} ${billNo}: not done after ${BUY_RETRY_MS / 1000} s of retries`);
}
