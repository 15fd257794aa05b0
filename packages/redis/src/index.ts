export type { RedisClientLike, ScriptCallOptions } from './client.js';
export type { StorageRedisKVOptions } from './options.js';
export { StorageRedisKV } from './storage-redis.js';
