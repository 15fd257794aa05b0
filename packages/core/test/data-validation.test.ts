import {
  CorruptDataError,
  MAX_VALUE_DEPTH,
  SessionDataError,
  SessionManager,
  SessionTooLargeError,
  StorageMemory,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertJsonValue, MIN_BYTES_TOO_DEEP, mayNestTooDeep } from '../src/json.js';
import { CountingStorage, cookieOf } from './helpers.js';

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

const circular: Record<string, unknown> = { a: 1 };
circular['self'] = circular;
const sparse: unknown[] = [1];
sparse[2] = 3; // index 1 is a hole
const symbolKeyed = { ok: 1, [Symbol('s')]: 2 };
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { fine: true });

// [label, value, expected path (relative to the key "k"), expected type]
const rejected: [string, unknown, string, string | RegExp][] = [
  ['function', () => 1, 'k', 'function'],
  ['symbol', Symbol('x'), 'k', 'symbol'],
  ['bigint', 10n, 'k', 'bigint'],
  ['undefined', undefined, 'k', 'undefined'],
  ['NaN', Number.NaN, 'k', 'NaN'],
  ['Infinity', Number.POSITIVE_INFINITY, 'k', 'Infinity'],
  ['-Infinity', Number.NEGATIVE_INFINITY, 'k', '-Infinity'],
  ['circular structure', circular, 'k.self', 'a circular reference'],
  ['sparse array', sparse, 'k[1]', 'a hole in a sparse array'],
  ['Map', new Map([['a', 1]]), 'k', 'Map'],
  ['Set', new Set([1]), 'k', 'Set'],
  ['Date', new Date(0), 'k', 'Date'],
  ['RegExp', /x/, 'k', 'RegExp'],
  ['class instance', new Point(1, 2), 'k', 'Point'],
  ['symbol keys', symbolKeyed, 'k', 'an object with symbol keys'],
  ['Uint8Array', new Uint8Array(2), 'k', 'Uint8Array'],
  ['boxed string', new String('x'), 'k', 'String'],
  ['nested deep', { cart: { items: [{ price: 1 }, { price: 2n }] } }, 'k.cart.items[1].price', 'bigint'],
  ['undefined in an array', [1, undefined], 'k[1]', 'undefined'],
  ['function in an object with an awkward key', { 'a b': () => 1 }, 'k["a b"]', 'function'],
];

describe('values JSON cannot hold unchanged are rejected at the set call', () => {
  it.each(rejected)(
    '%s: SessionDataError naming key, path and type; nothing changes',
    async (_, value, path, type) => {
      const storage = new CountingStorage();
      const manager = new SessionManager({ storage });
      const s = manager.session();
      await s.set('before', 1);
      const error = await s.set('k', value as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SessionDataError);
      const e = error as SessionDataError;
      expect(e.name).toBe('SessionDataError');
      expect(e.code).toBe('DATA_INVALID');
      expect(e.status).toBe(500);
      expect(e.key).toBe('k');
      expect(e.path).toBe(path);
      if (typeof type === 'string') expect(e.type).toBe(type);
      expect(e.message).toContain('"k"');
      expect(e.message).toContain(path);
      expect(await s.has('k')).toBe(false);
      expect(await s.data()).toEqual({ before: 1 });
      await manager.commit(s);
      expect((await storage.inner.load(s.id))!.data).toEqual({ before: 1 });
    },
  );

  it('setMany is all or nothing: one bad value rejects every key', async () => {
    const manager = new SessionManager();
    const s = manager.session();
    await expect(s.setMany({ good: 1, bad: new Date(0), alsoGood: 2 } as never)).rejects.toMatchObject({
      key: 'bad',
      path: 'bad',
      type: 'Date',
    });
    expect(await s.data()).toEqual({});
    expect((await manager.commit(s)).setCookie).toBeUndefined();
  });

  it.each([
    ['an array', [1, 2]],
    ['null', null],
    ['a string', 'x'],
  ])('setMany with %s is rejected', async (_, values) => {
    const s = new SessionManager().session();
    await expect(s.setMany(values as never)).rejects.toBeInstanceOf(SessionDataError);
  });

  it('accepts null-prototype objects, nested plain data and awkward keys, and copies them', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    const value = { list: [1, { a: 'b' }], nested: nullProto };
    await s.set('v', value as never);
    await s.set('__proto__', { polluted: true });
    await s.set('', 'empty key');
    await s.set('a.b', 'dotted');
    value.list.push(3);
    expect(await s.get('v')).toEqual({ list: [1, { a: 'b' }], nested: { fine: true } });
    const { setCookie } = await manager.commit(s);
    const next = manager.session({ cookie: cookieOf(setCookie) });
    const data = await next.data();
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data).sort()).toEqual(['', '__proto__', 'a.b', 'v']);
    expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: true });
    expect((data as { polluted?: unknown }).polluted).toBeUndefined();
    expect(await next.get('')).toBe('empty key');
    expect(await next.get('a.b')).toBe('dotted');
  });

  it('values are copied at set: later mutation of the argument or of a get result changes nothing', async () => {
    const manager = new SessionManager();
    const s = manager.session();
    const cart = { items: ['a'] };
    await s.set('cart', cart);
    cart.items.push('mutated');
    const got = (await s.get('cart')) as { items: string[] };
    expect(got).toEqual({ items: ['a'] });
    got.items.push('mutated too');
    expect(await s.get('cart')).toEqual({ items: ['a', 'mutated too'] });
    const data = await s.data();
    data['extra'] = 1;
    expect(await s.has('extra')).toBe(false);
  });

  it('-0 becomes 0 (what JSON stores)', async () => {
    const s = new SessionManager().session();
    await s.set('z', -0);
    expect(Object.is(await s.get('z'), 0)).toBe(true);
  });

  it('assertJsonValue accepts every JSON value', () => {
    expect(() => assertJsonValue('k', { a: [1, 'x', true, null, { b: 0.5 }], c: '' })).not.toThrow();
  });
});

