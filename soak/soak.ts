// The soak test: many simulated mini-game players against two app instances that share one
// Redis, for a bounded time, with the mock WeChat rotating session_keys and expiring access
// tokens underneath them, and the players buying items while -1s and timeouts hit WeChat's pay.
// `runSoak(options)` returns a SoakReport (soak/report.ts); soak/run.ts (`npm run soak`) runs it
// for minutes, test/soak.test.ts for seconds.
//
// Topology: this process hosts the players (soak/player.ts); the mock WeChat (soak/mock-process.ts,
// driven over IPC), a private redis-server or, with `redis: 'cluster'`, a private Redis Cluster of
// 3 masters with a replica each (soak/backend.ts), and two app processes (harness/instance.ts: the
// Express example's routes on a RedisStore, checking the session_key on every request) run as
// children (soak/processes.ts). On the Cluster a master is killed mid-run (soak/failover.ts).
//
// The run: a few warm-up players first, then the players for `seconds`, while the driver expires
// every access token a few times (the instances must fetch a new one) and samples the current
// token, so the secrets check knows every token that existed. Afterwards, with the players
// stopped, the end checks (soak/end-state.ts), then the report (soak/verdict.ts), whose last check
// searches everything captured for every session_key the mock issued, every access token, the
// AppSecret, the payment AppKeys and the signing secret. The report never contains a secret: it
// names kinds and places, not values.
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SecretScanner } from '../harness/secret-scan.js';
import { startBackend, type Backend } from './backend.js';
import { PAY_FAULT_EVERY_MS, PREFIX, REQUEST_TIMEOUT_MS, resolveOptions, WARM_UP_MS, WARM_UP_PLAYERS, WECHAT_TIMEOUT_MS, type SoakOptions, type SoakSettings } from './config.js';
import { checkAccounting, checkEndState, checkRedis } from './end-state.js';
import { Failover, judgeStore503s } from './failover.js';
import { PaymentLedger } from './payments.js';
import { Player } from './player.js';
import { startInstances, startMockProcess, type Instance, type MockControl } from './processes.js';
import { Recorder, send, type SecretKind } from './recorder.js';
import type { SoakReport } from './report.js';
import { idOf, newCounts, type Shared } from './shared.js';
import { buildReport, type Outcome } from './verdict.js';
import { CHECK, Violations } from './violations.js';

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const run = new SoakRun(resolveOptions(options), options);
  try {
    return await run.run();
  } finally {
    await run.stop();
  }
}

/** What the load phase leaves for the end checks. */
type LoadResult = Pick<Outcome, 'durationSeconds' | 'requests' | 'tally' | 'health'> & { players: Player[]; started: number; failover?: Failover };

/** One run: its rig, its background timers, and the phases in order. */
class SoakRun {
  readonly #settings: SoakSettings;
  readonly #options: SoakOptions;
  readonly #ownOutput: string[] = [];
  readonly #abort = new AbortController();
  readonly #onAbort = () => this.#abort.abort();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly #signingSecret = randomBytes(32).toString('base64url');
  readonly #secrets = new SecretScanner<SecretKind>();
  readonly #accessTokens = new Set<string>();
  /** Failures of the rig's own background work (the mock's IPC, the failover): the soak cannot be trusted then. */
  readonly #rigErrors: string[] = [];
  #tokenExpiries = 0;
  #backend: Backend | undefined;
  #mock: MockControl | undefined;
  #instances: Instance[] = [];

  constructor(settings: SoakSettings, options: SoakOptions) {
    this.#settings = settings;
    this.#options = options;
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (options.signal?.aborted) this.#abort.abort();
  }

