// Storages with the optional loadSizes() (and apply): a request that writes before it reads checks
// maxSize against the stored key sizes and never loads the whole session.
import {
  CorruptDataError,
  generateId,
  SessionManager,
  type SessionOptions,
  SessionTooLargeError,
  type StoredSizes,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CountingStorage, cookieOf } from './helpers.js';

class SizedStorage extends CountingStorage {
  sizeCalls = 0;
  corrupt = false;
  async loadSizes(id: string, maxAgeMs: number): Promise<StoredSizes | undefined> {
    this.sizeCalls++;
    if (this.corrupt) throw new CorruptDataError('bad');
    await this.inner.touch(id, maxAgeMs);
    const stored = await this.inner.load(id);
    if (stored === undefined) return undefined;
    const sizes = new Map<string, number>();
    for (const [k, v] of Object.entries(stored.data)) sizes.set(k, Buffer.byteLength(JSON.stringify(v)));
    return { sizes, expiresAt: Date.now() + maxAgeMs };
  }
}

async function setup(
  options: Partial<SessionOptions> = {},
  data: Record<string, unknown> = { a: 1, b: 'bb' },
) {
  const storage = new SizedStorage();
  const errors: unknown[] = [];
  const manager = new SessionManager({ storage, onError: (e) => errors.push(e), ...options });
  const s = manager.session();
  await s.setMany(data as never);
  const cookie = cookieOf((await manager.commit(s)).setCookie);
  storage.reset();
  storage.sizeCalls = 0;
  return { storage, manager, cookie, errors, id: s.id };
}

