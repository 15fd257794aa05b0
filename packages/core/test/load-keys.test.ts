// Storages with the optional loadKeys(): get/has read single keys until the whole session is needed.
import { CorruptDataError, generateId, SessionManager, type StoredSession } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { CountingStorage, cookieOf } from './helpers.js';

class KeyStorage extends CountingStorage {
  keyCalls: string[][] = [];
  corrupt = false;
  async loadKeys(id: string, keys: readonly string[]): Promise<StoredSession | undefined> {
    this.keyCalls.push([...keys]);
    if (this.corrupt) throw new CorruptDataError('bad');
    const stored = await this.inner.load(id);
    if (stored === undefined) return undefined;
    const data: Record<string, never> = {};
    for (const key of keys) if (Object.hasOwn(stored.data, key)) data[key] = stored.data[key] as never;
    return stored.expiresAt === undefined ? { data } : { data, expiresAt: stored.expiresAt };
  }
}

async function setup() {
  const storage = new KeyStorage();
  const manager = new SessionManager({ storage, onError: () => {} });
  const s = manager.session();
  await s.setMany({ a: 1, b: 2 });
  const cookie = cookieOf((await manager.commit(s)).setCookie);
  storage.reset();
  return { storage, manager, cookie };
}

describe('Storage.loadKeys', () => {
  it('get/has read single keys without loading the whole session; a repeat read is free', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    expect(await s.get('a')).toBe(1);
    expect(await s.has('b')).toBe(true);
    expect(await s.has('zz')).toBe(false);
    // The first read brings the session's metadata (`__kv`: its lifetime, absoluteTimeout) along.
    expect(storage.keyCalls).toEqual([['a', '__kv'], ['b'], ['zz']]);
    expect(storage.count('load')).toBe(0);
    await manager.commit(s);
    expect(storage.count('touch')).toBe(0); // expiresAt was recent
  });

  it('data() and writes load the whole session; then reads use it', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    await s.set('c', 3);
    expect(storage.count('load')).toBe(1);
    expect(await s.get('b')).toBe(2);
    expect(await s.data()).toEqual({ a: 1, b: 2, c: 3 });
    expect(storage.keyCalls).toHaveLength(1);
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('an unknown id read through loadKeys is not adopted', async () => {
    const { storage, manager } = await setup();
    const unknown = generateId();
    const s = manager.session({ cookie: `sid=${unknown}` });
    expect(await s.get('a')).toBeUndefined();
    expect(await s.has('a')).toBe(false);
    await s.set('x', 1);
    await manager.commit(s);
    expect(s.id).not.toBe(unknown);
    expect(storage.count('load')).toBe(0);
    expect(await storage.inner.load(unknown)).toBeUndefined();
  });

  it('corrupt data seen by loadKeys falls back to the whole-session load, which reports it', async () => {
    const { storage, manager, cookie } = await setup();
    storage.corrupt = true;
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1); // the inner storage's load is fine: whole load used
    expect(storage.count('load')).toBe(1);
  });

  it('other loadKeys failures reach the caller', async () => {
    const { storage, manager, cookie } = await setup();
    storage.loadKeys = async () => {
      throw new Error('down');
    };
    await expect(manager.session({ cookie }).get('a')).rejects.toMatchObject({ name: 'StorageError' });
  });
});
