export { freeClusterPort, freePort } from './free-port.js';
export {
  type RedisCluster,
  type RedisClusterOptions,
  type RedisSentinel,
  type RedisSentinelOptions,
  type RedisServer,
  type RedisServerOptions,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from './redis-server.js';
