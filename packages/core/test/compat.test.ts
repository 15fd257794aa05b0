import {
  callbackOrPromise,
  entryJson,
  jsonSnapshot,
  SessionDataError,
  snapshotChanges,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';

describe('compat helpers', () => {
  it('jsonSnapshot: one JSON text per key; values JSON leaves out are absent', () => {
    const snap = jsonSnapshot(Object.entries({ a: 1, b: { c: [1, 2] }, gone: undefined, fn: () => 1 }));
    expect([...snap]).toEqual([
      ['a', '1'],
      ['b', '{"c":[1,2]}'],
    ]);
  });

  it('entryJson: one key as jsonSnapshot takes it (JSON text, undefined when left out, the same error)', () => {
    expect(entryJson('b', { c: [1, 2] })).toBe('{"c":[1,2]}');
    expect(entryJson('gone', undefined)).toBeUndefined();
    expect(() => entryJson('bad', 10n)).toThrow(SessionDataError);
    expect(() => entryJson('bad', 10n)).toThrow('session key "bad" cannot be stored as JSON');
  });

  it('jsonSnapshot: a value JSON cannot hold throws SessionDataError naming the key', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const bad of [10n, cycle]) {
      let error: unknown;
      try {
        jsonSnapshot([['bad', bad]]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SessionDataError);
      expect(error).toMatchObject({ key: 'bad', code: 'DATA_INVALID' });
    }
  });

  it('snapshotChanges: nested changes, new keys and removed keys; unchanged keys are left out', () => {
    const data: Record<string, unknown> = { same: 's', cart: { items: ['x'] }, old: 1 };
    const before = jsonSnapshot(Object.entries(data));
    (data.cart as { items: string[] }).items.push('y');
    delete data.old;
    data.added = true;
    expect(snapshotChanges(before, jsonSnapshot(Object.entries(data)))).toEqual({
      set: { cart: { items: ['x', 'y'] }, added: true },
      remove: ['old'],
    });
    expect(snapshotChanges(before, before)).toEqual({ set: {}, remove: [] });
  });

  it('callbackOrPromise: the promise without a callback; else the callback, once, with the error', async () => {
    const ok = Promise.resolve();
    expect(callbackOrPromise(ok, undefined)).toBe(ok);
    const calls: unknown[][] = [];
    expect(callbackOrPromise(Promise.resolve(), (...args) => calls.push(args))).toBeUndefined();
    const failure = new Error('no');
    callbackOrPromise(Promise.reject(failure), (...args) => calls.push(args));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([[], [failure]]);
  });
});
