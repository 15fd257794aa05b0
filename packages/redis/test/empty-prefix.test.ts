import { ConfigError, SessionDataError, SessionManager } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quiet, stats } from './helpers.js';

let server: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  quiet(client);
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

const MAX_AGE = 60_000;

function issuesOf(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('StorageRedisKV with an empty prefix (koa-session + koa-redis sites without one)', () => {
  it("prefix: '' alone is a ConfigError naming allowEmptyPrefix, listed with the other problems", () => {
    expect(issuesOf(() => new StorageRedisKV({ client, prefix: '' }))).toMatch(
      /^prefix: must not be empty, unless allowEmptyPrefix: true/m,
    );
    const both = issuesOf(
      () => new StorageRedisKV({ client: {} as never, prefix: '', commandTimeoutMs: -1 }),
    );
    expect(both).toMatch(/^client: /m);
    expect(both).toMatch(/^prefix: must not be empty/m);
    expect(both).toMatch(/^commandTimeoutMs: /m);
    expect(() => new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: 'yes' } as never)).toThrow(
      ConfigError,
    );
  });

  it('with allowEmptyPrefix: true, a session is stored under its bare id, with its TTL', async () => {
    const storage = new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: true });
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    const s = manager.session();
    await s.set('time', 1);
    await manager.save(s);
    expect(storage.key(s.id)).toBe(s.id);
    expect(JSON.parse((await client.get(s.id)) ?? 'null')).toEqual({ time: 1 });
    expect(await client.pTTL(s.id)).toBeGreaterThan(MAX_AGE - 5_000);
    expect(await manager.sessionById(s.id).get('time')).toBe(1);
  });

  it("an id that is not one never becomes a key: the app's other keys are not read, written or deleted", async () => {
    await client.set('config', '{"admin":true}');
    await client.set('user:1', '{"name":"ann"}');
    const storage = new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: true });
    await server.resetStats();
    for (const id of ['config', 'user:1', '../x', '']) {
      await expect(storage.load(id, MAX_AGE)).rejects.toBeInstanceOf(SessionDataError);
      await expect(storage.remove(id)).rejects.toBeInstanceOf(SessionDataError);
      await expect(storage.touch(id, MAX_AGE)).rejects.toBeInstanceOf(SessionDataError);
    }
    // Through the manager, a malformed id is no session at all (no storage call, as with any prefix).
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    expect(await manager.sessionById('config').data()).toEqual({});
    expect(await stats(server)).toEqual({});
    expect(await client.get('config')).toBe('{"admin":true}');
    expect(await client.get('user:1')).toBe('{"name":"ann"}');
    expect(await client.pTTL('config')).toBe(-1);
  });

  it('a prefixed storage keeps accepting any id it is given (unchanged behaviour)', () => {
    expect(new StorageRedisKV({ client, prefix: 's_' }).key('x')).toBe('s_x');
  });
});
