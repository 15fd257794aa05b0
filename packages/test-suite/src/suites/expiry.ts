import { generateId } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, inTime, LONG_MS, NO_LIMIT, SHORT_MS, type SuiteContext, timed } from '../context.js';
import { changeSet, sleep } from '../fixtures.js';

/** Checks expiry in milliseconds: records expire after their max age, and `touch`/`apply` move the expiry (concurrent tests, each waits past a 400 ms max age). */
export function expirySuite(t: SuiteContext): void {
  // Concurrent: each test waits for a max age to pass; they use their own ids.
  describe.concurrent('expiry (milliseconds)', () => {
    it('an expired session is not recreated by apply in update mode', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1 }, SHORT_MS);
      await t.pastExpiry();
      const result = await apply(t.storage)(id, changeSet({ b: 2 }), LONG_MS, {
        mode: 'update',
        maxSize: NO_LIMIT,
      });
      expect(result.written).toBe(false);
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
    });

    it('a session past its max age loads as undefined; touch extends it', () =>
      timed(async () => {
        const expiring = generateId();
        const touched = generateId();
        const applied = generateId();
        const start = Date.now();
        await t.storage.save(expiring, { a: 1 }, SHORT_MS);
        await t.storage.save(touched, { b: 2 }, SHORT_MS);
        await t.storage.touch(touched, LONG_MS);
        if (t.storage.apply !== undefined) {
          await apply(t.storage)(applied, changeSet({ c: 3 }), SHORT_MS, {
            mode: 'create',
            maxSize: NO_LIMIT,
          });
        }
        // Still there before the max age (a storage may refresh expiry on load: fine either way).
        const early = await t.storage.load(expiring, SHORT_MS);
        inTime(start, SHORT_MS);
        expect(early!.data).toEqual({ a: 1 });
        await t.pastExpiry();
        expect(await t.storage.load(expiring, SHORT_MS)).toBeUndefined();
        expect((await t.storage.load(touched, LONG_MS))!.data).toEqual({ b: 2 });
        if (t.storage.apply !== undefined) expect(await t.storage.load(applied, SHORT_MS)).toBeUndefined();
      }));

    it('touch before the max age keeps a session alive past its first expiry', () =>
      timed(async () => {
        const id = generateId();
        const start = Date.now();
        await t.storage.save(id, { a: 1 }, SHORT_MS);
        await sleep(SHORT_MS / 2);
        const touchedAt = Date.now();
        await t.storage.touch(id, SHORT_MS * 2 + t.grace);
        inTime(start, SHORT_MS);
        await sleep(SHORT_MS / 2 + t.grace + 100);
        // Past the max age given to save, within the one given to touch.
        const loaded = await t.storage.load(id, LONG_MS);
        inTime(touchedAt, SHORT_MS * 2 + t.grace);
        expect(loaded!.data).toEqual({ a: 1 });
      }));

    it('apply in update mode sets a new max age', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      await timed(async () => {
        const id = generateId();
        const start = Date.now();
        await t.storage.save(id, { a: 1 }, SHORT_MS);
        await apply(t.storage)(id, changeSet({ b: 2 }), LONG_MS, { mode: 'update', maxSize: NO_LIMIT });
        inTime(start, SHORT_MS);
        await t.pastExpiry();
        expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 1, b: 2 });
      });
    });

    it('save sets a new max age each time', async () => {
      const id = generateId();
      await t.storage.save(id, { v: 1 }, SHORT_MS);
      await t.storage.save(id, { v: 2 }, LONG_MS);
      await t.pastExpiry();
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ v: 2 });
    });

    it('an expired session is not brought back by touch', async () => {
      const id = generateId();
      await t.storage.save(id, { a: 1 }, SHORT_MS);
      await t.pastExpiry();
      await t.storage.touch(id, LONG_MS);
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
    });
  });
}
