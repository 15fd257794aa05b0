export { freePort } from './free-port.js';
export {
  type RedisCluster,
  type RedisSentinel,
  type RedisServer,
  type RedisServerOptions,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from './redis-server.js';
