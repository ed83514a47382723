// The session store contract. Stores are promise-based; the TTL is passed in, and the record
// carries `expiresAt` too, which the core checks, so a store that ignores TTL is still safe.

/** What a store keeps for one session. Treat it as immutable: the core writes new records. */
export interface SessionRecord {
  /** The app the session belongs to: a token is accepted only by a core serving this appId. */
  appId: string;
  /** The app's platform when the session was made (absent in records made before platforms: WeChat). */
  platform?: 'wechat' | 'douyin' | 'qq';
  /**
   * The player's id in the app: the openid, or for a Douyin guest (`anonymous`) the
   * anonymous_openid. Either way issued by the platform per app, and what the per-user cap counts.
   */
  openid: string;
  /** True for a Douyin guest session (logged in with an anonymous code): `openid` is the anonymous_openid. */
  anonymous?: true;
  unionid?: string;
  /**
   * WeChat's session_key, sealed by the core (AES-256-GCM, `wxs1.` + key id + ciphertext): a
   * store never sees the key itself. Opaque to stores; compare it as a whole.
   */
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
 * Where sessions live. `get`, `set` and `destroy` are required. `update` and `touch` make a
 * logout final under concurrent writes (testStore requires them); `limitSessions` gives the
 * per-user cap.
 */
export interface SessionStore {
  /** Required. The record, or undefined when unknown or expired. */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * Required. Creates (or replaces) the record for `ttlMs` (its remaining lifetime:
   * `expiresAt - now`). The core calls it only for a new session; changes go through `update`.
   */
  set(id: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** Required. Forgets the session; destroying an unknown id is not an error. */
  destroy(id: string): Promise<void>;
  /**
   * Replaces the record only while `id` still exists, in one step (Redis `SET ... XX`, SQL
   * `UPDATE ... WHERE id = ?`): a session destroyed meanwhile stays destroyed. Resolves true
   * when it wrote, false when the session was gone. A store without it gets a read-then-write
   * from the core, which a concurrent logout can undo, and one warning through `logger`.
   */
  update?(id: string, record: SessionRecord, ttlMs: number): Promise<boolean>;
  /**
   * Per-user cap: destroys the oldest sessions (by `createdAt`) of `openid` so that at most
   * `max` live ones remain, as `destroy` would. Resolves how many it destroyed. With `appId`
   * (the core always passes it), only that app's sessions of `openid` count and go: apps sharing
   * a store keep their caps apart; a store that ignores `appId` caps them together. A store
   * without the method gets no cap, and one warning through `logger` when the core is created.
   */
  limitSessions?(openid: string, max: number, appId?: string): Promise<number>;
  /**
   * Recommended. Extends the session to `ttlMs` from now: both the store's own TTL and the
   * record's `expiresAt` (which becomes now + `ttlMs`, by the store's clock). An unknown id is a
   * no-op (nothing is created, as with `update`). Used for rolling renewal, so a renewal never
   * overwrites data another request saved meanwhile.
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

/**
 * Where instances share one access token, so N servers make one stable_token call per token
 * lifetime, not N. RedisStore provides one as `store.accessTokens`.
 */
export interface TokenCache {
  /** The shared token and how long it is still to be used, if any. */
  get(appId: string): Promise<{ token: string; ttlMs: number } | undefined>;
  set(appId: string, token: string, ttlMs: number): Promise<void>;
  /** Forgets the shared token, only if it is still `token`. */
  drop(appId: string, token: string): Promise<void>;
  /** A lock that expires by itself after `ttlMs`; resolves to its release, or undefined when taken. */
  lock(appId: string, name: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}
