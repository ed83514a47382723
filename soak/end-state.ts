// The checks that run once the players have stopped: every session a player holds read on both
// instances (data = last acknowledged write, the same on both), every logged-out token tried on
// both, the session records in Redis compared with the sessions the players hold, and the mock's
// code2Session redemptions accounted for.
import type { SessionRecords } from './backend.js';
import type { MockTally } from './mock-process.js';
import type { Player } from './player.js';
import type { Instance } from './processes.js';
import { refusedAfterLogout, sendWithToken } from './logout.js';
import { isRecord, type Exchange } from './recorder.js';
import { SCORE_SPACE } from './config.js';
import { idOf, type Shared } from './shared.js';
import { CHECK, shortId, who } from './violations.js';

/** Runs `work` on every item, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** `player`'s session as `instance` answers it now; the session's data as JSON, or undefined when it is gone (a violation). */
async function readEndState(shared: Shared, player: Player, instance: Instance): Promise<string | undefined> {
  const { violations } = shared;
  const where = `${who(player.openid)} end state on ${instance.name}`;
  let ex: Exchange;
  try {
    ex = await sendWithToken(shared, instance, { label: 'end state', method: 'GET', path: '/me', token: player.client.token()! });
  } catch (error) {
    violations.add(CHECK.lostWrites, `${where}: network error ${String((error as Error).message)}`);
    return undefined;
  }
  if (ex.status !== 200 || !isRecord(ex.data)) {
    violations.add(CHECK.lostWrites, `${where}: the session is gone (${ex.status} ${ex.errorCode ?? ''})`);
    return undefined;
  }
  if (ex.data.openid !== player.openid) violations.add(CHECK.openid, `${where}: answered another openid`);
  const expected = player.lastAck === undefined ? {} : { score: player.lastAck };
  const score = isRecord(ex.data.data) ? ex.data.data.score : undefined;
  if (typeof score === 'number' && Math.floor(score / SCORE_SPACE) !== player.scoreRange) {
    violations.add(CHECK.openid, `${where}: holds another player's data ${JSON.stringify(ex.data.data)}`);
  } else if (typeof score === 'number' && player.uncertain.includes(score)) {
    // A write that was not acknowledged (a 503) but landed: allowed, it came after the last
    // ack; both instances must answer it, though.
  } else if (JSON.stringify(ex.data.data) !== JSON.stringify(expected)) {
    violations.add(
      CHECK.lostWrites,
      `${where}: holds ${JSON.stringify(ex.data.data)}, last acknowledged ${JSON.stringify(expected)}${player.uncertain.length ? ` (not acknowledged since: ${player.uncertain.join(', ')})` : ''}`,
    );
  }
  return JSON.stringify(ex.data.data);
}

/** Every session held, read on both instances; then every logged-out token, tried on both. */
export async function checkEndState(shared: Shared, held: readonly Player[]): Promise<void> {
  const { instances, violations } = shared;
  /** The data the first instance answered for each player: the other must answer the same. */
  const endData = new Map<Player, { instance: string; data: string }>();
  await pool(
    held.flatMap((player) => instances.map((instance) => ({ player, instance }))),
    32,
    async ({ player, instance }) => {
      const data = await readEndState(shared, player, instance);
      if (data === undefined) return;
      const other = endData.get(player);
      if (!other) endData.set(player, { instance: instance.name, data });
      else if (other.data !== data) violations.add(CHECK.lostWrites, `${who(player.openid)} end state on ${instance.name}: holds ${data}, instance ${other.instance} ${other.data}`);
    },
  );
  await pool(
    shared.loggedOut.flatMap((entry) => instances.map((instance) => ({ entry, instance }))),
    32,
    ({ entry, instance }) => refusedAfterLogout(shared, instance, entry.token, entry.openid, 'at the end'),
  );
}

/**
 * Redis holds exactly the sessions the players hold, and no logged-out one. A session nobody
 * holds is allowed only where a request that was not acknowledged may have left it: a logout
 * answered 503 and never 204 on retrying, or a login answered 503 (one record at most each).
 * Returns how many such orphans there are.
 */
export function checkRedis(shared: Shared, inRedis: SessionRecords, heldIds: ReadonlySet<string>, logins503: number): number {
  const { violations } = shared;
  const loggedOutIds = new Set(shared.loggedOut.map((entry) => idOf(entry.token)));
  let orphanBudget = logins503;
  let orphans = 0;
  for (const id of inRedis.ids) {
    if (heldIds.has(id)) continue;
    if (!loggedOutIds.has(id) && shared.abandoned.has(id)) orphans += 1;
    else if (!loggedOutIds.has(id) && orphanBudget > 0) {
      orphanBudget -= 1;
      orphans += 1;
    } else violations.add(CHECK.afterLogout, `Redis holds session ${shortId(id)} that no player holds`);
  }
  for (const id of heldIds) {
    if (!inRedis.ids.has(id)) violations.add(CHECK.lostWrites, `a player holds session ${shortId(id)} that Redis does not`);
  }
  for (const id of loggedOutIds) {
    if (inRedis.ids.has(id)) violations.add(CHECK.afterLogout, `Redis still holds logged-out session ${shortId(id)}`);
  }
  return orphans;
}

/**
 * Every code the mock redeemed was a login or a refresh (or a login or an X-WX-Code retry
 * answered 503, or never answered, after its code was redeemed), and all were answered 0.
 * Returns the check's detail.
 */
export function checkAccounting(shared: Shared, tally: MockTally, codes503: number): string {
  const { counts } = shared;
  const redeemed = counts.logins + counts.refreshes + counts.unexpectedRefreshes;
  const unanswered = shared.codeRequestsUnanswered.count;
  const detail =
    `${tally.code2Session} code2Session calls (${tally.code2SessionErrors} not answered 0); ${counts.logins} logins + ${counts.refreshes} refreshes` +
    (counts.unexpectedRefreshes ? ` + ${counts.unexpectedRefreshes} refreshes after a 401 WX_SESSION_KEY_EXPIRED with no rotation pending` : '') +
    ` = ${redeemed}` +
    (codes503 > 0 ? ` (+ at most ${codes503} logins/X-WX-Code retries answered 503)` : '') +
    (unanswered > 0 ? ` (+ at most ${unanswered} never answered)` : '');
  if (tally.code2Session < redeemed || tally.code2Session > redeemed + codes503 + unanswered || tally.code2SessionErrors > 0) shared.violations.add(CHECK.accounting, detail);
  return detail;
}
