import { describe, expect, it } from 'vitest';
import { startExample, Visitor } from '../shared/harness.js';
import { useExampleRedis } from '../shared/redis.js';
import { describeReferenceScenario } from '../shared/scenario.js';

describeReferenceScenario('hono');

describe('Hono example next to the Express example (one Redis, default cookie name, no secret)', () => {
  const example = useExampleRedis();

  it('reads through Hono a session created through Express, and the other way round', async () => {
    const redis = example();
    const express = await startExample('express', { REDIS_URL: redis.url });
    const hono = await startExample('hono', { REDIS_URL: redis.url });
    try {
      const visitor = new Visitor();
      expect((await visitor.get(express.baseUrl, '/set')).body).toBe('ok');
      const fromExpress = JSON.parse((await visitor.get(express.baseUrl, '/get')).body) as { time: number };
      const viaHono = await visitor.get(hono.baseUrl, '/get');
      expect(viaHono.status).toBe(200);
      expect(JSON.parse(viaHono.body)).toEqual(fromExpress);
      expect(viaHono.setCookie).toEqual([]);

      const other = new Visitor();
      expect((await other.get(hono.baseUrl, '/set')).body).toBe('ok');
      const fromHono = JSON.parse((await other.get(hono.baseUrl, '/get')).body) as { time: number };
      expect(JSON.parse((await other.get(express.baseUrl, '/get')).body)).toEqual(fromHono);

      // /del through Hono removes what Express sees.
      expect((await visitor.get(hono.baseUrl, '/del')).body).toBe('ok');
      expect(JSON.parse((await visitor.get(express.baseUrl, '/get')).body)).toEqual({});
      expect(await redis.cli('DBSIZE')).toBe('1');
    } finally {
      await express.stop();
      await hono.stop();
    }
  });
});
