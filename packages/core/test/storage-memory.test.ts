import {
  applyChangeSet,
  ConfigError,
  SessionTooLargeError,
  StorageError,
  StorageMemory,
  serializeSession,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { isEmptyChangeSet } from '../src/change-set.js';

const changes = (set: Record<string, number>, remove: string[] = [], clear = false) => ({
  clear,
  remove: new Set(remove),
  set: new Map(Object.entries(set)),
});

describe('StorageMemory', () => {
  it('honours expiry on its clock and reports expiresAt', async () => {
    let now = 1_000;
    const storage = new StorageMemory({ now: () => now });
    await storage.save('a'.repeat(22), { x: 1 }, 500);
    expect(await storage.load('a'.repeat(22))).toEqual({ data: { x: 1 }, expiresAt: 1_500 });
    now = 1_499;
    await storage.touch('a'.repeat(22), 500);
    now = 1_998;
    expect((await storage.load('a'.repeat(22)))!.expiresAt).toBe(1_999);
    now = 1_999;
    expect(await storage.load('a'.repeat(22))).toBeUndefined();
    expect(storage.size).toBe(0);
  });

  it('is bounded: past maxEntries the least recently used sessions are evicted', async () => {
    const storage = new StorageMemory({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) await storage.save(id, { id }, 60_000);
    await storage.load('a'); // a is now the most recently used
    await storage.save('d', { id: 'd' }, 60_000);
    expect(storage.size).toBe(3);
    expect(await storage.load('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect((await storage.load(id))!.data).toEqual({ id });
  });

  // Issue 14, item 5: bounded by count only (10,000 x 1 MiB allowed), and a flood of new sessions
  // pushed out a logged-in one.
  it('a flood of new sessions does not evict sessions in active use', async () => {
    const storage = new StorageMemory({ maxEntries: 100 });
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`.padEnd(22, 'u'));
    for (const id of users)
      await storage.apply(id, changes({ login: 1 }), 60_000, { mode: 'create', maxSize: 1e6 });
    for (const id of users) expect(await storage.load(id)).toBeDefined(); // their next request
    for (let i = 0; i < 5_000; i++) {
      await storage.apply(`anon-${i}`.padEnd(22, 'a'), changes({ n: i }), 60_000, {
        mode: 'create',
        maxSize: 1e6,
      });
    }
    expect(storage.size).toBe(100);
    for (const id of users) expect((await storage.load(id))?.data).toEqual({ login: 1 });
    // The flood evicts only its own kind: the newest anonymous sessions are there, the oldest not.
    expect(await storage.load('anon-4999'.padEnd(22, 'a'))).toBeDefined();
    expect(await storage.load('anon-0'.padEnd(22, 'a'))).toBeUndefined();
  });

  it('is bounded by bytes too: 100 sessions of 1 MB stay within the 64 MiB default', async () => {
    const storage = new StorageMemory();
    const big = 'x'.repeat(1_000_000);
    for (let i = 0; i < 100; i++) await storage.save(`big-${i}`.padEnd(22, 'b'), { big }, 60_000);
    expect(storage.bytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(storage.size).toBe(33); // 33 x (2 x 1,000,010 + overhead) bytes fit, 34 do not
    expect(await storage.load(`big-99`.padEnd(22, 'b'))).toBeDefined();
    const small = new StorageMemory({ maxBytes: 10_000 });
    await expect(small.save('z'.repeat(22), { big: 'y'.repeat(6_000) }, 60_000)).rejects.toBeInstanceOf(
      StorageError,
    );
    expect(small.size).toBe(0);
    for (const maxBytes of [0, -1, 1.5]) expect(() => new StorageMemory({ maxBytes })).toThrow(ConfigError);
  });

  it('evicts expired entries first when full', async () => {
    let now = 0;
    const storage = new StorageMemory({ maxEntries: 3, now: () => now });
    await storage.save('old', {}, 60_000);
    await storage.save('short1', {}, 100);
    await storage.save('short2', {}, 100);
    now = 5_000;
    await storage.save('new', {}, 60_000);
    expect(storage.size).toBe(2);
    expect(await storage.load('old')).toBeDefined();
    expect(await storage.load('new')).toBeDefined();
  });

  it('apply: create, update, missing in update mode, clear, maxSize', async () => {
    const storage = new StorageMemory();
    expect(await storage.apply('s', changes({ a: 1 }), 60_000, { mode: 'update', maxSize: 100 })).toEqual({
      existed: false,
      written: false,
    });
    expect(
      await storage.apply('s', changes({ a: 1, b: 2 }), 60_000, { mode: 'create', maxSize: 100 }),
    ).toEqual({
      existed: false,
      written: true,
    });
    await storage.apply('s', changes({ c: 3 }, ['a']), 60_000, { mode: 'update', maxSize: 100 });
    expect((await storage.load('s'))!.data).toEqual({ b: 2, c: 3 });
    await storage.apply('s', changes({ d: 4 }, [], true), 60_000, { mode: 'update', maxSize: 100 });
    expect((await storage.load('s'))!.data).toEqual({ d: 4 });
    await expect(
      storage.apply('s', changes({ e: 5 }), 60_000, { mode: 'update', maxSize: 10 }),
    ).rejects.toBeInstanceOf(SessionTooLargeError);
    expect((await storage.load('s'))!.data).toEqual({ d: 4 });
  });

  it('close() drops everything', async () => {
    const storage = new StorageMemory();
    await storage.save('a', {}, 60_000);
    await storage.close();
    expect(storage.size).toBe(0);
  });
});

describe('change-set helpers', () => {
  it('applyChangeSet does not modify its base and applies clear, remove, set in order', () => {
    const base = { a: 1, b: 2 };
    expect(applyChangeSet(base, changes({ a: 9 }, ['a', 'b']))).toEqual({ a: 9 });
    expect(applyChangeSet(base, changes({ c: 3 }, [], true))).toEqual({ c: 3 });
    expect(applyChangeSet(undefined, changes({ c: 3 }))).toEqual({ c: 3 });
    expect(base).toEqual({ a: 1, b: 2 });
  });

  it('isEmptyChangeSet', () => {
    expect(isEmptyChangeSet(changes({}))).toBe(true);
    expect(isEmptyChangeSet(changes({}, [], true))).toBe(false);
    expect(isEmptyChangeSet(changes({}, ['a']))).toBe(false);
    expect(isEmptyChangeSet(changes({ a: 1 }))).toBe(false);
  });

  it('serializeSession counts UTF-8 bytes', () => {
    expect(serializeSession({ a: 'é'.repeat(46) }, 100)).toHaveLength(54);
    expect(() => serializeSession({ a: 'é'.repeat(47) }, 100)).toThrow(SessionTooLargeError);
    expect(() => serializeSession({ a: 'x'.repeat(100) }, 100)).toThrow(/108 bytes serialized, limit is 100/);
  });
});
