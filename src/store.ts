// The session store contract. Stores are promise-based; the TTL is passed in, and the record
// carries `expiresAt` too, which the core checks, so a store that ignores TTL is still safe.
import type { TokenCache } from './wechat/access-token.js';

/** What a store keeps for one session. Treat it as immutable: the core writes new records. */
export interface SessionRecord {
  openid: string;
  unionid?: string;
  /** WeChat's session_key. Never sent to a client. */
  sessionKey: string;
  /** The app's own fields (`session.data`). */
  data: Record<string, unknown>;
  /** Decrypted user data from a login with encryptedData + iv. */
  userInfo?: Record<string, unknown>;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms; the core refuses the record from then on, whatever the store does. */
  expiresAt: number;
  /** Epoch ms when WeChat last confirmed the session_key (login, or checkSessionKey answering 0). */
  keyCheckedAt: number;
  /** True once WeChat answered 87009 for this key and it has not been refreshed yet. */
  keyStale?: boolean;
}

/**
 * Where sessions live. `get`, `set` and `destroy` are required; `touch` is recommended for
 * stores where rewriting the whole record is costly or racy.
 */
export interface SessionStore {
  /** Required. The record, or undefined when unknown or expired. */
  get(id: string): Promise<SessionRecord | undefined>;
  /** Required. Stores the record for `ttlMs` (its remaining lifetime: `expiresAt - now`). */
  set(id: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** Required. Forgets the session; destroying an unknown id is not an error. */
  destroy(id: string): Promise<void>;
  /**
   * Recommended. Extends the session to `ttlMs` from now: both the store's own TTL and the
   * record's `expiresAt` (which becomes `Date.now() + ttlMs`). An unknown id is a no-op. Used for
   * rolling renewal, so a renewal never overwrites data another request saved meanwhile.
   */
  touch?(id: string, ttlMs: number): Promise<void>;
  /**
   * Optional. A synchronous look-up that answers only when it can without I/O: the record,
   * null when the session certainly does not exist, undefined when it cannot tell (then the
   * core calls get). Lets an in-memory or cached store answer a request without deferring it.
   */
  peek?(id: string): SessionRecord | null | undefined;
  /**
   * Optional. A place to share the WeChat access token between instances (RedisStore has one);
   * without it each process keeps its own.
   */
  readonly accessTokens?: TokenCache;
}
