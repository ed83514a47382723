// How a RedisStore writes a session record (JSON, `expiresAt` first) and the Lua steps it runs on
// one key at a time (on a Cluster the user key and the session keys may sit in different slots, so
// nothing here spans keys).
import type { SessionRecord } from '../store.js';

// Moves `expiresAt` (always the first field, see encode) and the key's TTL in one step; answers
// the new record, 0 when there is none, -1 when it was not written by encode().
export const TOUCH = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n, c = string.gsub(v, '^{"expiresAt":%d+', '{"expiresAt":' .. ARGV[2], 1)
if c == 0 then return -1 end
redis.call('SET', KEYS[1], n, 'PX', ARGV[1])
return n`;

// Deletes the record, answering what it held (GETDEL, also on Redis < 6.2).
export const TAKE = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

// Lists a session under its user, and keeps the user's key at least as long as the session.
export const INDEX = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local t = redis.call('PTTL', KEYS[1])
if t < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`;

export function encode(record: SessionRecord): string {
  // expiresAt first, so the TOUCH script can move it without decoding the JSON.
  const { expiresAt, ...rest } = record;
  return JSON.stringify({ expiresAt, ...rest });
}

export function decode(json: unknown): SessionRecord | undefined {
  if (typeof json !== 'string') return undefined;
  try {
    const record = JSON.parse(json) as SessionRecord;
    return record && typeof record === 'object' ? record : undefined;
  } catch {
    return undefined; // not ours, or damaged: as good as absent
  }
}
