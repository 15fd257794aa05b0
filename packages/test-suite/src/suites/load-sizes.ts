import { generateId, type JsonValue, type Storage } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, LONG_MS, SHORT_MS, type SuiteContext, updateWith } from '../context.js';
import { AWKWARD_KEYS, changeSet, fromEntries, UNICODE_STRINGS } from '../fixtures.js';

/** Checks the optional `loadSizes`. Skipped without it. */
export function loadSizesSuite(t: SuiteContext): void {
  describe('loadSizes (optional)', () => {
    const loadSizes = (s: Storage) => {
      const fn = s.loadSizes;
      if (fn === undefined) throw new Error('unreachable: loadSizes tests run only when loadSizes exists');
      return fn.bind(s);
    };
    const jsonBytes = (value: JsonValue) => Buffer.byteLength(JSON.stringify(value), 'utf8');

    it("reports each key's UTF-8 JSON byte length, awkward and unicode keys included", async (ctx) => {
      if (t.storage.loadSizes === undefined) return ctx.skip('storage has no loadSizes()');
      const id = generateId();
      const data = fromEntries([
        ...AWKWARD_KEYS.map((k, i): [string, JsonValue] => [k, { i }]),
        ...UNICODE_STRINGS.map((u, i): [string, JsonValue] => [`u${i}`, u]),
        ['nested', { list: [1, 'two', null, true, { deep: 'é"\\\n' }] }],
        ['number', -1.5e-7],
        ['empty', ''],
      ]);
      await t.storage.save(id, data, LONG_MS);
      const stored = await loadSizes(t.storage)(id, LONG_MS);
      expect(stored).toBeDefined();
      const expected = new Map(Object.keys(data).map((k) => [k, jsonBytes(data[k]!)]));
      expect(new Map([...stored!.sizes].sort())).toEqual(new Map([...expected].sort()));
    });

    it('follows apply: set, removed and cleared keys', async (ctx) => {
      if (t.storage.loadSizes === undefined || t.storage.apply === undefined) {
        return ctx.skip('storage has no loadSizes() or no apply()');
      }
      const id = generateId();
      await t.storage.save(id, { a: 1, b: 'bb', c: [1, 2] }, LONG_MS);
      await apply(t.storage)(id, changeSet({ a: 'longer value' }, ['b']), LONG_MS, updateWith(undefined));
      const after = await loadSizes(t.storage)(id, LONG_MS);
      expect(after!.sizes).toEqual(
        new Map([
          ['a', 14],
          ['c', 5],
        ]),
      );
      await apply(t.storage)(id, changeSet({}, [], true), LONG_MS, updateWith(undefined));
      const cleared = await loadSizes(t.storage)(id, LONG_MS);
      // A cleared session may be gone or exist with no keys; either way it has no sizes.
      expect(cleared === undefined || cleared.sizes.size === 0).toBe(true);
    });

    it('resolves undefined for a missing, removed or expired session', async (ctx) => {
      if (t.storage.loadSizes === undefined) return ctx.skip('storage has no loadSizes()');
      const fn = loadSizes(t.storage);
      expect(await fn(generateId(), LONG_MS)).toBeUndefined();
      const removed = generateId();
      await t.storage.save(removed, { a: 1 }, LONG_MS);
      await t.storage.remove(removed);
      expect(await fn(removed, LONG_MS)).toBeUndefined();
      const expiring = generateId();
      await t.storage.save(expiring, { a: 1 }, SHORT_MS);
      await t.pastExpiry();
      expect(await fn(expiring, SHORT_MS)).toBeUndefined();
    });

    it('an empty existing session is defined, with no sizes', async (ctx) => {
      if (t.storage.loadSizes === undefined) return ctx.skip('storage has no loadSizes()');
      const id = generateId();
      await t.storage.save(id, {}, LONG_MS);
      const stored = await loadSizes(t.storage)(id, LONG_MS);
      expect(stored).toBeDefined();
      expect(stored!.sizes.size).toBe(0);
    });
  });
}
