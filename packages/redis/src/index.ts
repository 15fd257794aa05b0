export type { RedisClientLike, ScriptCallOptions } from './client.js';
export type { IoredisClientLike } from './driver-ioredis.js';
export type { StorageRedisKVOptions } from './options.js';
export { MOVED_MARKER } from './script.js';
export { StorageRedisKV } from './storage-redis.js';
export {
  ENCODED_FIELD_PREFIX,
  HASH_MARKER_FIELD,
  type RedisHashClientLike,
  StorageRedisHash,
  type StorageRedisHashOptions,
} from './storage-redis-hash.js';
