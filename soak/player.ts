// One simulated player: a WeChat user (its own openid) running the real wx-session/client on a
// fake device (soak/device.ts), doing operations one after another until the deadline, each
// picked at random by weight:
//   read    GET /me: the answer's openid is the player's, its data the last acknowledged write;
//   write   POST /me/score with an ever larger score; acknowledged when answered 200 with it;
//   rotate  the mock gives the user a new session_key; the next request must get 401
//           WX_SESSION_KEY_EXPIRED, retry with X-WX-Code and be answered 200 with the same token;
//   logout  client.logout(), then the old token is tried on both instances (soak/logout.ts);
//   buy     GET /me/balance, then POST /me/buy, retried with the same billNo after a 5xx (soak/payments.ts).
// Each answer is checked as it comes; a 503 WX_STORE_UNAVAILABLE is kept to be judged against
// the failover window at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import { createSessionClient, type SessionClient } from '../src/client/index.js';
import { BALANCER, RAMP_UP_MS, ROTATION_GRACE, SCORE_SPACE, type OpKind } from './config.js';
import { deviceWx } from './device.js';
import { refusedAfterLogout, retryLogout } from './logout.js';
import { buy, isDuplicate, isPayFailure } from './payments.js';
import { isRecord, isStoreUnavailable, type Exchange } from './recorder.js';
import { deferStore503, idOf, type Shared } from './shared.js';
import { CHECK, who } from './violations.js';

const KINDS = ['read', 'write', 'rotate', 'logout', 'buy'] as const;

/** A session_key rotated at the mock and not yet repaired by an X-WX-Code retry. */
interface PendingRotation {
  /** The player's token when it was rotated: the refresh must keep it. */
  token: string | undefined;
  /** Requests since (503s not counted). */
  since: number;
  /** An X-WX-Code retry for it was answered 503: it may have saved the new session_key anyway. */
  repairUncertain: boolean;
  /** What the requests since were answered (for the violation's example). */
  log: string[];
}

export class Player {
  readonly openid: string;
  readonly number: number;
  readonly client: SessionClient;
  readonly #shared: Shared;
  /** The exchanges of the operation under way. */
  #exchanges: Exchange[] = [];
  /** Score of the last write answered 200 on the current session; undefined: none yet. */
  lastAck: number | undefined;
  /**
   * Writes since the last acknowledged one whose outcome is unknown (they failed, e.g. 503 during
   * a failover): the server may hold any of them, or the last ack. Oldest first.
   */
  uncertain: number[] = [];
  /** Scores are `player number * SCORE_SPACE + n`: a score from another player's range is that player's data. */
  readonly #scoreBase: number;
  #nextScore: number;
  #rotation: PendingRotation | undefined;
  /** The request under way sends a billNo again: 90012 means an earlier attempt was applied. */
  #buyRetry = false;