describe('maxSize', () => {
  it('a set that would exceed maxSize throws SessionTooLargeError at the call and changes nothing', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, maxSize: 100 });
    const s = manager.session();
    await s.set('a', 'x'.repeat(40));
    const error = await s.set('b', 'y'.repeat(60)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect(error).toBeInstanceOf(SessionDataError);
    const e = error as SessionTooLargeError;
    expect(e.code).toBe('SESSION_TOO_LARGE');
    expect(e.limit).toBe(100);
    expect(e.size).toBe(JSON.stringify({ a: 'x'.repeat(40), b: 'y'.repeat(60) }).length);
    expect(e.key).toBe('b');
    expect(e.message).toMatch(/maxSize/);
    expect(await s.data()).toEqual({ a: 'x'.repeat(40) });
    await manager.commit(s);
    expect((await storage.inner.load(s.id))!.data).toEqual({ a: 'x'.repeat(40) });
  });

  it('sizes are UTF-8 bytes of the JSON; exactly maxSize fits, one byte more does not', async () => {
    const manager = new SessionManager({ maxSize: 100 });
    const s = manager.session();
    // {"a":"…"} is 8 bytes + the value; "é" takes 2 bytes.
    await s.set('a', 'é'.repeat(46));
    await expect(s.set('a', `${'é'.repeat(46)}x`)).rejects.toBeInstanceOf(SessionTooLargeError);
    expect(await s.get('a')).toBe('é'.repeat(46));
    await expect(manager.commit(s)).resolves.toBeDefined();
  });

  it('replacing and removing keys frees their size', async () => {
    const manager = new SessionManager({ maxSize: 120 });
    const s = manager.session();
    await s.setMany({ a: 'x'.repeat(50), b: 'y'.repeat(50) });
    await expect(s.set('c', 'z'.repeat(50))).rejects.toBeInstanceOf(SessionTooLargeError);
    await s.remove('b');
    await s.set('c', 'z'.repeat(50));
    await s.set('a', 'short');
    await s.set('d', 'w'.repeat(40));
    expect(Object.keys(await s.data()).sort()).toEqual(['a', 'c', 'd']);
  });

  it('a save that would exceed maxSize (merged with a concurrent write) fails and writes nothing', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, maxSize: 200 });
    const first = manager.session();
    await first.set('base', 1);
    const cookie = cookieOf((await manager.commit(first)).setCookie);

    const a = manager.session({ cookie });
    const b = manager.session({ cookie });
    await a.set('fromA', 'a'.repeat(120));
    await b.set('fromB', 'b'.repeat(120)); // fits in b's own view
    await manager.commit(a);
    const error = await manager.commit(b).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect((error as SessionTooLargeError).limit).toBe(200);
    expect((await storage.inner.load(first.id))!.data).toEqual({ base: 1, fromA: 'a'.repeat(120) });
  });
});

describe('setMany keys', () => {
  it('symbol keys at the top level are rejected rather than silently dropped', async () => {
    const s = new SessionManager().session();
    await expect(s.setMany({ ok: 1, [Symbol('k')]: 2 } as never)).rejects.toMatchObject({
      name: 'SessionDataError',
      type: 'an object with symbol keys',
    });
    expect(await s.data()).toEqual({});
  });
});

