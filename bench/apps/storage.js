// The kv-session storage every kv-session stack uses: StorageRedisKV on a node-redis client.
import { createClient } from 'redis';

/**
 * A connected StorageRedisKV. With `clientSideCache`, the node-redis client runs RESP3 with
 * client-side caching (server-assisted invalidation), so repeated reads of a session can be
 * answered from memory.
 */
export async function kvStorage(redisUrl, clientSideCache, closers) {
  const { StorageRedisKV } = await import('@kv-session/redis');
  const client = clientSideCache
    ? createClient({
        url: redisUrl,
        RESP: 3,
        clientSideCache: { ttl: 0, maxEntries: 10_000, evictPolicy: 'LRU' },
      })
    : createClient({ url: redisUrl });
  client.on('error', (err) => console.error('[bench redis]', err));
  await client.connect();
  const storage = new StorageRedisKV({ client, ...slowdownOptions() });
  closers.push(async () => {
    await storage.close?.();
    await client.close();
  });
  return storage;
}

/**
 * StorageRedisKV options for a server that runs BENCH_SLOWDOWN times slower than usual
 * (bench/icount.js runs it under valgrind, about 50 times slower): a longer command timeout, and a
 * refresh interval stretched as much, so that the client-side cache's once-a-second expiry refresh
 * (a GETEX) comes as often per request as it does at full speed. Empty otherwise.
 */
export function slowdownOptions() {
  const slow = Number(process.env.BENCH_SLOWDOWN ?? 1);
  return slow > 1 ? { commandTimeout: 60_000, refreshInterval: 1000 * slow } : {};
}