  /** Progress lines: to options.log, and kept to be searched for secrets. */
  #log(line: string): void {
    this.#ownOutput.push(line);
    this.#options.log?.(line);
  }

  #throwIfAborted(): void {
    if (this.#abort.signal.aborted) throw new Error('soak: aborted');
  }

  /** Runs `work` in the background; a failure makes the run fail at the end of the load phase. */
  #background(work: Promise<unknown>): void {
    work.catch((error: unknown) => this.#rigErrors.push(String((error as Error)?.message ?? error)));
  }

  async run(): Promise<SoakReport> {
    const shared = await this.#start();
    await this.#warmUp(shared);
    const load = await this.#load(shared);
    return this.#check(shared, load);
  }

  /** Redis, the mock and the instances; the shared state of the players; the secrets known so far. */
  async #start(): Promise<Shared> {
    const { clients, seconds, topology } = this.#settings;
    const backend = (this.#backend = await startBackend(topology));
    const mock = (this.#mock = await startMockProcess());
    this.#instances = await startInstances({
      ...backend.env,
      MOCK_URL: mock.url,
      WX_APPID: mock.appId,
      WX_APPSECRET: mock.appSecret,
      WX_SESSION_SECRET: this.#signingSecret,
      PREFIX,
      CHECK_INTERVAL: '0', // every request checks its session_key: a rotation is seen at once
      // The library's default: the instance program's 1 s is meant for the fault tests, and on a
      // saturated machine the mock may answer later than that (504s and fail-open checks from the rig).
      WX_TIMEOUT: String(WECHAT_TIMEOUT_MS),
      WX_OFFER_ID: mock.payment.offerId,
      WX_PAY_APPKEY: mock.payment.appKey,
      WX_PAY_SANDBOX_APPKEY: mock.payment.sandboxAppKey,
    });
    this.#throwIfAborted();
    this.#secrets.add(mock.appSecret, 'AppSecret');
    this.#secrets.add(this.#signingSecret, 'signing secret');
    for (const key of [mock.payment.appKey, mock.payment.sandboxAppKey]) this.#secrets.add(key, 'AppKey');
    const shared: Shared = {
      mock,
      instances: this.#instances,
      recorder: new Recorder(),
      violations: new Violations(),
      secrets: this.#secrets,
      loggedOut: [],
      counts: newCounts(),
      store503s: [],
      abandoned: new Set(),
      logoutsRetried: { count: 0 },
      codeRequestsUnanswered: { count: 0 },
      payments: new PaymentLedger(mock),
    };
    this.#log(`soak: ${clients} players, ${seconds} s, instances ${this.#instances.map((i) => `${i.name} ${i.url}`).join(', ')}, ${backend.describe}`);
    // From now on every access token is sampled, and answers are searched as they age (in small
    // slices, so no scan holds up the players for long).
    this.#timers.push(setInterval(() => this.#background(this.#sampleToken()), 50));
    this.#timers.push(setInterval(() => shared.recorder.scan(this.#secrets, Date.now() - 1000), 250));
    return shared;
  }

  async #sampleToken(): Promise<void> {
    const token = await this.#mock!.call({ op: 'currentAccessToken' });
    if (token && !this.#accessTokens.has(token)) {
      this.#accessTokens.add(token);
      this.#secrets.add(token, 'access_token');
    }
  }

  /** A few players, checked like the others but not counted, then logged out. */
  async #warmUp(shared: Shared): Promise<void> {
    const { clients, seconds, mix, thinkMs } = this.#settings;
    shared.recorder.capturing = false;
    const warmShared: Shared = { ...shared, counts: newCounts() };
    const warmers = Array.from({ length: WARM_UP_PLAYERS }, (_, index) => new Player(`oWarm${String(index).padStart(6, '0')}${randomBytes(9).toString('base64url')}`, clients + index, warmShared));
    const deadline = Date.now() + Math.min(WARM_UP_MS, (seconds * 1000) / 5);
    await Promise.all(warmers.map((player) => player.run(deadline, mix, thinkMs, this.#abort.signal)));
    await Promise.all(warmers.filter((player) => player.client.token() !== undefined).map((player) => player.logout()));
    this.#throwIfAborted();
    await shared.mock.call({ op: 'tally', reset: true }); // the load phase's accounting starts from zero
    shared.recorder.capturing = true;
    this.#log(`soak: warmed up (${warmers.length} players, ${Object.values(warmShared.counts.operations).reduce((a, b) => a + b, 0)} operations); load phase`);
  }

  /** The players for `seconds`, with the token expiries, the health probes and (on a Cluster) the kill. */
  async #load(shared: Shared): Promise<LoadResult> {
    const { clients, seconds, mix, thinkMs } = this.#settings;
    const { recorder, violations } = shared;
    const players = Array.from({ length: clients }, (_, index) => new Player(`oSoak${String(index).padStart(6, '0')}${randomBytes(9).toString('base64url')}`, index, shared));
    this.#loopDelay.enable();
    const started = Date.now();
    violations.started = started;
    recorder.started = started;
    const health = this.#startLoadTimers(shared, started);
    const cluster = this.#backend!.cluster;
    const failover = cluster ? new Failover(cluster, this.#settings, shared.mock.appId, started, (line) => this.#log(line)) : undefined;
    failover?.schedule(this.#timers, this.#rigErrors, this.#abort.signal);

    await Promise.all(players.map((player) => player.run(started + seconds * 1000, mix, thinkMs, this.#abort.signal)));
    const durationSeconds = (Date.now() - started) / 1000;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    // The checks after this run on a healthy cluster: the failover (and the rejoin) finish first.
    await failover?.settled();
    this.#loopDelay.disable();
    await this.#sampleToken();
    const tally = await shared.mock.call({ op: 'tally' });
    this.#throwIfAborted();
    if (this.#rigErrors.length > 0) throw new Error(`soak: the rig failed: ${this.#rigErrors.slice(0, 3).join('; ')}`);
    recorder.capturing = false; // the checks after this are not load
    this.#log(`soak: load phase over after ${durationSeconds.toFixed(1)} s, ${recorder.requests} requests; checking`);
    return { players, started, durationSeconds, requests: recorder.requests, tally, health, ...(failover ? { failover } : {}) };
  }

  /** GET /health on each instance every 250 ms, the access token expiries, a progress line every 10 s. Returns the health latencies. */
  #startLoadTimers(shared: Shared, started: number): Record<string, number[]> {
    const { recorder, violations } = shared;
    const health: Record<string, number[]> = Object.fromEntries(this.#instances.map((instance) => [instance.name, []]));
    const probe = () => {
      for (const instance of this.#instances) {
        const sent = performance.now();
        send(`${instance.url}/health`, { method: 'GET', headers: {} }).then(
          () => health[instance.name]!.push(performance.now() - sent),
          () => health[instance.name]!.push(REQUEST_TIMEOUT_MS),
        );
      }
    };
    const expire = async () => {
      await this.#sampleToken();
      await shared.mock.call({ op: 'expireAccessTokens' });
      this.#tokenExpiries += 1;
    };
    const progress = () => {
      const elapsed = (Date.now() - started) / 1000;
      const total = [...violations.counts.values()].reduce((a, b) => a + b, 0);
      this.#log(`soak: ${elapsed.toFixed(0)} s, ${recorder.requests} requests (${(recorder.requests / elapsed).toFixed(0)}/s), ${total === 0 ? 'no violations so far' : `${total} violations so far`}`);
    };
    this.#timers.push(setInterval(probe, 250), setInterval(() => this.#background(expire()), this.#settings.expireTokensEveryMs), setInterval(progress, 10_000));
    // Faults on WeChat's pay until the deadline only, so the players' last buys end soon after it.
    const faults = setInterval(() => this.#background(shared.payments.injectFault()), PAY_FAULT_EVERY_MS);
    const stopFaults = () => {
      clearInterval(faults);
      this.#background(shared.payments.stopFaults());
    };
    this.#timers.push(faults, setTimeout(stopFaults, started + this.#settings.seconds * 1000 - Date.now()));
    return health;
  }

  /** The end checks, the instances stopped (their output is complete once they exited), the report. */
  async #check(shared: Shared, load: LoadResult): Promise<SoakReport> {
    await sleep(100); // the last announcements reach both instances
    const held = load.players.filter((player) => player.client.token() !== undefined);
    await checkEndState(shared, held);
    const { codes503, logins503 } = judgeStore503s(shared.store503s, shared.violations, load.started, load.failover);
    const inRedis = await this.#backend!.sessions();
    const heldIds = new Set(held.map((player) => idOf(player.client.token()!)));
    const orphans = checkRedis(shared, inRedis, heldIds, logins503);
    const accounting = checkAccounting(shared, load.tally, codes503);
    const payments = await shared.payments.check(shared, load.tally);
    const failover = load.failover?.finish(shared, this.#instances, shared.recorder, orphans);
    const exits = await Promise.all(this.#instances.map((instance) => instance.stop()));
    exits.forEach((code, index) => {
      if (code !== 0) shared.violations.add(CHECK.shutdown, `instance ${this.#instances[index]!.name} exited with ${code}`);
    });
    const outcome: Outcome = {
      settings: this.#settings,
      shared,
      durationSeconds: load.durationSeconds,
      requests: load.requests,
      tally: load.tally,
      tokenExpiries: this.#tokenExpiries,
      accessTokens: this.#accessTokens.size,
      loopDelay: this.#loopDelay,
      health: load.health,
      heldIds,
      inRedis,
      orphans,
      accounting,
      payments,
      exits,
      ...(failover ? { cluster: { ports: this.#backend!.cluster!.nodes.map((node) => node.port), failover } } : {}),
    };
    const report = buildReport(outcome, this.#ownOutput);
    this.#log(`soak: ${report.ok ? 'all checks passed' : 'CHECKS FAILED'}`);
    return report;
  }

  /** Stops everything the run started, whatever happened. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#loopDelay.disable();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    await Promise.all(this.#instances.map((instance) => instance.stop()));
    await this.#backend?.stop();
    await this.#mock?.close();
  }
}
