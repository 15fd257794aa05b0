// The core `schema` option on Redis storages: JSON edited in Redis is validated on the next request,
// and per-key reads (StorageRedisHash.loadKeys) go through the schema too.
import {
  type ErrorContext,
  generateId,
  type SessionDataError,
  type SessionError,
  SessionManager,
  type Storage,
} from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const HOUR = 3_600_000;

const schema = z.object({
  userId: z.string().min(1),
  visits: z.number().int().nonnegative(),
  lastSeen: z.coerce.date(),
});

function setup(storage: Storage) {
  const reported: { error: SessionError; context: ErrorContext }[] = [];
  const manager = new SessionManager({
    storage,
    schema,
    onError: (error, context) => reported.push({ error, context }),
  });
  return { manager, reported };
}

async function plant(storage: Storage, data: Record<string, unknown>): Promise<string> {
  const id = generateId();
  await storage.save(id, data as never, HOUR);
  return id;
}

describe('schema with Redis storages (private redis-server)', () => {
  let server: RedisServer;
  let client: ReturnType<typeof createClient>;

  beforeAll(async () => {
    server = await startRedis();
    client = createClient({ url: server.url });
    client.on('error', () => undefined);
    await client.connect();
  });

  afterAll(async () => {
    await client?.quit();
    await server?.stop();
  });

  it('StorageRedisKV: JSON edited in Redis is validated on the next request (drop)', async () => {
    const storage = new StorageRedisKV({ client, prefix: `schema-kv-${Date.now()}:` });
    const { manager, reported } = setup(storage);
    const s = manager.session();
    await s.setMany({ userId: 'u', visits: 1, lastSeen: new Date(1000) });
    await manager.commit(s);
    // An operator (or an older deploy) writes a value the schema rejects.
    await storage.save(s.id, { userId: '', visits: 1, lastSeen: '1970-01-01T00:00:01.000Z' }, HOUR);
    const next = manager.sessionById(s.id);
    expect(await next.data()).toEqual({ visits: 1, lastSeen: new Date(1000) });
    expect(reported.map((r) => (r.error as SessionDataError).issues.map((i) => i.path))).toEqual([
      [['userId']],
    ]);
  });

  it('StorageRedisHash (per-key reads): valid keys come through the schema, an invalid one falls back to the whole load', async () => {
    const storage = new StorageRedisHash({ client, prefix: `schema-hash-${Date.now()}:` });
    const { manager, reported } = setup(storage);
    const id = await plant(storage, { userId: 'u', visits: -5, lastSeen: '2026-01-01T00:00:00.000Z' });
    const s = manager.sessionById(id);
    expect(await s.get('lastSeen')).toEqual(new Date('2026-01-01T00:00:00.000Z'));
    expect(reported).toHaveLength(0);
    expect(await s.get('visits')).toBeUndefined();
    expect(await s.get('userId')).toBe('u');
    expect(reported).toHaveLength(1);
    expect((reported[0]!.error as SessionDataError).key).toBe('visits');
  });
});
