import {
  type ChangeSet,
  generateId,
  type MoveOptions,
  SessionTooLargeError,
  type Storage,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, LONG_MS, NO_LIMIT, type SuiteContext, updateWith } from '../context.js';
import { changeSet } from '../fixtures.js';

/** Checks the optional `move`: `regenerate()` atomic with the old record. Skipped without it. */
export function moveSuite(t: SuiteContext): void {
  describe('move (optional): regenerate() atomic with the old record', () => {
    const move = (s: Storage) => {
      const fn = s.move;
      if (fn === undefined) throw new Error('unreachable: move tests run only when move exists');
      return (from: string, to: string, changes: ChangeSet, options: Partial<MoveOptions> = {}) =>
        fn.call(s, from, to, changes, LONG_MS, { maxSize: NO_LIMIT, ...options });
    };

    it('moves the stored data, with the change set on top; the old id reads as missing', async (ctx) => {
      if (t.storage.move === undefined) return ctx.skip('storage has no move()');
      const from = generateId();
      const to = generateId();
      await t.storage.save(from, { keep: 1, drop: 2, over: 'old' }, LONG_MS);
      const loaded = await t.storage.load(from, LONG_MS);
      const result = await move(t.storage)(from, to, changeSet({ over: 'new', add: 3 }, ['drop']), {
        ...(loaded?.version === undefined ? {} : { version: loaded.version }),
      });
      expect(result).toEqual({ moved: true });
      expect((await t.storage.load(to, LONG_MS))!.data).toEqual({ keep: 1, over: 'new', add: 3 });
      expect(await t.storage.load(from, LONG_MS)).toBeUndefined();
      if (t.storage.loadKeys !== undefined)
        expect(await t.storage.loadKeys(from, ['keep'], LONG_MS)).toBeUndefined();
      if (t.storage.loadSizes !== undefined) expect(await t.storage.loadSizes(from, LONG_MS)).toBeUndefined();
    });

    it('moves what is stored now, not what was loaded: a write after the load moves too', async (ctx) => {
      if (t.storage.move === undefined || t.storage.apply === undefined) {
        return ctx.skip('storage has no move() or no apply()');
      }
      const from = generateId();
      const to = generateId();
      await t.storage.save(from, { a: 1 }, LONG_MS);
      const loaded = await t.storage.load(from, LONG_MS);
      await apply(t.storage)(from, changeSet({ cart: ['book'] }), LONG_MS, updateWith(loaded));
      const result = await move(t.storage)(from, to, changeSet({ user: 'ann' }), {
        ...(loaded?.version === undefined ? {} : { version: loaded.version }),
      });
      expect(result).toEqual({ moved: true });
      expect((await t.storage.load(to, LONG_MS))!.data).toEqual({ a: 1, cart: ['book'], user: 'ann' });
    });

    it('a missing or removed old record is not moved: nothing is written under either id', async (ctx) => {
      if (t.storage.move === undefined) return ctx.skip('storage has no move()');
      const to = generateId();
      expect(await move(t.storage)(generateId(), to, changeSet({ a: 1 }))).toEqual({ moved: false });
      expect(await t.storage.load(to, LONG_MS)).toBeUndefined();
      const from = generateId();
      await t.storage.save(from, { secret: 'old data' }, LONG_MS);
      const loaded = await t.storage.load(from, LONG_MS);
      await t.storage.remove(from);
      const options = loaded?.version === undefined ? {} : { version: loaded.version };
      expect(await move(t.storage)(from, to, changeSet({ a: 1 }), options)).toEqual({ moved: false });
      expect(await t.storage.load(to, LONG_MS)).toBeUndefined();
      expect(await t.storage.load(from, LONG_MS)).toBeUndefined();
    });

    it('a record already moved is not moved again', async (ctx) => {
      if (t.storage.move === undefined) return ctx.skip('storage has no move()');
      const from = generateId();
      const first = generateId();
      const second = generateId();
      await t.storage.save(from, { a: 1 }, LONG_MS);
      expect(await move(t.storage)(from, first, changeSet())).toEqual({ moved: true });
      expect(await move(t.storage)(from, second, changeSet())).toEqual({ moved: false });
      expect(await t.storage.load(second, LONG_MS)).toBeUndefined();
      expect((await t.storage.load(first, LONG_MS))!.data).toEqual({ a: 1 });
    });

    it('an update of the old id after the move answers moved and writes nothing anywhere', async (ctx) => {
      if (t.storage.move === undefined || t.storage.apply === undefined) {
        return ctx.skip('storage has no move() or no apply()');
      }
      const from = generateId();
      const to = generateId();
      await t.storage.save(from, { a: 1 }, LONG_MS);
      const loaded = await t.storage.load(from, LONG_MS);
      await move(t.storage)(from, to, changeSet());
      const result = await apply(t.storage)(from, changeSet({ cart: ['book'] }), LONG_MS, updateWith(loaded));
      expect(result).toEqual({ existed: false, written: false, moved: true });
      expect(await t.storage.load(from, LONG_MS)).toBeUndefined();
      expect((await t.storage.load(to, LONG_MS))!.data).toEqual({ a: 1 });
      // remove() of the old id deletes the mark: a later update is an ordinary missing session.
      await t.storage.remove(from);
      const after = await apply(t.storage)(from, changeSet({ b: 2 }), LONG_MS, updateWith(undefined));
      expect(after.written).toBe(false);
      expect(after.moved ?? false).toBe(false);
    });

    it('over maxSize: SessionTooLargeError, and the old record is intact', async (ctx) => {
      if (t.storage.move === undefined) return ctx.skip('storage has no move()');
      const from = generateId();
      const to = generateId();
      await t.storage.save(from, { a: 'x'.repeat(100) }, LONG_MS);
      await expect(
        move(t.storage)(from, to, changeSet({ b: 'y'.repeat(100) }), { maxSize: 150 }),
      ).rejects.toBeInstanceOf(SessionTooLargeError);
      expect((await t.storage.load(from, LONG_MS))!.data).toEqual({ a: 'x'.repeat(100) });
      expect(await t.storage.load(to, LONG_MS)).toBeUndefined();
    });

    it('move racing remove and update: never the old data after a remove, never a write lost silently', async (ctx) => {
      if (t.storage.move === undefined || t.storage.apply === undefined) {
        return ctx.skip('storage has no move() or no apply()');
      }
      for (let round = 0; round < 20; round++) {
        const from = generateId();
        const to = generateId();
        await t.storage.save(from, { a: 1 }, LONG_MS);
        const loaded = await t.storage.load(from, LONG_MS);
        const [moved, applied] = await Promise.all([
          move(t.storage)(from, to, changeSet({ user: 'ann' })),
          apply(t.storage)(from, changeSet({ cart: round }), LONG_MS, updateWith(loaded)),
        ]);
        const after = await t.storage.load(to, LONG_MS);
        expect(moved.moved).toBe(true);
        // The write landed before the move (and moved along) or was told the session moved.
        if (applied.written) expect(after!.data).toEqual({ a: 1, cart: round, user: 'ann' });
        else expect(applied.moved).toBe(true);

        const gone = generateId();
        const target = generateId();
        await t.storage.save(gone, { secret: round }, LONG_MS);
        const [result] = await Promise.all([
          move(t.storage)(gone, target, changeSet()),
          t.storage.remove(gone),
        ]);
        const revived = await t.storage.load(target, LONG_MS);
        // Removed first: nothing moved. Moved first: the remove came after (and found only the mark).
        if (result.moved) expect(revived!.data).toEqual({ secret: round });
        else expect(revived).toBeUndefined();
        expect(await t.storage.load(gone, LONG_MS)).toBeUndefined();
      }
    });
  });
}
