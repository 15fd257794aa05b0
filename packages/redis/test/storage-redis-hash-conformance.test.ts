import { SessionManager } from '@kv-session/core';
import { StorageRedisHash } from '@kv-session/redis';
import { runStorageTestSuite } from '@kv-session/test-suite';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@kv-session/testing';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioredis5, ioredis6, type TestClient } from './clients.js';

let server: RedisServer;
let client: ReturnType<typeof createClient>;
let cluster: RedisCluster;
let clusterClient: ReturnType<typeof createCluster>;
/** ioredis 6 and 5 on the single node, ioredis 6 on the Cluster. */
let ioredis: TestClient[] = [];

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  clusterClient = createCluster({ rootNodes: cluster.rootNodes });
  clusterClient.on('error', () => undefined);
  await Promise.all([client.connect(), clusterClient.connect()]);
  ioredis = await Promise.all([
    ioredis6.single(server.url),
    ioredis5.single(server.url),
    ioredis6.cluster(cluster.rootNodes),
  ]);
});

afterAll(async () => {
  await Promise.all([client?.quit(), clusterClient?.quit(), ...ioredis.map((c) => c.close())]);
  await Promise.all([server?.stop(), cluster?.stop()]);
});

runStorageTestSuite('StorageRedisHash (single node)', () => new StorageRedisHash({ client }));
runStorageTestSuite(
  'StorageRedisHash (3-master Cluster)',
  () => new StorageRedisHash({ client: clusterClient }),
);
runStorageTestSuite(
  'StorageRedisHash (single node, ioredis 6)',
  () => new StorageRedisHash({ client: ioredis[0]!.client }),
);
runStorageTestSuite(
  'StorageRedisHash (single node, ioredis 5)',
  () => new StorageRedisHash({ client: ioredis[1]!.client }),
);
runStorageTestSuite(
  'StorageRedisHash (3-master Cluster, ioredis 6)',
  () => new StorageRedisHash({ client: ioredis[2]!.client }),
);

describe.each([
  ['node-redis', () => clusterClient],
  ['ioredis 6', () => ioredis[2]!.client],
])('StorageRedisHash through SessionManager on Cluster (%s)', (_name, clusterClient) => {
  it('per-key reads, concurrent writers of different keys and removal work across slots', async () => {
    const manager = new SessionManager({ storage: new StorageRedisHash({ client: clusterClient() }) });
    const cookies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = manager.session();
      await s.setMany({ n: i, big: 'x'.repeat(10_000) });
      cookies.push((await manager.commit(s)).setCookie!.split(';')[0]!);
    }
    for (const [i, cookie] of cookies.entries()) {
      const readers = Array.from({ length: 5 }, () => manager.session({ cookie }));
      expect(await Promise.all(readers.map((s) => s.get('n')))).toEqual([i, i, i, i, i]);
      await Promise.all(readers.map((s, j) => s.set(`w${j}`, j)));
      await Promise.all(readers.map((s) => manager.commit(s)));
      const data = await manager.session({ cookie }).data();
      expect(Object.keys(data).sort()).toEqual(['big', 'n', 'w0', 'w1', 'w2', 'w3', 'w4']);
    }
    const gone = manager.session({ cookie: cookies[0] });
    await gone.destroy();
    expect(await manager.session({ cookie: cookies[0] }).get('n')).toBeUndefined();
  });
});
