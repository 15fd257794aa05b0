import type { RedisClientLike, StorageRedisKVOptions } from '@kv-session/redis';
import { createClient, createCluster, createSentinel, RESP_TYPES } from 'redis';
import { describe, expectTypeOf, it } from 'vitest';

describe('StorageRedisKV takes every node-redis client kind, structurally', () => {
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

  it('rejects what is not a client', () => {
    expectTypeOf<{ get(key: string): Promise<unknown> }>().not.toExtend<RedisClientLike>();
    expectTypeOf<StorageRedisKVOptions['prefix']>().toEqualTypeOf<string | undefined>();
  });
});
