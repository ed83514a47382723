// After a logout: the old token tried straight on an instance until refused (within the
// cross-instance bound, right after the logout and again at the end), and a logout answered 503
// retried until it is answered 204. Both send the token themselves: the player's client forgot it.
import { setTimeout as sleep } from 'node:timers/promises';
import { LOGOUT_BOUND_MS, LOGOUT_RETRY_MS } from './config.js';
import type { Instance } from './processes.js';
import { errorCodeOf, isRecord, isStoreUnavailable, send, type Exchange } from './recorder.js';
import { deferStore503, type Shared } from './shared.js';
import { CHECK, shortId, who } from './violations.js';

/** One request to `instance` carrying `token`, recorded; rejects on a network error. */
export async function sendWithToken(shared: Shared, instance: Instance, request: { label: string; method: string; path: string; token: string }): Promise<Exchange> {
  const { label, method, path, token } = request;
  const sentAt = Date.now();
  const started = performance.now();
  const { answer, text } = await send(`${instance.url}${path}`, { method, headers: { 'X-WX-Session': token } });
  const code = errorCodeOf(answer.data);
  const ex: Exchange = { label, instance: instance.name, method, path, sentCode: false, token, status: answer.status, ...(code ? { errorCode: code } : {}), data: answer.data, ms: performance.now() - started, sentAt };
  shared.recorder.record(ex, text, answer.headers);
  return ex;
}

/**
 * Tries a logged-out token on `instance` until it is refused (401 WX_SESSION_EXPIRED); a
 * violation unless that happens within LOGOUT_BOUND_MS of the first try.
 */
export async function refusedAfterLogout(shared: Shared, instance: Instance, token: string, openid: string, phase = 'right after the logout'): Promise<void> {
  const first = Date.now();
  const where = `${who(openid)} logged-out token ${shortId(token)} on ${instance.name} ${phase}`;
  for (;;) {
    let ex: Exchange;
    try {
      ex = await sendWithToken(shared, instance, { label: 'logged-out token', method: 'GET', path: '/me', token });
    } catch (error) {
      shared.recorder.networkErrors += 1;
      shared.violations.add(CHECK.statuses, `logged-out token on ${instance.name}: network error ${String((error as Error).message)}`);
      return;
    }
    if (ex.status === 401 && ex.errorCode === 'WX_SESSION_EXPIRED') return;
    if (isStoreUnavailable(ex)) {
      // The store could not say: not a stale answer (judged against the failover window); ask again.
      // Answered 200 later than LOGOUT_BOUND_MS after the first try is still a violation.
      deferStore503(shared, ex, where);
      if (Date.now() - first > LOGOUT_RETRY_MS) return;
      await sleep(100);
      continue;
    }
    if (ex.status !== 200) {
      shared.violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
      return;
    }
    if (isRecord(ex.data) && ex.data.openid !== openid) shared.violations.add(CHECK.openid, `${where}: answered another openid`);
    if (Date.now() - first > LOGOUT_BOUND_MS) {
      shared.violations.add(CHECK.afterLogout, `${where}: still answered 200 ${Date.now() - first} ms after the first try`);
      return;
    }
    await sleep(50);
  }
}

/**
 * POST /wx/logout with `token` on a random instance until answered 204 (true); false when the
 * store stayed unavailable for LOGOUT_RETRY_MS, or on another answer (a violation).
 */
export async function retryLogout(shared: Shared, token: string, openid: string): Promise<boolean> {
  const { instances, recorder, violations } = shared;
  const giveUp = Date.now() + LOGOUT_RETRY_MS;
  while (Date.now() < giveUp) {
    await sleep(100);
    const instance = instances[Math.floor(Math.random() * instances.length)]!;
    const where = `${who(openid)} POST /wx/logout (retry after 503) on ${instance.name}`;
    let ex: Exchange;
    try {
      ex = await sendWithToken(shared, instance, { label: 'logout (retry after 503)', method: 'POST', path: '/wx/logout', token });
    } catch (error) {
      recorder.networkErrors += 1;
      violations.add(CHECK.statuses, `${where}: network error ${String((error as Error).message)}`);
      return false;
    }
    if (ex.status === 204) return true;
    if (isStoreUnavailable(ex)) {
      deferStore503(shared, ex, where);
      continue;
    }
    violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
    return false;
  }
  return false;
}
