// Durations are unsuffixed milliseconds (maxAge, absoluteTimeout); the `…Ms` names the Redis
// storages had before still work, deprecated.
import { ConfigError, StorageUnavailableError } from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRedisOptions } from '../src/options.js';

let server: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url, socket: { reconnectStrategy: 50 } });
  client.on('error', () => {}); // expected: the server is stopped below
  await client.connect();
  await server.stop();
  // Until the client sees the socket close, a command fails with that instead of by its deadline.
  while (client.isReady) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  client.destroy();
});

/** The message of a load while Redis is down: it names the timeout in effect. */
async function downMessage(storage: StorageRedisKV | StorageRedisHash): Promise<string> {
  const error = await storage.load('aaaaaaaaaaaaaaaaaaaaaa', 60_000).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StorageUnavailableError);
  return (error as Error).message;
}

describe('commandTimeout (ms), and its deprecated alias commandTimeoutMs', () => {
  it('StorageRedisKV honours commandTimeout and commandTimeoutMs alike (the default is 2000)', async () => {
    expect(await downMessage(new StorageRedisKV({ client, commandTimeout: 150 }))).toContain(
      'within 150 ms (option commandTimeout)',
    );
    expect(await downMessage(new StorageRedisKV({ client, commandTimeoutMs: 160 }))).toContain(
      'within 160 ms (option commandTimeout)',
    );
  });

  it('StorageRedisHash honours commandTimeout and commandTimeoutMs alike', async () => {
    expect(await downMessage(new StorageRedisHash({ client, commandTimeout: 150 }))).toContain(
      'within 150 ms',
    );
    expect(await downMessage(new StorageRedisHash({ client, commandTimeoutMs: 160 }))).toContain(
      'within 160 ms',
    );
  });

  it('both names at once is a ConfigError naming the current one, for either storage', () => {
    expect(() => new StorageRedisKV({ client, commandTimeout: 100, commandTimeoutMs: 100 })).toThrow(
      ConfigError,
    );
    expect(() => new StorageRedisKV({ client, commandTimeout: 100, commandTimeoutMs: 100 })).toThrow(
      'Invalid StorageRedisKV options:\n  - commandTimeoutMs: deprecated name of commandTimeout; give only commandTimeout',
    );
    expect(() => new StorageRedisHash({ client, commandTimeout: 100, commandTimeoutMs: 100 })).toThrow(
      'Invalid StorageRedisHash options:\n  - commandTimeoutMs: deprecated name of commandTimeout; give only commandTimeout',
    );
  });

  it('a bad value is reported under the name it was given', () => {
    expect(() => new StorageRedisKV({ client, commandTimeoutMs: -1 })).toThrow(
      /\n {2}- commandTimeoutMs: Too small: expected number to be >0/,
    );
    expect(() => new StorageRedisHash({ client, commandTimeoutMs: 0 })).toThrow(
      /\n {2}- commandTimeoutMs: Too small: expected number to be >0/,
    );
    expect(() => new StorageRedisKV({ client, commandTimeout: -1 })).toThrow(
      /\n {2}- commandTimeout: Too small: expected number to be >0/,
    );
  });
});

describe('refreshInterval (ms), and its deprecated alias refreshIntervalMs', () => {
  it('either name sets the interval; the default is 1000', () => {
    expect(resolveRedisOptions({ client, refreshInterval: 5000 }).refreshIntervalMs).toBe(5000);
    expect(resolveRedisOptions({ client, refreshIntervalMs: 7000 }).refreshIntervalMs).toBe(7000);
    expect(resolveRedisOptions({ client }).refreshIntervalMs).toBe(1000);
  });

  it('both names at once is a ConfigError; StorageRedisHash has no such option under either name', () => {
    expect(() => new StorageRedisKV({ client, refreshInterval: 1, refreshIntervalMs: 1 })).toThrow(
      'refreshIntervalMs: deprecated name of refreshInterval; give only refreshInterval',
    );
    expect(
      () => new StorageRedisHash({ client, refreshIntervalMs: 1 } as unknown as { client: typeof client }),
    ).toThrow(/Unrecognized key.*refreshIntervalMs/);
  });
});
