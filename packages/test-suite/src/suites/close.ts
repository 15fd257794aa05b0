import { generateId } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { LONG_MS, type SuiteContext } from '../context.js';

/** Checks `close()` on a used storage (skipped without `close`). */
export function closeSuite(t: SuiteContext): void {
  describe('close()', () => {
    it('close() resolves on a storage that has been used', async (ctx) => {
      const s = await t.make();
      if (s.close === undefined) return ctx.skip('storage has no close()');
      const id = generateId();
      await s.save(id, { a: 1 }, LONG_MS);
      expect((await s.load(id, LONG_MS))!.data).toEqual({ a: 1 });
      await expect(s.close()).resolves.toBeUndefined();
      t.closed.add(s);
    });
  });
}
