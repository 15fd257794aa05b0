import { generateId, isValidId } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { LONG_MS, type SuiteContext } from '../context.js';
import { unusualIds } from '../fixtures.js';

/** Checks ids with unusual but valid characters. */
export function idsSuite(t: SuiteContext): void {
  describe('ids with unusual but valid characters', () => {
    it.each(unusualIds())('id with %s round trips and is removable', async (_label, id) => {
      expect(isValidId(id)).toBe(true);
      await t.storage.save(id, { id }, LONG_MS);
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ id });
      await t.storage.touch(id, LONG_MS);
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ id });
      await t.storage.remove(id);
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
    });

    it('ids that differ only in case, or only in - versus _, are different sessions', async () => {
      const tail = generateId().slice(0, 20);
      const ids = [`Aa${tail}`, `aa${tail}`, `AA${tail}`, `-x${tail}`, `_x${tail}`];
      for (const id of ids) await t.storage.save(id, { id }, LONG_MS);
      for (const id of ids) expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ id });
      for (const id of ids) await t.storage.remove(id);
    });
  });
}
