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
  // bench/icount.js runs the server under valgrind, about 50 times slower: a longer command timeout.
  const commandTimeout = Number(process.env.BENCH_COMMAND_TIMEOUT ?? 0);
  const storage = new StorageRedisKV({ client, ...(commandTimeout > 0 ? { commandTimeout } : {}) });
  closers.push(async () => {
    await storage.close?.();
    await client.close();
  });
  return storage;
}
