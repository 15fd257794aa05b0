import { generateId, type JsonValue, type Storage } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { LONG_MS, SHORT_MS, type SuiteContext } from '../context.js';
import { AWKWARD_KEYS, fromEntries } from '../fixtures.js';

/** Checks the optional `loadKeys`. Skipped without it. */
export function loadKeysSuite(t: SuiteContext): void {
  describe('loadKeys (optional)', () => {
    const loadKeys = (s: Storage) => {
      const fn = s.loadKeys;
      if (fn === undefined) throw new Error('unreachable: loadKeys tests run only when loadKeys exists');
      return fn.bind(s);
    };

    it('returns only the requested keys that are set', async (ctx) => {
      if (t.storage.loadKeys === undefined) return ctx.skip('storage has no loadKeys()');
      const id = generateId();
      await t.storage.save(id, { a: 1, b: { c: [2] }, d: null }, LONG_MS);
      const loaded = await loadKeys(t.storage)(id, ['b', 'd', 'missing'], LONG_MS);
      expect(loaded).toBeDefined();
      expect(loaded!.data).toEqual({ b: { c: [2] }, d: null });
      expect(Object.hasOwn(loaded!.data, 'missing')).toBe(false);
      expect(Object.hasOwn(loaded!.data, 'a')).toBe(false);
    });

    it('resolves undefined for a missing, removed or expired session', async (ctx) => {
      if (t.storage.loadKeys === undefined) return ctx.skip('storage has no loadKeys()');
      const fn = loadKeys(t.storage);
      expect(await fn(generateId(), ['a'], LONG_MS)).toBeUndefined();
      const removed = generateId();
      await t.storage.save(removed, { a: 1 }, LONG_MS);
      await t.storage.remove(removed);
      expect(await fn(removed, ['a'], LONG_MS)).toBeUndefined();
      const expiring = generateId();
      await t.storage.save(expiring, { a: 1 }, SHORT_MS);
      await t.pastExpiry();
      expect(await fn(expiring, ['a'], SHORT_MS)).toBeUndefined();
    });

    it('an existing session without the requested keys is defined, with empty data', async (ctx) => {
      if (t.storage.loadKeys === undefined) return ctx.skip('storage has no loadKeys()');
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      const loaded = await loadKeys(t.storage)(id, ['zz'], LONG_MS);
      expect(loaded).toBeDefined();
      expect(loaded!.data).toEqual({});
    });

    it('awkward keys come back as plain own keys, as fresh copies', async (ctx) => {
      if (t.storage.loadKeys === undefined) return ctx.skip('storage has no loadKeys()');
      const id = generateId();
      const data = fromEntries(AWKWARD_KEYS.map((k, i) => [k, { i }]));
      await t.storage.save(id, data, LONG_MS);
      const fn = loadKeys(t.storage);
      const first = (await fn(id, ['__proto__', '', 'a.b'], LONG_MS))!.data;
      expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
      expect(Object.keys(first).sort()).toEqual(['', '__proto__', 'a.b']);
      expect(Object.getOwnPropertyDescriptor(first, '__proto__')?.value).toEqual({
        i: AWKWARD_KEYS.indexOf('__proto__'),
      });
      (first['a.b'] as Record<string, JsonValue>)['i'] = -1;
      const second = (await fn(id, ['a.b'], LONG_MS))!.data;
      expect(second['a.b']).toEqual({ i: AWKWARD_KEYS.indexOf('a.b') });
    });
  });
}