describe('Storage.loadSizes', () => {
  it('a write-only request reads sizes, not the session, and applies only its change', async () => {
    const { storage, manager, cookie, id } = await setup();
    const s = manager.session({ cookie });
    await s.set('c', 3);
    await s.remove('b');
    expect(storage.sizeCalls).toBe(1);
    expect(storage.count('load')).toBe(0);
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toBeUndefined(); // same id, nothing to send
    expect(s.id).toBe(id);
    expect(storage.count('apply')).toBe(1);
    expect(storage.count('load')).toBe(0);
    expect((await storage.inner.load(id))!.data).toEqual({ a: 1, c: 3 });
  });

  it('reads after a write see the request’s own changes, then the stored rest', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    await s.set('a', 10);
    await s.remove('b');
    expect(await s.get('a')).toBe(10);
    expect(await s.get('b')).toBeUndefined();
    expect(await s.has('b')).toBe(false);
    expect(await s.has('a')).toBe(true);
    expect(storage.count('load')).toBe(0);
    await s.set('c', 3);
    // data() needs the whole session: loaded once, with this request's changes on top.
    expect(await s.data()).toEqual({ a: 10, c: 3 });
    expect(storage.count('load')).toBe(1);
    await s.set('d', 4);
    expect(await s.data()).toEqual({ a: 10, c: 3, d: 4 });
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 10, c: 3, d: 4 });
  });

  it('maxSize is checked at set() against the stored sizes; nothing changes on failure', async () => {
    // Stored: {"big":"xxx…"} of about 900 bytes; maxSize 1000.
    const { storage, manager, cookie, id } = await setup({ maxSize: 1000 }, { big: 'x'.repeat(880) });
    const s = manager.session({ cookie });
    const error = await s.set('huge', 'y'.repeat(200)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect(storage.count('load')).toBe(0);
    expect(await s.get('huge')).toBeUndefined(); // nothing changed (this read loads the session)
    // In a new request: replacing the big value with a small one frees its size, so it fits.
    storage.reset();
    const again = manager.session({ cookie });
    await again.set('big', 'small');
    await again.set('more', 'y'.repeat(200));
    await manager.commit(again);
    expect(storage.count('load')).toBe(0);
    expect(storage.count('apply')).toBe(1);
    expect((await storage.inner.load(id))!.data).toEqual({ big: 'small', more: 'y'.repeat(200) });
  });

  it('the exact limit: a session of exactly maxSize bytes fits, one byte more does not', async () => {
    const { manager, cookie } = await setup({ maxSize: 100 }, { a: 1 });
    // {"a":1,"b":"…"}: 2 braces + "a":1 (5) + comma + "b": (4) + the string with quotes.
    const room = 100 - (2 + 5 + 1 + 4) - 2;
    const s = manager.session({ cookie });
    await expect(s.set('b', 'z'.repeat(room + 1))).rejects.toBeInstanceOf(SessionTooLargeError);
    await s.set('b', 'z'.repeat(room));
    await manager.commit(s);
    const check = manager.session({ cookie });
    expect(Buffer.byteLength(JSON.stringify(await check.data()))).toBe(100);
  });

  it('an unknown or vanished id is not adopted: the write creates a new session', async () => {
    const { storage, manager } = await setup();
    const unknown = generateId();
    const s = manager.session({ cookie: `sid=${unknown}` });
    await s.set('x', 1);
    const { setCookie } = await manager.commit(s);
    expect(s.id).not.toBe(unknown);
    expect(setCookie).toMatch(/^sid=/);
    expect(storage.count('load')).toBe(0);
    expect(await storage.inner.load(unknown)).toBeUndefined();
    expect((await storage.inner.load(s.id))!.data).toEqual({ x: 1 });
  });

  it('a session removed between the size read and the commit stays removed', async () => {
    const { storage, manager, cookie, id } = await setup();
    const s = manager.session({ cookie });
    await s.set('x', 1);
    await storage.inner.remove(id); // another request logged out
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toBeUndefined();
    expect(await storage.inner.load(id)).toBeUndefined();
  });

  it('with a schema, a transformed value reads back as the schema makes it', async () => {
    const schema = z.object({ at: z.coerce.date(), n: z.number() });
    const { storage, manager, cookie } = await setup({ schema } as never, { n: 1 });
    const s = manager.session({ cookie });
    await s.set('at', new Date('2026-01-02T03:04:05Z') as never);
    expect(((await s.get('at')) as unknown as Date).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(await s.data()).toEqual({ n: 1, at: new Date('2026-01-02T03:04:05Z') });
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ n: 1, at: '2026-01-02T03:04:05.000Z' });
  });

  it("'reset' of off-schema stored data after a sized write keeps the write and clears the rest", async () => {
    const schema = z.object({ n: z.number(), s: z.string() });
    const { storage, manager, cookie, errors } = await setup(
      { schema, invalidStoredData: 'reset' } as never,
      {
        n: 1,
      },
    );
    await storage.inner.save(await manager.session({ cookie }).getId(), { n: 'not a number' }, 60_000);
    const s = manager.session({ cookie });
    await s.set('s' as never, 'kept' as never);
    expect(await s.data()).toEqual({ s: 'kept' });
    expect(errors).toHaveLength(1);
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ s: 'kept' });
  });

  it('corrupt data seen by loadSizes falls back to the whole-session load, which reports it', async () => {
    const { storage, manager, cookie } = await setup();
    storage.corrupt = true;
    const s = manager.session({ cookie });
    await s.set('c', 3);
    expect(storage.count('load')).toBe(1);
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 1, b: 'bb', c: 3 });
  });

  it('a loadSizes failure reaches the caller and a retry works', async () => {
    const { storage, manager, cookie } = await setup();
    const original = storage.loadSizes.bind(storage);
    let fail = true;
    storage.loadSizes = async (id, maxAge) => {
      if (fail) throw new Error('socket closed');
      return original(id, maxAge);
    };
    const s = manager.session({ cookie });
    await expect(s.set('c', 3)).rejects.toThrow(/socket closed/);
    fail = false;
    await s.set('c', 3);
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 1, b: 'bb', c: 3 });
  });

  it('concurrent writes in one request share one size read', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    await Promise.all([s.set('c', 3), s.set('d', 4), s.remove('a')]);
    expect(storage.sizeCalls).toBe(1);
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ b: 'bb', c: 3, d: 4 });
  });

  it('regenerate after a sized write moves the merged data to the new id', async () => {
    const { storage, manager, cookie, id } = await setup();
    const s = manager.session({ cookie });
    await s.set('c', 3);
    await s.regenerate();
    await manager.commit(s);
    expect(s.id).not.toBe(id);
    expect(await storage.inner.load(id)).toBeUndefined();
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 1, b: 'bb', c: 3 });
  });

  it('storages without apply() still load the whole session before a write', async () => {
    const { storage, manager, cookie } = await setup();
    (storage as { apply?: unknown }).apply = undefined;
    const s = manager.session({ cookie });
    await s.set('c', 3);
    expect(storage.sizeCalls).toBe(0);
    expect(storage.count('load')).toBe(1);
  });
});
