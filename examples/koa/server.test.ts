import { describe, expect, it, vi } from 'vitest';
import { startExample, Visitor } from '../shared/harness.js';
import { useExampleRedis } from '../shared/redis.js';
import { describeReferenceScenario } from '../shared/scenario.js';

describeReferenceScenario('koa');

describe('koa example on ioredis (REDIS_CLIENT=ioredis)', { timeout: 60_000 }, () => {
  const example = useExampleRedis();

  it('stores /set in Redis as JSON, reads it back, /del clears it, 503 while Redis is down, then serves again', async () => {
    const redis = example();
    const server = await startExample('koa', { REDIS_URL: redis.url, REDIS_CLIENT: 'ioredis' });
    expect(server.output()).toContain(`sessions in Redis at ${redis.url} through ioredis`);
    const visitor = new Visitor();
    expect((await visitor.get(server.baseUrl, '/set')).body).toBe('ok');
    const { time } = JSON.parse((await visitor.get(server.baseUrl, '/get')).body) as { time: number };
    expect(time).toBeTypeOf('number');
    const keys = (await redis.cli('KEYS', '*')).split('\n').filter((k) => k !== '');
    expect(keys).toEqual([`kv-session:${visitor.id}`]);
    expect(JSON.parse(await redis.cli('GET', keys[0]!))).toEqual({ time });
    expect((await visitor.get(server.baseUrl, '/del')).body).toBe('ok');
    expect(await redis.cli('DBSIZE')).toBe('0');

    await redis.stop();
    expect((await visitor.get(server.baseUrl, '/get')).status).toBe(503);
    await redis.start();
    await vi.waitFor(
      async () => {
        expect((await visitor.get(server.baseUrl, '/set')).status).toBe(200);
      },
      { timeout: 15_000, interval: 200 },
    );
    expect(await redis.cli('DBSIZE')).toBe('1');
    // SIGTERM quits the ioredis client; the process exits by itself with 0.
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output()).toContain('closed');
  });
});
