import { generateId } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { LONG_MS, type SuiteContext } from '../context.js';

/** Checks load, save, remove and touch: the four required methods, and `expiresAt` in milliseconds. */
export function basicSuite(t: SuiteContext): void {
  describe('load / save / remove / touch', () => {
    it('load resolves undefined for an id never saved', async () => {
      expect(await t.storage.load(generateId(), LONG_MS)).toBeUndefined();
    });

    it('save then load returns the data', async () => {
      const id = generateId();
      const data = { user: 'ada', n: 1, nested: { list: [1, 'two', null, true, { x: 1.5 }] } };
      expect(await t.storage.save(id, data, LONG_MS)).toBeUndefined();
      const loaded = await t.storage.load(id, LONG_MS);
      expect(loaded).toBeDefined();
      expect(loaded!.data).toEqual(data);
    });

    it('save of an empty object stores an existing, empty session', async () => {
      const id = generateId();
      await t.storage.save(id, {}, LONG_MS);
      const loaded = await t.storage.load(id, LONG_MS);
      expect(loaded).toBeDefined();
      expect(loaded!.data).toEqual({});
    });

    it('save replaces the whole session (keys not saved again are gone)', async () => {
      const id = generateId();
      await t.storage.save(id, { a: 1, b: 2 }, LONG_MS);
      await t.storage.save(id, { c: 3 }, LONG_MS);
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ c: 3 });
    });

    it('sessions are isolated by id', async () => {
      const a = generateId();
      const b = generateId();
      await t.storage.save(a, { who: 'a' }, LONG_MS);
      await t.storage.save(b, { who: 'b' }, LONG_MS);
      expect((await t.storage.load(a, LONG_MS))!.data).toEqual({ who: 'a' });
      expect((await t.storage.load(b, LONG_MS))!.data).toEqual({ who: 'b' });
      await t.storage.remove(a);
      expect(await t.storage.load(a, LONG_MS)).toBeUndefined();
      expect((await t.storage.load(b, LONG_MS))!.data).toEqual({ who: 'b' });
    });

    it('remove deletes a session, and is a no-op for a missing one', async () => {
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      expect(await t.storage.remove(id)).toBeUndefined();
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
      await expect(t.storage.remove(id)).resolves.toBeUndefined();
      await expect(t.storage.remove(generateId())).resolves.toBeUndefined();
    });

    it('touch keeps the data, and does not create a missing session', async () => {
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      expect(await t.storage.touch(id, LONG_MS)).toBeUndefined();
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 1 });
      const missing = generateId();
      await t.storage.touch(missing, LONG_MS);
      expect(await t.storage.load(missing, LONG_MS)).toBeUndefined();
    });

    it('expiresAt, when reported, is epoch milliseconds about maxAge ahead', async () => {
      const id = generateId();
      const before = Date.now();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      const loaded = await t.storage.load(id, LONG_MS);
      const after = Date.now();
      if (loaded!.expiresAt === undefined) return;
      expect(typeof loaded!.expiresAt).toBe('number');
      // Either the expiry set by save or one refreshed by load; never seconds, never in the past.
      expect(loaded!.expiresAt).toBeGreaterThanOrEqual(before + LONG_MS - t.grace - 1000);
      expect(loaded!.expiresAt).toBeLessThanOrEqual(after + LONG_MS + t.grace + 1000);
    });
  });

  // Concurrent: each test waits for a max age to pass; they use their own ids.
}
