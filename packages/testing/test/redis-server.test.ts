import { createServer } from 'node:net';
import { freeClusterPort, startRedis, startRedisCluster, startRedisSentinel } from '@kv-session/testing';
import { afterAll, describe, expect, it } from 'vitest';

describe('private redis processes', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup) await c();
  });

  it('starts, counts commands, restarts', async () => {
    const r = await startRedis();
    cleanup.push(() => r.stop());
    await r.resetStats();
    await r.cli('SET', 'k', 'v');
    expect(await r.cli('GET', 'k')).toBe('v');
    const stats = await r.commandStats();
    expect(stats['set']).toBe(1);
    expect(stats['get']).toBe(1);
    await r.stop();
    await expect(r.cli('PING')).rejects.toThrow();
    await r.start();
    expect(await r.cli('PING')).toBe('PONG');
  });

  it('a cluster node port has a free bus port (+10000) at most 65535', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freeClusterPort();
      expect(port + 10_000).toBeLessThanOrEqual(65_535);
      const bus = createServer();
      await new Promise<void>((resolve, reject) => {
        bus.once('error', reject);
        bus.listen(port + 10_000, '127.0.0.1', () => resolve());
      });
      await new Promise((resolve) => bus.close(resolve));
    }
  });

  it('a server that cannot start (its port taken) fails at once, not after the 10 s wait', async () => {
    // A listener that accepts and never answers (its connections destroyed at the end).
    const taken = createServer((socket) => cleanup.push(async () => void socket.destroy()));
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const started = Date.now();
    await expect(startRedis({ port })).rejects.toThrow(/exited before it answered/);
    expect(Date.now() - started).toBeLessThan(5_000);
    taken.close();
  });

  it('starts a 3-master cluster', async () => {
    const c = await startRedisCluster(3);
    cleanup.push(() => c.stop());
    expect(c.nodes).toHaveLength(3);
    expect(await c.nodes[0]!.cli('CLUSTER', 'INFO')).toContain('cluster_size:3');
    expect(await c.nodes[0]!.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nno');
    expect(await c.nodes[0]!.cli('CONFIG', 'GET', 'cluster-node-timeout')).toBe('cluster-node-timeout\n5000');
  });

  it('starts a persistent cluster with a shorter node timeout', async () => {
    const c = await startRedisCluster(3, { appendOnly: true, nodeTimeoutMs: 1000 });
    cleanup.push(() => c.stop());
    const node = c.nodes[0]!;
    expect(await node.cli('CONFIG', 'GET', 'appendonly')).toBe('appendonly\nyes');
    expect(await node.cli('CONFIG', 'GET', 'appendfsync')).toBe('appendfsync\nalways');
    expect(await node.cli('CONFIG', 'GET', 'cluster-node-timeout')).toBe('cluster-node-timeout\n1000');
  });

  it('starts a sentinel', async () => {
    const s = await startRedisSentinel();
    cleanup.push(() => s.stop());
    expect(s.sentinelPort).toBeGreaterThan(0);
    expect(s.replica).toBeUndefined();
    expect(await s.masterPort()).toBe(s.master.port);
    await expect(s.waitForReplica()).rejects.toThrow(/replica/);
  });

  it('starts a sentinel with a replica and fast failover timings', async () => {
    const s = await startRedisSentinel({
      masterName: 'kvfast',
      replica: true,
      downAfterMs: 500,
      failoverTimeoutMs: 2000,
    });
    cleanup.push(() => s.stop());
    const replica = s.replica!;
    expect(s.masterName).toBe('kvfast');
    expect(await replica.cli('INFO', 'replication')).toContain('master_link_status:up');
    await s.master.cli('SET', 'k', 'v');
    await s.waitForReplica();
    expect(await replica.cli('GET', 'k')).toBe('v');
    const master = (await s.sentinelCli('SENTINEL', 'master', 'kvfast')).split('\n');
    expect(master[master.indexOf('down-after-milliseconds') + 1]).toBe('500');
    expect(master[master.indexOf('failover-timeout') + 1]).toBe('2000');
    expect(master[master.indexOf('num-slaves') + 1]).toBe('1');
  });
});
