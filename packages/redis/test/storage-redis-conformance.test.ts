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
import { IOREDIS_SUITES, type TestClient } from './clients.js';
import { quiet } from './helpers.js';

let server: RedisServer;
let cluster: RedisCluster;
let sentinel: RedisSentinel;
let client: ReturnType<typeof createClient>;
const cachedClientFor = (url: string) =>
  createClient({ url, RESP: 3, clientSideCache: { maxEntries: 10_000 } });

let cachedClient: ReturnType<typeof cachedClientFor>;
let clusterClient: ReturnType<typeof createCluster>;
const cachedClusterFor = (rootNodes: { url: string }[]) =>
  createCluster({ rootNodes, RESP: 3, clientSideCache: { maxEntries: 10_000 } });
let cachedClusterClient: ReturnType<typeof cachedClusterFor>;
let sentinelClient: ReturnType<typeof createSentinel>;
const cachedSentinelFor = (name: string, port: number) =>
  createSentinel({
    name,
    sentinelRootNodes: [{ host: '127.0.0.1', port }],
    RESP: 3,
    clientSideCache: { maxEntries: 10_000 },
  });
let cachedSentinelClient: ReturnType<typeof cachedSentinelFor>;
/** The clients of IOREDIS_SUITES, in its order. */
let ioredis: TestClient[] = [];

beforeAll(async () => {
  [server, cluster, sentinel] = await Promise.all([startRedis(), startRedisCluster(3), startRedisSentinel()]);
  client = createClient({ url: server.url });
  cachedClient = cachedClientFor(server.url);
  clusterClient = createCluster({ rootNodes: cluster.rootNodes });
  cachedClusterClient = cachedClusterFor(cluster.rootNodes);
  sentinelClient = createSentinel({
    name: sentinel.masterName,
    sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.sentinelPort }],
  });
  cachedSentinelClient = cachedSentinelFor(sentinel.masterName, sentinel.sentinelPort);
  for (const c of [
    client,
    cachedClient,
    clusterClient,
    cachedClusterClient,
    sentinelClient,
    cachedSentinelClient,
  ]) {
    quiet(c);
  }
  ioredis = await Promise.all(IOREDIS_SUITES.map((s) => s.connect(server.url, cluster.rootNodes)));
  await Promise.all([
    client.connect(),
    cachedClient.connect(),
    clusterClient.connect(),
    cachedClusterClient.connect(),
    sentinelClient.connect(),
    cachedSentinelClient.connect(),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([
    client?.close(),
    cachedClient?.close(),
    clusterClient?.close(),
    sentinelClient?.close(),
    ...ioredis.map((c) => c.close()),
  ]);
  await Promise.allSettled([server?.stop(), cluster?.stop(), sentinel?.stop()]);
});

runStorageTestSuite('StorageRedisKV (single node)', () => new StorageRedisKV({ client }));
runStorageTestSuite(
  'StorageRedisKV (single node, RESP3 client-side cache)',
  () => new StorageRedisKV({ client: cachedClient }),
);
runStorageTestSuite('StorageRedisKV (3-master Cluster)', () => new StorageRedisKV({ client: clusterClient }));
runStorageTestSuite(
  'StorageRedisKV (3-master Cluster, RESP3 client-side cache)',
  () => new StorageRedisKV({ client: cachedClusterClient }),
);
runStorageTestSuite('StorageRedisKV (Sentinel)', () => new StorageRedisKV({ client: sentinelClient }));
runStorageTestSuite(
  'StorageRedisKV (Sentinel, RESP3 client-side cache)',
  () => new StorageRedisKV({ client: cachedSentinelClient }),
);
IOREDIS_SUITES.forEach((suite, i) => {
  runStorageTestSuite(
    `StorageRedisKV (${suite.name})`,
    () => new StorageRedisKV({ client: ioredis[i]!.client }),
  );
});
