// Core behaviour the HTTP adapters rely on (added with the Express/Fastify/Koa adapters).
import { SessionManager, type Storage, StorageMemory, StorageUnavailableError } from '@kv-session/core';
import { describe, expect, it } from 'vitest';

describe('commit, as the adapters use it', () => {
  it('removing keys from a session that was never stored writes nothing and sends no cookie', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const s = m.session({});
    await s.remove('a', 'b');
    const r = await m.commit(s);
    expect(r.setCookie).toBeUndefined();
    expect(storage.size).toBe(0);
  });

  it('keeps writes made while a save is in flight (streamed responses)', async () => {
    const inner = new StorageMemory();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const storage: Storage = {
      load: (id) => inner.load(id),
      save: (id, d, ms) => inner.save(id, d, ms),
      touch: (id, ms) => inner.touch(id, ms),
      remove: (id) => inner.remove(id),
      apply: async (id, changes, ms, o) => {
        // Like a network storage: the change set is serialized when the call starts.
        const sent = { clear: changes.clear, remove: new Set(changes.remove), set: new Map(changes.set) };
        await gate;
        return inner.apply(id, sent, ms, o);
      },
    };
    const m = new SessionManager({ storage });
    const s = m.session({});
    await s.set('before', 1);
    const first = m.commit(s);
    await s.set('after', 2); // while the first save waits
    release();
    expect((await first).setCookie).toBeDefined();
    await m.commit(s);
    expect((await inner.load(s.id))?.data).toEqual({ before: 1, after: 2 });
  });

  it('a failed save keeps the change set, newer changes on top, for a later commit', async () => {
    const inner = new StorageMemory();
    let down = true;
    const storage: Storage = {
      load: (id) => inner.load(id),
      save: (id, d, ms) => inner.save(id, d, ms),
      touch: (id, ms) => inner.touch(id, ms),
      remove: (id) => inner.remove(id),
      apply: async (id, changes, ms, o) => {
        if (down) throw new StorageUnavailableError();
        return inner.apply(id, changes, ms, o);
      },
    };
    const m = new SessionManager({ storage });
    const s = m.session({});
    await s.setMany({ a: 1, b: 2 });
    await expect(m.commit(s)).rejects.toBeInstanceOf(StorageUnavailableError);
    await s.remove('b');
    down = false;
    await m.commit(s);
    expect((await inner.load(s.id))?.data).toEqual({ a: 1 });
  });
});
