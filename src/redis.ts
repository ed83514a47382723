// wx-session/redis: sessions and the access token in Redis, shared by every instance.
export { RedisStore } from './stores/redis.js';
export type { RedisStoreOptions } from './stores/redis.js';
