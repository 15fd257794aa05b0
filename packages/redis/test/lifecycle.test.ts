// Issue 18 on StorageRedisHash, whose partial reads (loadKeys, loadSizes) must bring the session's
// `__kv` metadata along: a `get` of one key still honours absoluteTimeout, and a write before any
// read keeps a remembered lifetime.
import { META_KEY, SessionManager } from '@kv-session/core';
import { StorageRedisHash } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  client.on('error', () => {});
  await client.connect();
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await server?.stop();
});

const cookieOf = (setCookie: string | undefined) => setCookie!.split(';')[0]!;

describe('lifecycle on StorageRedisHash partial reads', () => {
  it('get(key) reads __kv in the same script and ends a session past absoluteTimeout (record deleted, cookie expired)', async () => {
    const storage = new StorageRedisHash({ client, prefix: 'abs:h:' });
    const m = new SessionManager({ storage, maxAge: 60_000, absoluteTimeout: 60_000 });
    const s = m.session();
    await s.set('user', 'ada');
    const cookie = cookieOf((await m.commit(s)).setCookie);
    const key = storage.key(s.id);
    const meta = JSON.parse((await client.hGet(key, META_KEY))!) as { created: number };
    // As if created two minutes ago (an operator's edit): past the deadline, with a TTL still running.
    await client.hSet(key, META_KEY, JSON.stringify({ ...meta, created: meta.created - 120_000 }));
    const r = m.session({ cookie });
    expect(await r.get('user')).toBeUndefined();
    expect((await m.commit(r)).setCookie).toMatch(/Max-Age=0/);
    expect(await client.exists(key)).toBe(0);
  });

  it('a write before any read (loadSizes) keeps the remembered lifetime in the stored TTL', async () => {
    const storage = new StorageRedisHash({ client, prefix: 'remember:h:' });
    const m = new SessionManager({ storage, maxAge: 60_000 });
    const s = m.session();
    await s.set('user', 'ada');
    await s.setMaxAge(30 * 86_400_000);
    const cookie = cookieOf((await m.commit(s)).setCookie);
    const w = m.session({ cookie });
    await w.set('cart', ['apple']);
    await m.commit(w);
    expect(w.maxAge).toBe(30 * 86_400_000);
    expect(await client.pTTL(storage.key(s.id))).toBeGreaterThan(29 * 86_400_000);
    expect(await m.session({ cookie }).data()).toEqual({ user: 'ada', cart: ['apple'] });
  });

  it('a read of one key (loadKeys) of a remembered session refreshes it to its own lifetime', async () => {
    const storage = new StorageRedisHash({ client, prefix: 'read:h:' });
    const m = new SessionManager({ storage, maxAge: 60_000 });
    const s = m.session();
    await s.set('user', 'ada');
    await s.setMaxAge(30 * 86_400_000);
    const cookie = cookieOf((await m.commit(s)).setCookie);
    const r = m.session({ cookie });
    expect(await r.get('user')).toBe('ada');
    await m.commit(r);
    // The read's script refreshed to maxAge before the lifetime was known; the commit set it back.
    expect(await client.pTTL(storage.key(s.id))).toBeGreaterThan(29 * 86_400_000);
  });
});
