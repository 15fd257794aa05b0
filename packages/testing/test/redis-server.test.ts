import { startRedis, startRedisCluster, startRedisSentinel } from '@kv-session/testing';
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

  it('starts a 3-master cluster', async () => {
    const c = await startRedisCluster(3);
    cleanup.push(() => c.stop());
    expect(c.nodes).toHaveLength(3);
    expect(await c.nodes[0]!.cli('CLUSTER', 'INFO')).toContain('cluster_size:3');
  });

  it('starts a sentinel', async () => {
    const s = await startRedisSentinel();
    cleanup.push(() => s.stop());
    expect(s.sentinelPort).toBeGreaterThan(0);
  });
});
