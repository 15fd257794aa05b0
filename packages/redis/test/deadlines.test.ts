// commandTimeout is enforced by one shared timer per storage (client.ts `Deadlines`), not a timer
// per command: these tests pin down what users see (every call still fails by its own deadline with
// the same StorageUnavailableError) and that the timer neither multiplies nor keeps the process open.
import { StorageUnavailableError } from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLIENT_KINDS, nodeRedis } from './clients.js';

let server: RedisServer;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

const ID = 'deadlines0000000000000';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(CLIENT_KINDS)('commandTimeout, one timer per storage ($name)', (kind) => {
  it('every call of two waves sent to a server that stopped answering fails with the timeout, then the storage answers again', async () => {
    const { client, close } = await kind.single(server.url);
    try {
      for (const storage of [
        new StorageRedisKV({ client, commandTimeout: 150 }),
        new StorageRedisHash({ client, commandTimeout: 150 }),
      ]) {
        await storage.save(ID, { a: 1 }, 60_000);
        // A call that settles first leaves the shared timer armed for its deadline: the waves
        // below are served by a timer that fires with nothing due yet and re-arms.
        await storage.load(ID, 60_000);
        await sleep(40);
        expect(await server.cli('CLIENT', 'PAUSE', '700', 'ALL')).toBe('OK');
        const first = Array.from({ length: 5 }, () => storage.load(ID, 60_000).catch((e: unknown) => e));
        await sleep(60);
        const second = Array.from({ length: 5 }, () => storage.load(ID, 60_000).catch((e: unknown) => e));
        for (const failure of await Promise.all([...first, ...second])) {
          expect(failure).toBeInstanceOf(StorageUnavailableError);
          expect((failure as Error).message).toBe(
            'Redis did not answer load within 150 ms (option commandTimeout)',
          );
        }
        let loaded: unknown;
        for (let i = 0; i < 50; i++) {
          loaded = await storage.load(ID, 60_000).catch((e: Error) => e);
          if (!(loaded instanceof Error)) break;
          await sleep(50);
        }
        expect(loaded).toMatchObject({ data: { a: 1 } });
      }
    } finally {
      await close();
    }
  });
});

describe('commandTimeout timer (node-redis)', () => {
  it('fifty calls in flight arm one deadline timer, which holds the process open only while a call is pending', async () => {
    const { client, close } = await nodeRedis.single(server.url);
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const storage = new StorageRedisKV({ client, commandTimeout: 60_000 });
      spy.mockClear();
      const loads = Array.from({ length: 50 }, () => storage.load(ID, 60_000));
      // Timers armed while issuing them: the shared deadline timer and the abort signal's timer of
      // the client's time slice (client.ts OfflineDeadline), never one per call.
      const armed = spy.mock.calls.filter(([, ms]) => ms === 60_000);
      expect(armed.length).toBeLessThanOrEqual(2);
      const timers = spy.mock.results.map((r) => r.value as NodeJS.Timeout);
      // The slice's abort timer is unref'd; the deadline timer holds the process while calls pend.
      expect(timers.filter((t) => t.hasRef())).toHaveLength(1);
      expect(await Promise.all(loads)).toHaveLength(50);
      // Nothing pending: the timer (still armed for the first deadline) no longer holds the process.
      expect(timers.filter((t) => t.hasRef())).toEqual([]);
    } finally {
      spy.mockRestore();
      await close();
    }
  });
});
