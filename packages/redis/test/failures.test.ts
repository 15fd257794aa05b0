import { SessionManager, StorageError, StorageUnavailableError } from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { freePort, type RedisServer, startRedis } from '@kv-session/testing';
import { createClient, createCluster, createSentinel } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS } from './clients.js';
import { request } from './helpers.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

describe.each(CLIENT_KINDS)('Redis unavailable ($name)', (kind) => {
  it('fails with StorageUnavailableError (503) while redis-server is down, works again after restart', async () => {
    // The client's defaults: offline queue on, reconnecting forever. The storage still fails fast.
    const { client, errors, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 300 });
      const manager = new SessionManager({ storage, maxAge: 60_000 });
      const first = await request(manager, undefined, (s) => s.set('n', 1));

      await server.stop();
      const read = manager.session({ cookie: first.cookie });
      let started = performance.now();
      const failure = await read.get('n').catch((e: unknown) => e);
      const readFailedAfter = performance.now() - started;
      expect(failure).toBeInstanceOf(StorageUnavailableError);
      expect((failure as StorageUnavailableError).status).toBe(503);
      const write = manager.session();
      await write.set('n', 2);
      started = performance.now();
      const commitFailure = await manager.commit(write).catch((e: unknown) => e);
      const commitFailedAfter = performance.now() - started;
      expect(commitFailure).toBeInstanceOf(StorageUnavailableError);
      expect(errors.length).toBeGreaterThan(0);

      // The data was not persisted (no --save): the old session is gone, new ones work again.
      await server.start();
      started = performance.now();
      let again: Awaited<ReturnType<typeof request<void>>> | undefined;
      for (let i = 0; i < 100 && again === undefined; i++) {
        again = await request(manager, undefined, (s) => s.set('n', 3)).catch(async () => {
          await new Promise((r) => setTimeout(r, 20));
          return undefined;
        });
      }
      console.log(
        `[outage] ${kind.name}, single node killed: read failed after ${Math.round(readFailedAfter)} ms, ` +
          `commit after ${Math.round(commitFailedAfter)} ms (commandTimeout 300); first write served ` +
          `${Math.round(performance.now() - started)} ms after the restart`,
      );
      expect(again?.setCookie).toMatch(/^sid=/);
      expect((await request(manager, again?.cookie, (s) => s.get('n'))).result).toBe(3);
      // The stale write queued while offline was dropped, not replayed after the reconnect.
      expect(await server.cli('DBSIZE')).toBe('1');
    } finally {
      await close();
      await server.cli('FLUSHALL');
    }
  });

  it('concurrent writes of one session while Redis is down all fail with StorageUnavailableError', async () => {
    const { client, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 300 });
      const manager = new SessionManager({ storage, maxAge: 60_000 });
      const first = await request(manager, undefined, (s) => s.set('n', 0));
      const sessions = Array.from({ length: 10 }, () => manager.session({ cookie: first.cookie }));
      await Promise.all(sessions.map((s) => s.get('n')));
      await Promise.all(sessions.map((s, i) => s.set(`k${i}`, i)));
      await server.stop();
      const results = await Promise.allSettled(sessions.map((s) => manager.commit(s)));
      expect(
        results.map((r) => r.status === 'rejected' && r.reason instanceof StorageUnavailableError),
      ).toEqual(Array(10).fill(true));
      await server.start();
    } finally {
      await close();
    }
  });

  it('reads made while the client is offline fail by the deadline and are never sent after the reconnect', async () => {
    // A connected node-redis client sends reads without the abort signal (OfflineDeadline.reader);
    // an offline one must still give them the signal, or they would pile up in its offline queue.
    const { client, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 300 });
      await server.stop();
      // Offline as the client sees it (node-redis `isReady`, ioredis `status`): until it notices,
      // a command goes to the dying socket and fails with it, which would test nothing here.
      const state = client as unknown as { isReady?: boolean; status?: string };
      for (let i = 0; i < 200 && (state.isReady === true || state.status === 'ready'); i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(state.isReady === true || state.status === 'ready').toBe(false);
      const ids = Array.from({ length: 20 }, (_, i) => `offline${String(i).padStart(16, '0')}`);
      const failures = await Promise.all(ids.map((id) => storage.load(id, 60_000).catch((e: unknown) => e)));
      expect(failures.map((f) => f instanceof StorageUnavailableError)).toEqual(ids.map(() => true));
      await server.start();
      // A write that succeeds was sent after everything queued before it (one connection, in
      // order). Each attempt is bounded by the deadline: node-redis 5 loses a command queued offline
      // after aborted ones (it is never sent and never settles), which the deadline turns into a 503.
      let saved = false;
      for (let i = 0; i < 100 && !saved; i++) {
        saved = await storage.save('probe000000000000000000', { a: 1 }, 60_000).then(
          () => true,
          () => false,
        );
        if (!saved) await new Promise((r) => setTimeout(r, 20));
      }
      expect(saved).toBe(true);
      expect(await server.cli('INFO', 'commandstats')).not.toMatch(/cmdstat_getex:/);
    } finally {
      await close();
    }
  });

  it('a frozen server (SIGSTOP): 503 by the deadline; a write sent to it and lost with it is not re-sent after the restart', async () => {
    // ioredis re-sends the commands that were in flight on a connection that dropped
    // (autoResendUnfulfilledCommands): a write its caller was told had failed would land later.
    const { client, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 300 });
      const hash = new StorageRedisHash({ client, commandTimeout: 300 });
      await storage.save('frozen00000000000000000', { a: 1 }, 60_000);
      const pid = Number(/process_id:(\d+)/.exec(await server.cli('INFO', 'server'))?.[1]);
      process.kill(pid, 'SIGSTOP');
      const started = performance.now();
      const failures = await Promise.all([
        storage.load('frozen00000000000000000', 60_000).catch((e: unknown) => e),
        storage.save('late0000000000000000000', { late: true }, 60_000).catch((e: unknown) => e),
        hash.save('late0000000000000000000', { late: true }, 60_000).catch((e: unknown) => e),
      ]);
      const elapsed = performance.now() - started;
      console.log(
        `[outage] ${kind.name}, single node frozen: 3 calls failed after ${Math.round(elapsed)} ms`,
      );
      expect(failures.map((f) => f instanceof StorageUnavailableError)).toEqual([true, true, true]);
      expect(String((failures[0] as Error).message)).toMatch(/option commandTimeout\)/);
      // Generous bound (a loaded machine): the point is "by its deadline", not "eventually".
      expect(elapsed).toBeLessThan(2_000);
      // The frozen process dies with the writes unread; a new one starts on the same port.
      await server.stop();
      await server.start();
      let loaded: unknown;
      for (let i = 0; i < 100; i++) {
        loaded = await storage.load('late0000000000000000000', 60_000).catch((e: unknown) => e);
        if (!(loaded instanceof Error)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(loaded).toBeUndefined();
      expect(await server.cli('DBSIZE')).toBe('0');
    } finally {
      await close();
    }
  });

  it('server replies are classified: READONLY (a replica) is StorageUnavailableError, NOPERM is StorageError', async () => {
    const { client, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 1000 });
      await server.cli('REPLICAOF', '127.0.0.1', String(await freePort()));
      const readonly = await storage
        .save('replies0000000000000000', { a: 1 }, 60_000)
        .catch((e: unknown) => e);
      await server.cli('REPLICAOF', 'NO', 'ONE');
      expect(readonly).toBeInstanceOf(StorageUnavailableError);
      expect((readonly as Error).message).toMatch(/READONLY/);

      await server.cli('ACL', 'SETUSER', 'default', '-set');
      const denied = await storage.save('replies0000000000000000', { a: 1 }, 60_000).catch((e: unknown) => e);
      await server.cli('ACL', 'SETUSER', 'default', '+set');
      expect(denied).toBeInstanceOf(StorageError);
      expect(denied).not.toBeInstanceOf(StorageUnavailableError);
      expect((denied as StorageError).status).toBe(500);
      expect((denied as Error).message).toMatch(/NOPERM/);
      await storage.save('replies0000000000000000', { a: 2 }, 60_000);
      expect((await storage.load('replies0000000000000000', 60_000))?.data).toEqual({ a: 2 });
    } finally {
      await close();
    }
  });

  it('a server that does not answer in time fails with StorageUnavailableError', async () => {
    const { client, close } = await kind.single(server.url);
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 200 });
      await storage.save('slowserver0000000000000', { a: 1 }, 60_000);
      // The server stops answering any client for a second (the command is sent, no reply comes).
      expect(await server.cli('CLIENT', 'PAUSE', '1000', 'ALL')).toBe('OK');
      const failure = await storage.load('slowserver0000000000000', 60_000).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(StorageUnavailableError);
      expect((failure as Error).message).toMatch(/commandTimeout/);
      // Once the pause is over, the same storage answers again.
      let loaded: Awaited<ReturnType<StorageRedisKV['load']>> | Error | undefined;
      for (let i = 0; i < 50; i++) {
        loaded = await storage.load('slowserver0000000000000', 60_000).catch((e: Error) => e);
        if (!(loaded instanceof Error)) break;
      }
      expect(loaded).toMatchObject({ data: { a: 1 } });
    } finally {
      await close();
    }
  });
});

