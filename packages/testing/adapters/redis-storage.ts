// A private redis-server with a StorageRedisKV on it, for adapter tests that stop Redis on purpose.
import { StorageRedisKV } from '@kv-session/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type RedisServer, startRedis } from '../src/redis-server.js';

/** What {@link useRedisStorage} provides; the fields are set once `beforeAll` has run. */
export interface RedisStorageFixture {
  redis: RedisServer;
  client: ReturnType<typeof createClient>;
  /** StorageRedisKV with a 500 ms command timeout, so tests with Redis stopped fail fast. */
  storage: StorageRedisKV;
}

/**
 * Registers the hooks of the calling test file: a private redis-server and a connected client
 * before all tests (the client tolerates the server being stopped), `FLUSHALL` before each test,
 * and both closed after all.
 */
export function useRedisStorage(): RedisStorageFixture {
  const fx = {} as RedisStorageFixture;
  beforeAll(async () => {
    fx.redis = await startRedis();
    fx.client = createClient({ url: fx.redis.url, socket: { reconnectStrategy: 50 } });
    fx.client.on('error', () => {}); // expected while the server is stopped in the 503 tests
    await fx.client.connect();
    fx.storage = new StorageRedisKV({ client: fx.client, commandTimeoutMs: 500 });
  });
  afterAll(async () => {
    await fx.client?.close();
    await fx.redis?.stop();
  });
  beforeEach(async () => {
    await fx.redis.cli('FLUSHALL');
  });
  return fx;
}
