import { SessionManager } from '@kv-session/core';
import { StorageRedisHash } from '@kv-session/redis';
import { runStorageTestSuite } from '@kv-session/test-suite';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@kv-session/testing';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IOREDIS_SUITES, type TestClient } from './clients.js';

let server: RedisServer;
let client: ReturnType<typeof createClient>;
let cluster: RedisCluster;
let clusterClient: ReturnType<typeof createCluster>;
/** The clients of IOREDIS_SUITES, in its order. */
let ioredis: TestClient[] = [];

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  clusterClient = createCluster({ rootNodes: cluster.rootNodes });
  clusterClient.on('error', () => undefined);
  await Promise.all([client.connect(), clusterClient.connect()]);
  ioredis = await Promise.all(IOREDIS_SUITES.map((s) => s.connect(server.url, cluster.rootNodes)));
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

IOREDIS_SUITES.forEach((suite, i) => {
  runStorageTestSuite(
    `StorageRedisHash (${suite.name})`,
    () => new StorageRedisHash({ client: ioredis[i]!.client }),
  );
});

describe.each([
  ['node-redis', () => clusterClient],
  ['ioredis 6', () => ioredis[2]!.client], // IOREDIS_SUITES[2]: the Cluster
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