  constructor(openid: string, number: number, shared: Shared) {
    this.openid = openid;
    this.number = number;
    this.#shared = shared;
    this.#scoreBase = (number + 1) * SCORE_SPACE;
    this.#nextScore = this.#scoreBase + 1;
    this.client = createSessionClient({ baseUrl: BALANCER, wx: deviceWx(shared, openid, (exchange) => this.#exchanges.push(exchange)) });
  }

  /** This player's score range (see SCORE_SPACE). */
  get scoreRange(): number {
    return this.#scoreBase / SCORE_SPACE;
  }

  /** Runs operations until `deadline`. */
  async run(deadline: number, mix: Record<OpKind, number>, thinkMs: number, signal: AbortSignal): Promise<void> {
    await sleep(Math.random() * Math.min(RAMP_UP_MS, (deadline - Date.now()) / 10));
    while (Date.now() < deadline && !signal.aborted) {
      const op = this.#pick(mix);
      this.#shared.counts.operations[op] += 1;
      if (op === 'read') await this.read();
      else if (op === 'write') await this.write();
      else if (op === 'rotate') await this.rotate();
      else if (op === 'buy') await buy(this.#shared, this.#shared.payments, this);
      else await this.logout();
      if (thinkMs > 0) await sleep(Math.random() * thinkMs);
    }
    // A rotation left unrepaired at the deadline: give it its remaining requests now.
    while (this.#rotation && !signal.aborted) await this.read();
  }

  #pick(mix: Record<OpKind, number>): OpKind {
    let pick = Math.random() * KINDS.reduce((sum, kind) => sum + mix[kind], 0);
    let op: OpKind = 'read';
    for (const kind of KINDS) {
      if (pick < mix[kind]) {
        op = kind;
        break;
      }
      pick -= mix[kind];
    }
    // A rotation or a logout needs a session; without one, the read logs in first.
    if ((op === 'rotate' || op === 'logout') && !this.client.token()) return 'read';
    // While a rotation waits for its repair, requests only (a logout would hide the outcome).
    if (this.#rotation && (op === 'rotate' || op === 'logout')) return Math.random() < 0.5 ? 'read' : 'write';
    return op;
  }

  /**
   * Checks the exchanges of one client.request: each answer is one the protocol allows here,
   * logins answer this user's openid, and a pending rotation is repaired (same token).
   */
  #checkExchanges(what: string): void {
    const exchanges = this.#exchanges;
    this.#exchanges = [];
    this.#rotation?.log.push(exchanges.map((ex) => `${ex.method} ${ex.path}${ex.sentCode ? '+code' : ''} ${ex.instance} ${ex.status}${ex.errorCode ? ` ${ex.errorCode}` : ''}`).join(' > ') || 'network error');
    let storeDown = false;
    /** The X-WX-Code retries counted as the repair of the pending rotation. */
    const repairs = new Set<Exchange>();
    for (const [index, ex] of exchanges.entries()) {
      if (isStoreUnavailable(ex)) storeDown = true;
      this.#checkExchange(ex, exchanges, index, repairs, what);
    }
    // A request the store could not serve does not count towards the rotation's grace: it never
    // got as far as the session_key (or its repair could not be saved).
    const rotation = this.#rotation;
    if (rotation && !storeDown && ++rotation.since >= ROTATION_GRACE) {
      this.#shared.violations.add(CHECK.rotations, `${who(this.openid)}: no refresh within ${ROTATION_GRACE} requests after a session_key rotation: ${rotation.log.join(' | ')}`);
      this.#rotation = undefined;
    }
  }

  /** One answer of a client.request (`exchanges[index]`), judged with the ones around it. */
  #checkExchange(ex: Exchange, exchanges: readonly Exchange[], index: number, repairs: Set<Exchange>, what: string): void {
    const { violations, counts } = this.#shared;
    const where = `${who(this.openid)} ${ex.method} ${ex.path}${ex.sentCode ? ' (with X-WX-Code)' : ''} on ${ex.instance}`;
    const rotation = this.#rotation;
    // A buy failed by a fault injected on WeChat's pay (the payments check bounds how many); retried.
    if (isPayFailure(ex)) this.#shared.payments.failed(ex);
    if (isStoreUnavailable(ex)) {
      // Judged at the end against the failover window; the request was not acknowledged.
      if (ex.sentCode && rotation) rotation.repairUncertain = true;
      deferStore503(this.#shared, ex, where);
    } else if (ex.status >= 500 && !this.#routeAnswered(ex)) {
      violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
    } else if (ex.path === '/wx/login') {
      this.#checkLogin(ex, where);
    } else if (this.#routeAnswered(ex) && !ex.sentCode) {
      // Every request checks its session_key (CHECK_INTERVAL 0): once an X-WX-Code retry answered
      // 503 may have saved the new key, a request that got past it means it did. Repaired, though not acknowledged.
      if (rotation?.repairUncertain) {
        counts.rotationsRepairedUnacknowledged += 1;
        this.#rotation = undefined;
      }
    } else if (ex.status === 401 && ex.errorCode === 'WX_SESSION_KEY_EXPIRED' && !ex.sentCode && rotation) {
      // The retry is checked on its own.
      const retry = exchanges[index + 1];
      if (retry?.sentCode && this.#routeAnswered(retry) && retry.token === ex.token) {
        counts.refreshes += 1;
        repairs.add(retry);
        if (ex.token !== rotation.token) violations.add(CHECK.rotations, `${where}: the refresh used another token than the rotated session's`);
        if (rotation.since > 0) counts.rotationsRepairedLate += 1;
        this.#rotation = undefined;
      }
    } else if (this.#routeAnswered(ex) && ex.sentCode && exchanges[index - 1]?.status === 401 && exchanges[index - 1]?.errorCode === 'WX_SESSION_KEY_EXPIRED') {
      // Not the repair of a pending rotation (a violation is counted for the 401 before it): its
      // code was redeemed all the same.
      if (!repairs.has(ex)) counts.unexpectedRefreshes += 1;
    } else {
      violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''} during ${what}${rotation ? '' : ' (no rotation pending)'}`);
    }
  }

  /**
   * The request got past the session and its key check, and the route answered: 200, or a buy's
   * answer the payments allow (a 502/504 the injected faults explain, or 90012 on a retry).
   */
  #routeAnswered(ex: Exchange): boolean {
    return ex.status === 200 || isPayFailure(ex) || (ex.path === '/me/buy' && this.#buyRetry && isDuplicate(ex));
  }

  #checkLogin(ex: Exchange, where: string): void {
    if (ex.status !== 200 || !isRecord(ex.data) || typeof ex.data.token !== 'string') {
      this.#shared.violations.add(CHECK.statuses, `${where}: ${ex.status} ${ex.errorCode ?? ''}`);
      return;
    }
    if (ex.data.openid !== this.openid) this.#shared.violations.add(CHECK.openid, `${where}: login answered another openid`);
    this.#shared.counts.logins += 1;
    // A new session: its data starts empty.
    this.lastAck = undefined;
    this.uncertain = [];
  }

  /** The data a read should see: the last acknowledged write, or one of the uncertain ones after it. */
  #checkData(data: unknown, where: string): void {
    const expected = this.lastAck === undefined ? {} : { score: this.lastAck };
    const score = isRecord(data) ? data.score : undefined;
    if (typeof score === 'number' && this.uncertain.includes(score)) {
      // It landed: from now on it is what must be read (or a later uncertain one).
      this.lastAck = score;
      this.uncertain = this.uncertain.filter((later) => later > score);
      return;
    }
    if (JSON.stringify(data) === JSON.stringify(expected)) return;
    if (typeof score === 'number' && Math.floor(score / SCORE_SPACE) !== this.scoreRange) {
      this.#shared.violations.add(CHECK.openid, `${where}: read another player's data ${JSON.stringify(data)}`);
      return;
    }
    this.#shared.violations.add(
      CHECK.readYourWrites,
      `${where}: read ${JSON.stringify(data)}, last acknowledged ${JSON.stringify(expected)}${this.uncertain.length ? ` (not acknowledged since: ${this.uncertain.join(', ')})` : ''}`,
    );
  }

  async read(): Promise<void> {
    let res;
    try {
      res = await this.client.request<{ openid?: string; data?: unknown }>({ url: '/me' });
    } catch {
      this.#checkExchanges('a read'); // the network error is already counted
      return;
    }
    const last = this.#exchanges[this.#exchanges.length - 1];
    this.#checkExchanges('a read');
    if (res.statusCode !== 200) return;
    this.#shared.counts.reads += 1;
    const where = `${who(this.openid)} GET /me on ${last?.instance ?? '?'}`;
    if (!isRecord(res.data) || res.data.openid !== this.openid) {
      this.#shared.violations.add(CHECK.openid, `${where}: answered ${isRecord(res.data) && typeof res.data.openid === 'string' ? `openid ${who(res.data.openid)}` : 'no openid'}`);
      return;
    }
    this.#checkData(res.data.data, where);
  }

  async write(): Promise<void> {
    const score = this.#nextScore++;
    let res;
    try {
      res = await this.client.request<{ score?: number }>({ url: '/me/score', method: 'POST', data: { score } });
    } catch {
      this.#checkExchanges('a write'); // a login in it starts a new session: after it, then
      this.uncertain.push(score);
      return;
    }
    this.#checkExchanges('a write');
    if (res.statusCode === 200 && isRecord(res.data) && res.data.score === score) {
      this.lastAck = score;
      this.uncertain = [];
      this.#shared.counts.writes += 1;
    } else {
      this.uncertain.push(score);
      if (res.statusCode === 200) this.#shared.violations.add(CHECK.statuses, `${who(this.openid)} POST /me/score: 200 without the score sent`);
    }
  }

  /** A request of a buy (soak/payments.ts): undefined when it got no answer; its exchanges checked here. */
  async request(url: string, method: 'GET' | 'POST', data?: unknown, retry = false): Promise<{ statusCode: number; data: unknown } | undefined> {
    this.#buyRetry = retry;
    try {
      return await this.client.request({ url, method, ...(data === undefined ? {} : { data: data as Record<string, unknown> }) });
    } catch {
      return undefined; // the network error is already counted
    } finally {
      this.#checkExchanges(`a buy (${method} ${url.split('?')[0]})`);
      this.#buyRetry = false;
    }
  }

  async rotate(): Promise<void> {
    const key = await this.#shared.mock.call({ op: 'rotateSessionKey', openid: this.openid });
    this.#shared.secrets.add(key, 'session_key');
    this.#shared.counts.rotations += 1;
    this.#rotation = { token: this.client.token(), since: 0, repairUncertain: false, log: [] };
  }

  async logout(): Promise<void> {
    const shared = this.#shared;
    const token = this.client.token()!;
    await this.client.logout(); // never rejects; the exchange is checked below
    const ex = this.#exchanges.find((e) => e.path === '/wx/logout');
    this.#exchanges = [];
    this.lastAck = undefined;
    this.uncertain = [];
    if (ex && isStoreUnavailable(ex)) {
      // Not acknowledged: the player tries again until the logout is answered 204; only then must it be final.
      deferStore503(shared, ex, `${who(this.openid)} POST /wx/logout on ${ex.instance}`);
      shared.logoutsRetried.count += 1;
      if (!(await retryLogout(shared, token, this.openid))) {
        shared.abandoned.add(idOf(token));
        return;
      }
      shared.counts.logouts += 1;
    } else if (!ex || ex.status !== 204) {
      shared.violations.add(CHECK.statuses, `${who(this.openid)} POST /wx/logout: ${ex ? `${ex.status} ${ex.errorCode ?? ''}` : 'network error'}`);
    } else {
      shared.counts.logouts += 1;
    }
    shared.loggedOut.push({ token, openid: this.openid });
    await Promise.all(shared.instances.map((instance) => refusedAfterLogout(shared, instance, token, this.openid)));
  }
}
