import { StorageRedisKV } from '@kv-session/redis';
import { runStorageTestSuite } from '@kv-session/test-suite';
import {
  type RedisCluster,
  type RedisSentinel,
  type RedisServer,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '@kv-session/testing';
import { createClient, createCluster, createSentinel } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { quiet } from './helpers.js';

let server: RedisServer;
let cluster: RedisCluster;
let sentinel: RedisSentinel;
let client: ReturnType<typeof createClient>;
const cachedClientFor = (url: string) =>
  createClient({ url, RESP: 3, clientSideCache: { maxEntries: 10_000 } });

let cachedClient: ReturnType<typeof cachedClientFor>;
let clusterClient: ReturnType<typeof createCluster>;
let sentinelClient: ReturnType<typeof createSentinel>;

beforeAll(async () => {
  [server, cluster, sentinel] = await Promise.all([startRedis(), startRedisCluster(3), startRedisSentinel()]);
  client = createClient({ url: server.url });
  cachedClient = cachedClientFor(server.url);
  clusterClient = createCluster({ rootNodes: cluster.rootNodes });
  sentinelClient = createSentinel({
    name: sentinel.masterName,
    sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.sentinelPort }],
  });
  for (const c of [client, cachedClient, clusterClient, sentinelClient]) quiet(c);
  await Promise.all([
    client.connect(),
    cachedClient.connect(),
    clusterClient.connect(),
    sentinelClient.connect(),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([
    client?.close(),
    cachedClient?.close(),
    clusterClient?.close(),
    sentinelClient?.close(),
  ]);
  await Promise.allSettled([server?.stop(), cluster?.stop(), sentinel?.stop()]);
});

runStorageTestSuite('StorageRedisKV (single node)', () => new StorageRedisKV({ client }));
runStorageTestSuite(
  'StorageRedisKV (single node, RESP3 client-side cache)',
  () => new StorageRedisKV({ client: cachedClient }),
);
runStorageTestSuite('StorageRedisKV (3-master Cluster)', () => new StorageRedisKV({ client: clusterClient }));
runStorageTestSuite('StorageRedisKV (Sentinel)', () => new StorageRedisKV({ client: sentinelClient }));
