// The shared access token in Redis (RedisStore's `accessTokens`, see createWxSession): one token
// per appId for every instance using this Redis, and the lock that lets one of them fetch it.
import { randomBytes } from 'node:crypto';
import type { TokenCache } from '../store.js';

// Deletes a key only while it still holds the given value (token renewal, lock release).
const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// The token and its remaining life in one round trip.
const TOKEN_WITH_TTL = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`;

/** How the token cache reaches Redis: the store's own reads and writes, each bounded by its timeout. */
export interface TokenRedis {
  /** Runs a read-only script on one key. */
  read(script: string, key: string): Promise<unknown>;
  /** One write of `key` (see RedisStore#write). */
  write(key: string, command: string, ...args: Array<string | number>): Promise<unknown>;
}

export function redisTokenCache(prefix: string, redis: TokenRedis): TokenCache {
  const key = (appId: string, what: string) => `${prefix}${what}:${appId}`;
  return {
    get: async (appId) => {
      const reply = (await redis.read(TOKEN_WITH_TTL, key(appId, 'token'))) as [string, number] | null;
      return reply ? { token: reply[0], ttlMs: Number(reply[1]) } : undefined;
    },
    set: async (appId, token, ttlMs) => {
      const at = key(appId, 'token');
      await redis.write(at, 'SET', at, token, 'PX', Math.max(1, Math.ceil(ttlMs)));
    },
    drop: async (appId, token) => {
      const at = key(appId, 'token');
      await redis.write(at, 'EVAL', DELETE_IF, 1, at, token);
    },
    lock: async (appId, name, ttlMs) => {
      const owner = randomBytes(8).toString('hex');
      const at = key(appId, `lock-${name}`);
      const ok = await redis.write(at, 'SET', at, owner, 'PX', Math.ceil(ttlMs), 'NX');
      if (ok !== 'OK') return undefined;
      return async () => {
        await redis.write(at, 'EVAL', DELETE_IF, 1, at, owner);
      };
    },
  };
}