describe('nesting depth is bounded (MAX_VALUE_DEPTH)', () => {
  /** An object `{ a: { a: ... } }` nested `levels` deep (`{ a: 1 }` is 1 level). */
  function nested(levels: number): Record<string, unknown> {
    const root: Record<string, unknown> = {};
    let at = root;
    for (let i = 1; i < levels; i++) {
      const next: Record<string, unknown> = {};
      at['a'] = next;
      at = next;
    }
    at['a'] = 1;
    return root;
  }

  it('a value nested 5,000 deep is a SessionDataError at set (not a RangeError); nothing changes', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    await s.set('before', 1);
    const error = await s.set('k', nested(5000) as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionDataError);
    const e = error as SessionDataError;
    expect(e.code).toBe('DATA_INVALID');
    expect(e.key).toBe('k');
    expect(e.type).toBe(`nested deeper than ${MAX_VALUE_DEPTH} levels (MAX_VALUE_DEPTH)`);
    // The path points at the first level past the bound.
    expect(e.path).toBe(`k${'.a'.repeat(MAX_VALUE_DEPTH)}`);
    expect(await s.data()).toEqual({ before: 1 });
    await manager.commit(s);
    expect((await storage.load(s.id))!.data).toEqual({ before: 1 });
  });

  it('exactly MAX_VALUE_DEPTH levels are accepted and round trip; one more is refused, arrays too', async () => {
    const manager = new SessionManager();
    const s = manager.session();
    await s.set('ok', nested(MAX_VALUE_DEPTH) as never);
    expect(await s.get('ok')).toEqual(nested(MAX_VALUE_DEPTH));
    await expect(s.set('deep', nested(MAX_VALUE_DEPTH + 1) as never)).rejects.toBeInstanceOf(
      SessionDataError,
    );
    let list: unknown = [];
    for (let i = 0; i < 5000; i++) list = [list];
    await expect(s.setMany({ list } as never)).rejects.toMatchObject({ key: 'list', code: 'DATA_INVALID' });
  });

  it('with a schema, a value nested 5,000 deep is a SessionDataError too', async () => {
    const manager = new SessionManager({ schema: z.object({ k: z.any() }) });
    const s = manager.session();
    await expect(s.set('k', nested(5000))).rejects.toBeInstanceOf(SessionDataError);
    await expect(s.set('k', nested(MAX_VALUE_DEPTH + 1))).rejects.toBeInstanceOf(SessionDataError);
    await s.set('k', nested(3));
    expect(await s.get('k')).toEqual(nested(3));
  });

  it('stored data nested too deep is reported as corrupt, reads as empty, and the next write replaces it', async () => {
    const storage = new StorageMemory();
    const errors: unknown[] = [];
    const manager = new SessionManager({ storage, onError: (e) => errors.push(e) });
    const first = manager.session();
    await first.set('a', 1);
    const { setCookie } = await manager.commit(first);
    // Written around the library (an operator, another app): StorageMemory stores what it is given.
    await storage.save(first.id, { a: 1, deep: nested(MAX_VALUE_DEPTH + 5) as never }, 60_000);

    const read = manager.session({ cookie: cookieOf(setCookie) });
    expect(await read.data()).toEqual({});
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CorruptDataError);
    await read.set('b', 2);
    await manager.commit(read);
    expect((await storage.load(first.id))!.data).toEqual({ b: 2 });
  });

  describe('the depth walk of a loaded record is skipped below MIN_BYTES_TOO_DEEP bytes', () => {
    /** StorageMemory, reporting the record's byte size as StorageRedisKV does. */
    class SizedStorage extends StorageMemory {
      override async load(id: string) {
        const stored = await super.load(id);
        return stored && { ...stored, size: Buffer.byteLength(JSON.stringify(stored.data)) };
      }
    }
    /** The smallest record nesting `levels` deep (itself level 1): `{"":[[...]]}`. */
    const smallest = (levels: number) => {
      let value: unknown = [];
      for (let i = 2; i < levels; i++) value = [value];
      return { '': value };
    };

    it('is derived from MAX_VALUE_DEPTH: braces, `"":`, and two brackets per level past the record', () => {
      expect(MIN_BYTES_TOO_DEEP).toBe(2 + 3 + 2 * (MAX_VALUE_DEPTH + 1));
      expect(JSON.stringify(smallest(MAX_VALUE_DEPTH + 2))).toHaveLength(MIN_BYTES_TOO_DEEP);
      expect(JSON.stringify(smallest(MAX_VALUE_DEPTH + 1))).toHaveLength(MIN_BYTES_TOO_DEEP - 2);
      expect(mayNestTooDeep(MIN_BYTES_TOO_DEEP - 1)).toBe(false);
      expect(mayNestTooDeep(MIN_BYTES_TOO_DEEP)).toBe(true);
      expect(mayNestTooDeep(undefined)).toBe(true);
    });

    it('at the boundary: the smallest record one level too deep is still corrupt; one level less reads as stored', async () => {
      const storage = new SizedStorage();
      const errors: unknown[] = [];
      const manager = new SessionManager({ storage, onError: (e) => errors.push(e) });
      const id = 'depthboundary000000000';
      const read = async () =>
        manager
          .sessionById(id)
          .data()
          .then((data) => [data, errors.splice(0)] as const);

      await storage.save(id, smallest(MAX_VALUE_DEPTH + 2) as never, 60_000);
      expect((await storage.load(id))!.size).toBe(MIN_BYTES_TOO_DEEP);
      const [tooDeep, reported] = await read();
      expect(tooDeep).toEqual({});
      expect(reported).toHaveLength(1);
      expect(reported[0]).toBeInstanceOf(CorruptDataError);

      await storage.save(id, smallest(MAX_VALUE_DEPTH + 1) as never, 60_000);
      expect((await storage.load(id))!.size).toBe(MIN_BYTES_TOO_DEEP - 2);
      const [deepest, none] = await read();
      expect(deepest).toEqual(smallest(MAX_VALUE_DEPTH + 1));
      expect(none).toEqual([]);
    });
  });
});
