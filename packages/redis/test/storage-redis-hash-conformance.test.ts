import { StorageRedisHash } from '@kv-session/redis';
import { runStorageTestSuite } from '@kv-session/test-suite';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@kv-session/testing';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll } from 'vitest';

let server: RedisServer;
let client: ReturnType<typeof createClient>;
let cluster: RedisCluster;
let clusterClient: ReturnType<typeof createCluster>;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  clusterClient = createCluster({ rootNodes: cluster.rootNodes });
  clusterClient.on('error', () => undefined);
  await Promise.all([client.connect(), clusterClient.connect()]);
});

afterAll(async () => {
  await Promise.all([client?.quit(), clusterClient?.quit()]);
  await Promise.all([server?.stop(), cluster?.stop()]);
});

runStorageTestSuite('StorageRedisHash (single node)', () => new StorageRedisHash({ client }));
runStorageTestSuite(
  'StorageRedisHash (3-master Cluster)',
  () => new StorageRedisHash({ client: clusterClient }),
);