describe('Redis unavailable (node-redis)', () => {
  it('fails fast with an offline-queue-less client too', async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 300 });
      await server.stop();
      await expect(storage.load('offline000000000000000', 1000)).rejects.toBeInstanceOf(
        StorageUnavailableError,
      );
      await server.start();
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  it('a Cluster or Sentinel client that was never connected fails with StorageUnavailableError, on both storages', async () => {
    // node-redis's Cluster client throws a TypeError from inside itself here; it is still "unavailable".
    const cluster = createCluster({ rootNodes: [{ url: server.url }] });
    const sentinel = createSentinel({
      name: 'none',
      sentinelRootNodes: [{ host: '127.0.0.1', port: server.port }],
    });
    for (const client of [cluster, sentinel]) {
      for (const storage of [
        new StorageRedisKV({ client, commandTimeout: 300 }),
        new StorageRedisHash({ client, commandTimeout: 300 }),
      ]) {
        const started = Date.now();
        const error = await storage.load('neverconnected00000000', 1000).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect((error as StorageUnavailableError).status).toBe(503);
        expect(Date.now() - started).toBeLessThan(1_500);
      }
    }
  });

  it('a client that was never connected fails with StorageUnavailableError', async () => {
    const client = createClient({ url: server.url });
    const storage = new StorageRedisKV({ client });
    await expect(storage.load('neverconnected00000000', 1000)).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
  });
});
