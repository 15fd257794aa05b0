import type {
  IoredisClientLike,
  RedisClientLike,
  StorageRedisHashOptions,
  StorageRedisKVOptions,
} from '@kv-session/redis';
import type { Cluster, Redis } from 'ioredis';
import type { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { createClient, createCluster, createSentinel, RESP_TYPES } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';

describe('the Redis storages take every node-redis and ioredis client kind, structurally', () => {
  it('createClient (RESP2, RESP3 with client-side cache, Buffer type mapping)', () => {
    expectTypeOf(createClient()).toExtend<RedisClientLike>();
    expectTypeOf(createClient({ RESP: 3, clientSideCache: { maxEntries: 10 } })).toExtend<RedisClientLike>();
    expectTypeOf(
      createClient().withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }),
    ).toExtend<RedisClientLike>();
  });

  it('createCluster and createSentinel', () => {
    expectTypeOf(createCluster({ rootNodes: [] })).toExtend<RedisClientLike>();
    expectTypeOf(createSentinel({ name: 'm', sentinelRootNodes: [] })).toExtend<RedisClientLike>();
  });

  it('ioredis Redis and Cluster, ioredis 6 and 5, for both storages', () => {
    expectTypeOf<Redis>().toExtend<IoredisClientLike>();
    expectTypeOf<Cluster>().toExtend<IoredisClientLike>();
    expectTypeOf<Redis5>().toExtend<IoredisClientLike>();
    expectTypeOf<Cluster5>().toExtend<IoredisClientLike>();
    expectTypeOf<Redis>().toExtend<StorageRedisKVOptions['client']>();
    expectTypeOf<Cluster5>().toExtend<StorageRedisHashOptions['client']>();
  });

  it('rejects what is not a client', () => {
    expectTypeOf<{ get(key: string): Promise<unknown> }>().not.toExtend<RedisClientLike>();
    expectTypeOf<{ status: string; get(key: string): Promise<unknown> }>().not.toExtend<IoredisClientLike>();
    expectTypeOf<StorageRedisKVOptions['prefix']>().toEqualTypeOf<string | undefined>();
  });
});
