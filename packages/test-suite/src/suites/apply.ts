import { generateId, type SessionData } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, LONG_MS, NO_LIMIT, type SuiteContext, updateWith } from '../context.js';
import { changeSet } from '../fixtures.js';

/** Checks the optional atomic `apply` (change sets and concurrency): create and update modes, a removed session is not recreated, `clear`, 50 concurrent writers, `maxSize`, versions. Skipped without `apply`. */
export function applySuite(t: SuiteContext): void {
  describe('apply (atomic change sets)', () => {
    it('create mode on a missing id creates the session', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const result = await apply(t.storage)(id, changeSet({ a: 1, b: { c: [2] } }), LONG_MS, {
        mode: 'create',
        maxSize: NO_LIMIT,
      });
      expect(result).toEqual({ existed: false, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 1, b: { c: [2] } });
    });

    it('create mode on an existing id merges into it', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { keep: 1, over: 'old' }, LONG_MS);
      const result = await apply(t.storage)(id, changeSet({ over: 'new', add: 2 }), LONG_MS, {
        mode: 'create',
        maxSize: NO_LIMIT,
      });
      expect(result).toEqual({ existed: true, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ keep: 1, over: 'new', add: 2 });
    });

    it('update mode sets and removes keys and keeps the others', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { keep: 1, drop: 2, over: 'old' }, LONG_MS);
      const result = await apply(t.storage)(
        id,
        changeSet({ over: 'new', add: [1] }, ['drop', 'absent']),
        LONG_MS,
        {
          mode: 'update',
          maxSize: NO_LIMIT,
        },
      );
      expect(result).toEqual({ existed: true, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ keep: 1, over: 'new', add: [1] });
    });

    it('update mode on a missing id writes nothing', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const result = await apply(t.storage)(id, changeSet({ a: 1 }), LONG_MS, {
        mode: 'update',
        maxSize: NO_LIMIT,
      });
      expect(result).toEqual({ existed: false, written: false });
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
    });

    it('a session removed by remove() is not recreated by apply in update mode', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      const loaded = await t.storage.load(id, LONG_MS);
      await t.storage.remove(id);
      const result = await apply(t.storage)(id, changeSet({ b: 2 }), LONG_MS, updateWith(loaded));
      expect(result).toEqual({ existed: false, written: false });
      expect(await t.storage.load(id, LONG_MS)).toBeUndefined();
    });

    it('clear drops every stored key before the new ones are set', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1, b: 2 }, LONG_MS);
      const result = await apply(t.storage)(id, changeSet({ c: 3 }, [], true), LONG_MS, {
        mode: 'update',
        maxSize: NO_LIMIT,
      });
      expect(result).toEqual({ existed: true, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ c: 3 });
      await apply(t.storage)(id, changeSet({}, [], true), LONG_MS, { mode: 'update', maxSize: NO_LIMIT });
      const emptied = await t.storage.load(id, LONG_MS);
      expect(emptied).toBeDefined();
      expect(emptied!.data).toEqual({});
    });

    it('applies clear, then remove, then set', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1, b: 2 }, LONG_MS);
      await apply(t.storage)(id, changeSet({ a: 'set wins' }, ['a', 'b']), LONG_MS, {
        mode: 'update',
        maxSize: NO_LIMIT,
      });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 'set wins' });
    });

    it('50 concurrent apply() calls each setting a different key keep all 50 keys', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { base: true }, LONG_MS);
      const fn = apply(t.storage);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          fn(id, changeSet({ [`k${i}`]: i }), LONG_MS, { mode: 'update', maxSize: NO_LIMIT }),
        ),
      );
      expect(results.every((r) => r.existed && r.written)).toBe(true);
      const expected: SessionData = { base: true };
      for (let i = 0; i < 50; i++) expected[`k${i}`] = i;
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual(expected);
    });

    it('50 concurrent writers that all loaded the same version keep all 50 keys', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { base: true }, LONG_MS);
      const fn = apply(t.storage);
      // Every writer loads first, as 50 parallel requests would, then applies with its version.
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const loaded = await t.storage.load(id, LONG_MS);
          return fn(id, changeSet({ [`k${i}`]: { i } }), LONG_MS, updateWith(loaded));
        }),
      );
      expect(results.every((r) => r.written)).toBe(true);
      const expected: SessionData = { base: true };
      for (let i = 0; i < 50; i++) expected[`k${i}`] = { i };
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual(expected);
    });

    it('concurrent writers removing different keys keep the other keys', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const initial: SessionData = {};
      for (let i = 0; i < 20; i++) initial[`k${i}`] = i;
      await t.storage.save(id, initial, LONG_MS);
      const fn = apply(t.storage);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fn(id, changeSet({ [`n${i}`]: i }, [`k${i}`]), LONG_MS, { mode: 'update', maxSize: NO_LIMIT }),
        ),
      );
      const expected: SessionData = {};
      for (let i = 10; i < 20; i++) expected[`k${i}`] = i;
      for (let i = 0; i < 10; i++) expected[`n${i}`] = i;
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual(expected);
    });

    it('the version from load passed back to apply works', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      const loaded = await t.storage.load(id, LONG_MS);
      const result = await apply(t.storage)(id, changeSet({ b: 2 }), LONG_MS, updateWith(loaded));
      expect(result).toEqual({ existed: true, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 1, b: 2 });
    });

    it('a stale version still merges with what changed since (no lost update)', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      await t.storage.save(id, { a: 1 }, LONG_MS);
      const stale = await t.storage.load(id, LONG_MS);
      const fn = apply(t.storage);
      // Another request changes the session after this one loaded it.
      await fn(id, changeSet({ b: 2, a: 'other' }), LONG_MS, { mode: 'update', maxSize: NO_LIMIT });
      const result = await fn(id, changeSet({ c: 3 }), LONG_MS, updateWith(stale));
      expect(result).toEqual({ existed: true, written: true });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ a: 'other', b: 2, c: 3 });
    });

    it('over maxSize it rejects with SessionTooLargeError and writes nothing', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const before = { a: 'x'.repeat(100) };
      await t.storage.save(id, before, LONG_MS);
      const error = await apply(t.storage)(id, changeSet({ b: 'y'.repeat(200) }), LONG_MS, {
        mode: 'update',
        maxSize: 250,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'SessionTooLargeError', code: 'SESSION_TOO_LARGE', limit: 250 });
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual(before);

      const fresh = generateId();
      await expect(
        apply(t.storage)(fresh, changeSet({ b: 'y'.repeat(300) }), LONG_MS, { mode: 'create', maxSize: 250 }),
      ).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
      expect(await t.storage.load(fresh, LONG_MS)).toBeUndefined();
    });

    it('maxSize counts UTF-8 bytes of the JSON; exactly maxSize is accepted', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const fn = apply(t.storage);
      // {"a":"…"} is 8 bytes plus the value; "é" is 2 bytes in UTF-8 but 1 UTF-16 unit.
      const exact = generateId();
      const ok = await fn(exact, changeSet({ a: 'é'.repeat(46) }), LONG_MS, {
        mode: 'create',
        maxSize: 100,
      });
      expect(ok.written).toBe(true);
      expect((await t.storage.load(exact, LONG_MS))!.data).toEqual({ a: 'é'.repeat(46) });
      const over = generateId();
      await expect(
        fn(over, changeSet({ a: 'é'.repeat(47) }), LONG_MS, { mode: 'create', maxSize: 100 }),
      ).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
      expect(await t.storage.load(over, LONG_MS)).toBeUndefined();
    });
  });
}
