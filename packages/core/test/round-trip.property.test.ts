// Property: whatever JSON value is set, a later request reads back exactly the same value.
import { SessionManager, StorageMemory } from '@kv-session/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cookieOf } from './helpers.js';

/** What JSON itself makes of a value (only -0 changes: it becomes 0). */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('round trip of arbitrary JSON values', () => {
  const storage = new StorageMemory();
  const manager = new SessionManager({ storage });

  it('set, commit, then get in a new request returns an equal value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.jsonValue(), async (key, value) => {
        const s = manager.session();
        await s.set(key, value as never);
        expect(await s.get(key)).toEqual(viaJson(value));
        const next = manager.session({ cookie: cookieOf((await manager.commit(s)).setCookie) });
        expect(await next.get(key)).toEqual(viaJson(value));
        expect(Object.keys(await next.data())).toEqual([key]);
      }),
      { numRuns: 300 },
    );
  });

  it('setMany of arbitrary objects merges into an existing session key by key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }),
        async (first, second) => {
          const s = manager.session();
          await s.setMany({ ...first, marker: 1 } as never);
          const cookie = cookieOf((await manager.commit(s)).setCookie);
          const t = manager.session({ cookie });
          await t.setMany(second as never);
          await manager.commit(t);
          const expected: Record<string, unknown> = {};
          // defineProperty, not assignment: a "__proto__" key must stay a plain key.
          for (const source of [first, { marker: 1 }, second]) {
            for (const [k, v] of Object.entries(source)) {
              Object.defineProperty(expected, k, {
                value: v,
                enumerable: true,
                writable: true,
                configurable: true,
              });
            }
          }
          expect(await manager.session({ cookie }).data()).toEqual(viaJson(expected));
        },
      ),
      { numRuns: 150 },
    );
  });
});
