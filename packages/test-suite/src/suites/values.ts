import { generateId, type JsonValue, type SessionData } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, LONG_MS, NO_LIMIT, type SuiteContext } from '../context.js';
import { AWKWARD_KEYS, changeSet, fromEntries, UNICODE_STRINGS } from '../fixtures.js';

/** Checks large and unicode values, and awkward keys. */
export function valuesSuite(t: SuiteContext): void {
  describe('large and unicode values', () => {
    it('a value of 512 KiB or more round trips exactly', async () => {
      const id = generateId();
      const big = 'ab😀\u2028'.repeat(150_000); // > 512 KiB of UTF-16 and of UTF-8
      const data = { big, list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `item ${i}` })) };
      await t.storage.save(id, data, LONG_MS);
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(loaded['big']).toBe(big);
      expect(loaded).toEqual(data);
      if (t.storage.apply !== undefined) {
        const other = generateId();
        await apply(t.storage)(other, changeSet({ big }), LONG_MS, { mode: 'create', maxSize: NO_LIMIT });
        expect((await t.storage.load(other, LONG_MS))!.data['big']).toBe(big);
      }
    });

    it('unicode strings (emoji, astral, U+2028, controls, lone surrogates) round trip exactly', async () => {
      const id = generateId();
      const data: SessionData = { strings: [...UNICODE_STRINGS] };
      UNICODE_STRINGS.forEach((s, i) => {
        data[`s${i}`] = s;
      });
      await t.storage.save(id, data, LONG_MS);
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(loaded).toEqual(data);
      UNICODE_STRINGS.forEach((s, i) => {
        expect(loaded[`s${i}`]).toBe(s);
      });
    });

    it('awkward keys ("__proto__", "a.b", "", ...) stay plain own keys', async () => {
      const id = generateId();
      const data = fromEntries(AWKWARD_KEYS.map((k, i) => [k, { i, k }]));
      await t.storage.save(id, data, LONG_MS);
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
      expect(Object.keys(loaded).sort()).toEqual([...AWKWARD_KEYS].sort());
      for (const [i, k] of AWKWARD_KEYS.entries()) {
        expect(Object.hasOwn(loaded, k)).toBe(true);
        expect(loaded[k]).toEqual({ i, k });
      }
      expect(JSON.stringify(loaded)).toBe(JSON.stringify(data));
      expect(({} as Record<string, unknown>)['i']).toBeUndefined(); // no prototype pollution
    });

    it('awkward keys can be set and removed through apply', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const fn = apply(t.storage);
      const set = fromEntries(AWKWARD_KEYS.map((k) => [k, k]));
      await fn(id, changeSet(set), LONG_MS, { mode: 'create', maxSize: NO_LIMIT });
      await fn(id, changeSet({}, ['__proto__', 'a.b', '']), LONG_MS, { mode: 'update', maxSize: NO_LIMIT });
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
      const left = AWKWARD_KEYS.filter((k) => !['__proto__', 'a.b', ''].includes(k));
      expect(Object.keys(loaded).sort()).toEqual([...left].sort());
      expect(Object.hasOwn(loaded, '__proto__')).toBe(false);
      const again = fromEntries([['__proto__', { polluted: true }]]);
      await fn(id, changeSet(again), LONG_MS, { mode: 'update', maxSize: NO_LIMIT });
      const reloaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(Object.hasOwn(reloaded, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(reloaded, '__proto__')?.value).toEqual({ polluted: true });
      expect((reloaded as { polluted?: unknown }).polluted).toBeUndefined();
    });

    it('numbers, booleans, null, nesting and empty containers round trip exactly', async () => {
      const id = generateId();
      const data: SessionData = {
        numbers: [0, 1, -1, 0.1, 1e308, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1.5e-10],
        flags: [true, false, null],
        empty: { obj: {}, arr: [], str: '' },
        deep: JSON.parse(`${'['.repeat(64)}1${']'.repeat(64)}`) as JsonValue,
        numericKeys: { '1': 'one', '01': 'zero one', '-1': 'minus one' },
      };
      await t.storage.save(id, data, LONG_MS);
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(loaded).toEqual(data);
      expect(JSON.stringify(loaded)).toBe(JSON.stringify(data));
    });
  });
}
