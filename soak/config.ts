// The soak's options (what runSoak takes, validated once by resolveOptions) and the fixed timings
// of the rig, each with why it is what it is.

export type OpKind = 'read' | 'write' | 'rotate' | 'logout' | 'buy';
export type Topology = 'single' | 'cluster';
export type KillNode = 'most-sessions' | 'access-token';

export interface SoakOptions {
  /** Length of the load phase, in seconds. */
  seconds: number;
  /** Simulated players (each a distinct openid). */
  clients: number;
  /** Each player pauses a random 0..thinkMs ms between operations. @default 10 */
  thinkMs?: number;
  /** Relative weights of the operations. @default { read: 45, write: 35, rotate: 10, logout: 10, buy: 10 } */
  mix?: Partial<Record<OpKind, number>>;
  /** Every this many ms the mock expires all access tokens. @default a fifth of the run, at least 1000 */
  expireTokensEveryMs?: number;
  /** Progress lines (captured too, and searched for secrets). @default none */
  log?: (line: string) => void;
  /** Aborts the run: everything is stopped and runSoak rejects. */
  signal?: AbortSignal;
  /**
   * Where the instances' RedisStore runs: one redis-server, or a Redis Cluster of 3 masters with
   * one replica each (harness/cluster.ts), on which a master is killed mid-run. @default 'single'
   */
  redis?: Topology;
  /** Cluster: when to SIGKILL a master, in seconds into the load phase; false: never. @default a third of the run */
  killNodeAt?: number | false;
  /**
   * Cluster: which master to kill. Every master carries both instances' shard subscriptions (the
   * store subscribes on each master to the slots it serves; the report lists them), so any kill
   * also cuts subscriptions; the choice is about the keys:
   *   'most-sessions'  the master holding the most session records at that moment (ties: the one
   *                    holding the shared access token): the most players go through the failover;
   *   'access-token'   the master of the shared access token and its refresh locks.
   * @default 'most-sessions'
   */
  killNode?: KillNode;
  /**
   * Cluster: restart the killed node this many seconds after the failover window closed (the
   * cluster healthy again + FAILOVER_MARGIN_MS; so a 503 the rejoin causes is not excused), and it
   * rejoins as a replica. The default is longer than the store's timeout (1 s), so every request
   * that overlapped the window has been answered before the restart. false: never. @default 2
   */
  restartNodeAfter?: number | false;
}

/** The options with every default filled in. */
export interface SoakSettings {
  seconds: number;
  clients: number;
  thinkMs: number;
  mix: Record<OpKind, number>;
  expireTokensEveryMs: number;
  topology: Topology;
  /** Always false on a single Redis. */
  killNodeAt: number | false;
  killNode: KillNode;
  restartNodeAfter: number | false;
}

const DEFAULT_MIX: Record<OpKind, number> = { read: 45, write: 35, rotate: 10, logout: 10, buy: 10 };

/** The client's baseUrl; the fake wx.request swaps it for one instance's address. */
export const BALANCER = 'http://balancer.invalid';
/** Key prefix of the instances' RedisStore: sessions are `soak:<43-char id>`. */
export const PREFIX = 'soak:';
/** How long a logged-out token may still be served by the other instance (its cache, pub/sub). */
export const LOGOUT_BOUND_MS = 1000;
/**
 * A request not answered within this long is a failure (and must not hang the soak). A buy may
 * rightly wait for two WeChat calls at their full timeout (the key check, then a pay left
 * unanswered by a timeout fault), and during a failover for store calls at theirs: 10 s was met
 * by one such buy in CI. 20 s is that, with room, and still far below the length of a run.
 */
export const REQUEST_TIMEOUT_MS = 20_000;
/** After a rotation, this many requests may pass before the refresh must have happened. */
export const ROTATION_GRACE = 3;
/** The instances' `timeout` per WeChat call (the library's default). */
export const WECHAT_TIMEOUT_MS = 5000;
/** Players start spread over this long (at most a tenth of the run), not all at one instant. */
export const RAMP_UP_MS = 3000;
/** Before the clock starts, a few players warm the instances up (JIT), under the same checks, for up to a fifth of the run. */
export const WARM_UP_PLAYERS = 16;
export const WARM_UP_MS = 2000;
/** Each player's scores lie in its own range of this size. */
export const SCORE_SPACE = 10_000_000;
/**
 * Cluster: after the harness saw the cluster healthy again, requests may still answer 503 for this
 * long. The instances' Cluster clients re-read the slot map every 1000 ms (the instance program's
 * slotsRefreshInterval), so one may route a key to the dead master or find its slots unserved
 * until then; 500 ms more for timers firing late on a loaded machine. (A request's own wait, up to
 * the store's timeout, is covered by counting every request that overlaps the window.)
 */
export const FAILOVER_MARGIN_MS = 1500;
/** Cluster: `cluster-node-timeout` of the nodes (a dead master is failed over after roughly twice this). */
export const CLUSTER_NODE_TIMEOUT_MS = 1000;
/** Cluster: the failover, and the rejoin of the restarted node, must be done within this long (else the rig failed). */
export const CLUSTER_HEAL_WITHIN_MS = 30_000;
/** Each player's starting balance at the mock (zone '1', env 0): never runs out during a soak. */
export const START_BALANCE = 100_000_000;
/** The zone the players buy in (the test app's default zone). */
export const PAY_ZONE = '1';
/**
 * A buy answered 5xx or not at all is retried with the same billNo, 100 ms apart, for at most this
 * long: through a Cluster failover (503s for a few seconds) and a few injected timeouts (5 s each).
 */
export const BUY_RETRY_MS = 20_000;
/** How often the driver injects a fault on /wxa/game/pay (alternately -1 and a timeout). */
export const PAY_FAULT_EVERY_MS = 1500;
/** A logout answered 503 is retried (not acknowledged) for at most this long. */
export const LOGOUT_RETRY_MS = 15_000;

/** The options checked and completed; a TypeError says what is wrong. */
export function resolveOptions(options: SoakOptions): SoakSettings {
  const seconds = options.seconds;
  const clients = Math.round(options.clients);
  if (!(seconds > 0) || !(clients >= 1)) throw new TypeError('soak: seconds > 0 and clients >= 1 are required');
  const topology = options.redis ?? 'single';
  if (topology !== 'single' && topology !== 'cluster') throw new TypeError("soak: redis must be 'single' or 'cluster'");
  const killNodeAt = topology !== 'cluster' ? false : options.killNodeAt === undefined ? seconds / 3 : options.killNodeAt;
  const killNode = options.killNode ?? 'most-sessions';
  if (killNode !== 'most-sessions' && killNode !== 'access-token') throw new TypeError("soak: killNode must be 'most-sessions' or 'access-token'");
  const restartNodeAfter = options.restartNodeAfter === undefined ? 2 : options.restartNodeAfter;
  if (killNodeAt !== false && !(killNodeAt >= 0)) throw new TypeError('soak: killNodeAt must be a number of seconds >= 0, or false');
  if (restartNodeAfter !== false && !(restartNodeAfter >= 0)) throw new TypeError('soak: restartNodeAfter must be a number of seconds >= 0, or false');
  return {
    seconds,
    clients,
    thinkMs: options.thinkMs ?? 10,
    mix: { ...DEFAULT_MIX, ...options.mix },
    expireTokensEveryMs: options.expireTokensEveryMs ?? Math.max(1000, (seconds * 1000) / 5),
    topology,
    killNodeAt,
    killNode,
    restartNodeAfter,
  };
}
