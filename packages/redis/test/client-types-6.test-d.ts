// node-redis 6 (the devDependency `redis6`) against the same structural client type as 5 in
// client-types.test-d.ts: an app on either major compiles unchanged.
import type { RedisClientLike } from '@kv-session/redis';
import * as v6 from 'redis6';
import { expectTypeOf, it } from 'vitest';

it('StorageRedisKV takes node-redis 6 clients of every kind', () => {
  const kinds = {
    resp2: v6.createClient(),
    resp3Cached: v6.createClient({ RESP: 3, clientSideCache: { maxEntries: 10 } }),
    buffers: v6.createClient().withTypeMapping({ [v6.RESP_TYPES.BLOB_STRING]: Buffer }),
    cluster: v6.createCluster({ rootNodes: [] }),
    sentinel: v6.createSentinel({ name: 'm', sentinelRootNodes: [] }),
  };
  expectTypeOf(kinds.resp2).toExtend<RedisClientLike>();
  expectTypeOf(kinds.resp3Cached).toExtend<RedisClientLike>();
  expectTypeOf(kinds.buffers).toExtend<RedisClientLike>();
  expectTypeOf(kinds.cluster).toExtend<RedisClientLike>();
  expectTypeOf(kinds.sentinel).toExtend<RedisClientLike>();
});
