// The Redis client of the examples: node-redis by default, ioredis with REDIS_CLIENT=ioredis. The
// storages take either (recognised from the object); only the construction differs.
import { createClient } from 'redis';

/** Values of REDIS_CLIENT. */
export const REDIS_CLIENTS = ['node-redis', 'ioredis'];

/**
 * A client of `url` that is not connected yet, as `{ client, connect(), close() }`. The client
 * retries while `shouldRetry()` is true (backoff 50 ms doubling to `maxRetryDelayMs`); otherwise
 * `connect()` rejects when the first connection fails within `connectTimeoutMs`. `close()` quits a
 * ready client and drops one that is still (re)connecting.
 */
export async function createRedisClient(kind, url, connectTimeoutMs, maxRetryDelayMs, shouldRetry) {
  const delay = (retries) => (shouldRetry() ? Math.min(50 * 2 ** retries, maxRetryDelayMs) : false);
  if (kind === 'ioredis') {
    // Loaded only in this mode: ioredis is an optional peer dependency of @kv-session/redis.
    const { Redis } = await import('ioredis');
    const client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      retryStrategy: (times) => delay(times) || null,
    });
    return {
      client,
      connect: () => client.connect(),
      async close() {
        if (client.status === 'end') return;
        if (client.status === 'ready') await client.quit();
        else client.disconnect();
      },
    };
  }
  const client = createClient({
    url,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: delay },
  });
  return {
    client,
    connect: () => client.connect(),
    async close() {
      if (!client.isOpen) return;
      if (client.isReady) await client.close();
      else client.destroy();
    },
  };
}
