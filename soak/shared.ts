// What the players and the checks of one run share: the rig (the mock, the instances), the
// recorder, the violations, the secrets registry, and the tallies the end checks read.
import type { SecretScanner } from '../harness/secret-scan.js';
import type { Instance, MockControl } from './processes.js';
import type { PaymentLedger } from './payments.js';
import type { Exchange, Recorder, SecretKind } from './recorder.js';
import type { PlayerCounts } from './report.js';
import type { Violations } from './violations.js';

/** A 503 WX_STORE_UNAVAILABLE, judged once the failover window is known. */
export interface Store503 {
  sentAt: number;
  answeredAt: number;
  /** The request kind, e.g. 'read', 'login', 'logout (retry after 503)'. */
  label: string;
  /** A login, or a request carrying X-WX-Code: the mock may have redeemed its code. */
  redeemsCode: boolean;
  where: string;
}

export interface Shared {
  mock: MockControl;
  instances: Instance[];
  recorder: Recorder;
  violations: Violations;
  secrets: SecretScanner<SecretKind>;
  loggedOut: { token: string; openid: string }[];
  counts: PlayerCounts;
  /** Every 503 WX_STORE_UNAVAILABLE; allowed or not is decided at the end, against the failover window. */
  store503s: Store503[];
  /** Sessions whose logout was answered 503 and never 204 on retrying: not logged out, not held. */
  abandoned: Set<string>;
  logoutsRetried: { count: number };
  /** Logins and X-WX-Code requests that got no answer (network error): their code may have been redeemed. */
  codeRequestsUnanswered: { count: number };
  /** The players' purchases: each billNo's outcome, and the faults injected on WeChat's pay. */
  payments: PaymentLedger;
}

/** All zero; `operations` first, as the report lists them. */
export function newCounts(): PlayerCounts {
  return { operations: { read: 0, write: 0, rotate: 0, logout: 0, buy: 0 }, logins: 0, refreshes: 0, rotations: 0, rotationsRepairedLate: 0, rotationsRepairedUnacknowledged: 0, unexpectedRefreshes: 0, logouts: 0, writes: 0, reads: 0, buys: 0, buyRetries: 0 };
}

/** Keeps a 503 WX_STORE_UNAVAILABLE to be judged against the failover window at the end. */
export function deferStore503(shared: Shared, ex: Exchange, where: string): void {
  const answeredAt = Date.now();
  shared.store503s.push({
    sentAt: ex.sentAt ?? answeredAt - ex.ms,
    answeredAt,
    label: ex.label,
    redeemsCode: ex.path === '/wx/login' || ex.sentCode,
    where,
  });
}

/** The session id inside a token (`<id>.<signature>`). */
export const idOf = (token: string) => token.slice(0, token.lastIndexOf('.'));
