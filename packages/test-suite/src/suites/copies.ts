import { generateId, type JsonValue, type SessionData } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { apply, LONG_MS, NO_LIMIT, type SuiteContext } from '../context.js';
import { changeSet } from '../fixtures.js';

/** Checks copies are never shared: loaded data and saved or applied values are copies. */
export function copiesSuite(t: SuiteContext): void {
  describe('copies are never shared', () => {
    it('mutating loaded data does not change storage; two loads are different objects', async () => {
      const id = generateId();
      await t.storage.save(id, { list: [1, 2], obj: { k: 'v' } }, LONG_MS);
      const first = (await t.storage.load(id, LONG_MS))!.data;
      (first['list'] as JsonValue[]).push(3);
      (first['obj'] as Record<string, JsonValue>)['k'] = 'changed';
      first['added'] = true;
      const second = (await t.storage.load(id, LONG_MS))!.data;
      expect(second).toEqual({ list: [1, 2], obj: { k: 'v' } });
      const third = (await t.storage.load(id, LONG_MS))!.data;
      expect(third).not.toBe(second);
      expect(third['list']).not.toBe(second['list']);
      expect(third['obj']).not.toBe(second['obj']);
    });

    it('mutating an object after save does not change storage', async () => {
      const id = generateId();
      const data: SessionData = { list: [1], obj: { k: 'v' } };
      await t.storage.save(id, data, LONG_MS);
      (data['list'] as JsonValue[]).push(2);
      (data['obj'] as Record<string, JsonValue>)['k'] = 'changed';
      data['added'] = 1;
      expect((await t.storage.load(id, LONG_MS))!.data).toEqual({ list: [1], obj: { k: 'v' } });
    });

    it('mutating change-set values after apply does not change storage', async (ctx) => {
      if (t.storage.apply === undefined) return ctx.skip('storage has no apply()');
      const id = generateId();
      const value: JsonValue[] = [1];
      const changes = changeSet({ list: value });
      await apply(t.storage)(id, changes, LONG_MS, { mode: 'create', maxSize: NO_LIMIT });
      value.push(2);
      const loaded = (await t.storage.load(id, LONG_MS))!.data;
      expect(loaded).toEqual({ list: [1] });
      expect(loaded['list']).not.toBe(value);
    });
  });
}
