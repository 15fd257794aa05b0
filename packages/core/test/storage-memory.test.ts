import {
  applyChangeSet,
  isEmptyChangeSet,
  SessionTooLargeError,
  StorageMemory,
  serializeSession,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';

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
