// The private Redis of an example test: each describe block that talks to example processes needs
// the built packages and a redis-server of its own (never the machine's 127.0.0.1:6379).
import { type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll } from 'vitest';
import { assertBuilt } from './harness.js';

/**
 * Registers, in the calling describe block, a check that the packages are built and a private
 * redis-server started before its tests and stopped after them. Returns the server (valid once the
 * tests run).
 */
export function useExampleRedis(): () => RedisServer {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    assertBuilt();
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return () => {
    if (redis === undefined) throw new Error('the example Redis is not started (use it inside a test)');
    return redis;
  };
}
