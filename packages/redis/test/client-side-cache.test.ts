import { SessionManager } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idFrom, invalidation, quiet, request, stats } from './helpers.js';

const cachedClientFor = (url: string) =>
  createClient({ url, RESP: 3, clientSideCache: { maxEntries: 10_000 } });

let server: RedisServer;
let nodeA: ReturnType<typeof cachedClientFor>;
let nodeB: ReturnType<typeof cachedClientFor>;

beforeAll(async () => {
  server = await startRedis();
  nodeA = cachedClientFor(server.url);
  nodeB = cachedClientFor(server.url);
  quiet(nodeA);
  quiet(nodeB);
  await Promise.all([nodeA.connect(), nodeB.connect()]);
});

afterAll(async () => {
  await Promise.allSettled([nodeA?.close(), nodeB?.close()]);
  await server?.stop();
});

const MAX_AGE = 600_000;

/** An app node: its own client (with its own cache), storage and manager. */
function appNode(client: ReturnType<typeof cachedClientFor>, refreshInterval = 60_000) {
  const storage = new StorageRedisKV({ client, refreshInterval });
  return { storage, manager: new SessionManager({ storage, maxAge: MAX_AGE }) };
}

describe('client-side caching (RESP3 + clientSideCache): the "memory + Redis" fast path', () => {
  it('is detected from the client; an explicit option overrides it', () => {
    expect(new StorageRedisKV({ client: nodeA }).clientSideCache).toBe(true);
    expect(new StorageRedisKV({ client: nodeA, clientSideCache: false }).clientSideCache).toBe(false);
  });

  it('repeated reads of an unchanged session cost 0 commands', async () => {
    const { manager } = appNode(nodeA);
    const first = await request(manager, undefined, (s) => s.set('time', 1));
    const hitsBefore = nodeA.clientSideCache!.stats().hitCount;

    await server.resetStats();
    for (let i = 0; i < 100; i++) {
      const read = await request(manager, first.cookie, (s) => s.get('time'));
      expect(read.result).toBe(1);
    }
    // The write refreshed the expiry; the first GET fills the cache, the other 99 are local hits.
    expect(await stats(server)).toEqual({ get: 1 });
    expect(nodeA.clientSideCache!.stats().hitCount - hitsBefore).toBe(99);
  });

  it('edits by redis-cli, by another app node and by this node are seen on the next request', async () => {
    const a = appNode(nodeA);
    const b = appNode(nodeB);
    const first = await request(a.manager, undefined, (s) => s.set('time', 1));
    const key = a.storage.key(idFrom(first.cookie));
    // Both nodes have the session cached now.
    for (const n of [a, b, a, b]) await request(n.manager, first.cookie, (s) => s.data());

    const bothInvalidated = Promise.all([invalidation(nodeA, key), invalidation(nodeB, key)]);
    await server.cli('SET', key, '{"time":2}', 'KEEPTTL');
    await bothInvalidated;
    expect((await request(a.manager, first.cookie, (s) => s.get('time'))).result).toBe(2);
    expect((await request(b.manager, first.cookie, (s) => s.get('time'))).result).toBe(2);

    // Another node's write reaches this node's cache as an invalidation message on this node's own
    // connection, asynchronously. Both "nodes" share one process here, so wait for it as a real
    // next request (a network round trip later) would.
    const invalidated = invalidation(nodeA, key);
    await request(b.manager, first.cookie, (s) => s.set('by', 'b'));
    await invalidated;
    expect((await request(a.manager, first.cookie, (s) => s.data())).result).toEqual({ time: 2, by: 'b' });

    // This node's own write: the invalidation precedes the script's reply on the same connection.
    await request(a.manager, first.cookie, (s) => s.set('by', 'a'));
    expect((await request(a.manager, first.cookie, (s) => s.get('by'))).result).toBe('a');
    expect((await request(b.manager, first.cookie, (s) => s.get('by'))).result).toBe('a');

    const deleted = invalidation(nodeA, key);
    expect(await server.cli('DEL', key)).toBe('1');
    await deleted;
    const gone = await request(a.manager, first.cookie, (s) => s.data());
    expect(gone.result).toEqual({});
    expect(gone.setCookie).toBeUndefined();
  });

  it('50 concurrent writers through two cached nodes keep all 50 keys', async () => {
    const a = appNode(nodeA);
    const b = appNode(nodeB);
    const first = await request(a.manager, undefined, (s) => s.set('start', true));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request((i % 2 === 0 ? a : b).manager, first.cookie, (s) => s.set(`k${i}`, i)),
      ),
    );
    const stored = JSON.parse(await server.cli('GET', a.storage.key(idFrom(first.cookie))));
    expect(Object.keys(stored)).toHaveLength(51);
  });

  it('refreshes the expiry with GETEX at most once per refresh interval, keeping the TTL near maxAge', async () => {
    const { manager, storage } = appNode(nodeA, 2_000);
    const first = await request(manager, undefined, (s) => s.set('time', 1));
    const key = storage.key(idFrom(first.cookie));
    await server.cli('PEXPIRE', key, '300000'); // as if the session had been idle for 5 minutes

    await server.resetStats();
    await request(manager, first.cookie, (s) => s.get('time'));
    await request(manager, first.cookie, (s) => s.get('time'));
    // The operator's PEXPIRE dropped the cache entry; this node last refreshed less than 2 s ago.
    expect(await stats(server)).toEqual({ get: 1 });

    await new Promise((r) => setTimeout(r, 2_100));
    await server.resetStats();
    await request(manager, first.cookie, (s) => s.get('time'));
    expect(await stats(server)).toEqual({ getex: 1 });
    expect(Number(await server.cli('PTTL', key))).toBeGreaterThan(MAX_AGE - 60_000);
  });
});
