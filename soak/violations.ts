// The soak's checks by name, and the violations gathered against each: a count and the first few
// examples, which name players and sessions by a prefix only (never a token or a secret).

export const CHECK = {
  openid: 'zero answers carrying another user\'s openid or data',
  readYourWrites: 'every read during the run sees the player\'s last acknowledged write',
  lostWrites: 'zero lost data writes (end state on both instances = last acknowledged write)',
  afterLogout: 'zero sessions alive after logout',
  secrets: 'zero secrets in captured logs and answers',
  statuses: 'zero 5xx, zero unexpected statuses, zero network errors',
  rotations: 'every rotation repaired in place by X-WX-Code (same token)',
  accounting: 'code2Session redemptions = logins + X-WX-Code refreshes, all answered 0',
  payments: 'zero lost or doubled payments (every balance at the mock = the player\'s own record)',
  shutdown: 'both instances exit 0 on SIGTERM',
} as const;

export type CheckName = (typeof CHECK)[keyof typeof CHECK];

export class Violations {
  readonly counts = new Map<CheckName, number>();
  readonly examples = new Map<CheckName, string[]>();
  /** Examples say when they happened, in seconds from here (the start of the load phase). */
  started = Date.now();

  /** `at`: when it happened (Date.now()), if not now. */
  add(check: CheckName, example: string, at = Date.now()): void {
    this.counts.set(check, (this.counts.get(check) ?? 0) + 1);
    const list = this.examples.get(check) ?? [];
    if (list.length < 5) list.push(`[${((at - this.started) / 1000).toFixed(1)} s] ${example}`);
    this.examples.set(check, list);
  }

  count(check: CheckName): number {
    return this.counts.get(check) ?? 0;
  }
}

/** A player in an example: the start of its openid. */
export const who = (openid: string) => `${openid.slice(0, 10)}…`;

/** A token or session id in an example: its first characters. */
export const shortId = (value: string) => `${value.slice(0, 6)}…`;
