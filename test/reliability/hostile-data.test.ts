// Hostile data through every storage we ship, the way requests use them (SessionManager): random
// JSON round-trips exactly; values JSON cannot hold are refused at set and nothing is written;
// sessions over maxSize are refused at the call; anything planted in Redis that is not a session is
// reported and reads as empty (fuzzed here; packages/redis/test covers three fixed cases).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CorruptDataError,
  type SessionData,
  SessionDataError,
  type SessionError,
  SessionManager,
  type SessionOptions,
  SessionTooLargeError,
  type Storage,
  StorageFile,
  StorageMemory,
} from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, privateRedis } from './support.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

/** What JSON itself makes of a value (only -0 changes). */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const cookieOf = (setCookie: string | undefined) => setCookie?.split(';')[0];
const byteLength = (s: string) => Buffer.byteLength(s);

let redis: PrivateRedis;
const dirs: string[] = [];
beforeAll(async () => {
  redis = await privateRedis();
});
afterAll(async () => {
  await redis?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Factory = () => Promise<Storage>;
const storages: [string, Factory][] = [
  ['StorageMemory', async () => new StorageMemory()],
  [
    'StorageFile',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kv-reliability-'));
      dirs.push(dir);
      return new StorageFile({ dir, sweepInterval: 0 });
    },
  ],
  ['StorageRedisKV', async () => new StorageRedisKV({ client: redis.client })],
  ['StorageRedisHash', async () => new StorageRedisHash({ client: redis.client })],
];

/** A value JSON cannot hold, somewhere inside otherwise plain JSON. */
const unrepresentable = fc
  .tuple(
    fc.oneof(
      fc.constant(undefined),
      fc.constant(Number.NaN),
      fc.constant(Number.POSITIVE_INFINITY),
      fc.constant(Number.NEGATIVE_INFINITY),
      fc.bigInt(),
      fc.string().map((s) => Symbol(s)),
      fc.func(fc.jsonValue()),
      fc.date().map((d) => d as unknown),
      fc.constant(new Map([[1, 2]])),
      fc.constant(new Set([1])),
      fc.constant(new Uint8Array([1, 2])),
      fc.constant(new (class Account {})()),
      fc.constant(() => undefined),
      fc.constant(
        (() => {
          const cyclic: Record<string, unknown> = { a: 1 };
          cyclic.self = cyclic;
          return cyclic;
        })(),
      ),
      // biome-ignore lint/suspicious/noSparseArray: a sparse array is the point
      fc.constant([1, , 3]),
      fc.constant({ [Symbol('s')]: 1 }),
    ),
    fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })), {
      maxLength: 3,
    }),
  )
  .map(([bad, wrappers]) => {
    let value: unknown = bad;
    for (const [asArray, key, sibling] of wrappers) {
      value = asArray ? [sibling, value] : { [`_${key}`]: value, sibling };
    }
    return value;
  });

describe.each(storages)('hostile data through %s', (_name, makeStorage) => {
  let storage: Storage;
  const manager = (options: SessionOptions = {}) => new SessionManager({ storage, ...options });

  beforeAll(async () => {
    storage = await makeStorage();
  });

  it('random JSON objects round-trip exactly (setMany, commit, read in a new request)', async () => {
    const m = manager();
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }), async (data) => {
        const s = m.session();
        await s.setMany(data as SessionData);
        const cookie = cookieOf((await m.commit(s)).setCookie);
        const next = m.session({ cookie });
        expect(await next.data()).toEqual(viaJson(data));
        for (const [k, v] of Object.entries(data))
          expect(await m.session({ cookie }).get(k)).toEqual(viaJson(v));
        if (storage instanceof StorageRedisKV && cookie !== undefined) {
          const raw = await redis.client.get(storage.key(cookie.slice(4)));
          expect(JSON.parse(raw ?? 'null')).toEqual(viaJson(data));
        }
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('values JSON cannot hold are refused at set and setMany; nothing is written', async () => {
    const m = manager();
    const first = m.session();
    await first.set('kept', 1);
    const cookie = cookieOf((await m.commit(first)).setCookie);
    await fc.assert(
      fc.asyncProperty(unrepresentable, fc.string(), async (bad, key) => {
        const s = m.session({ cookie });
        await expect(s.set(key, bad as never)).rejects.toBeInstanceOf(SessionDataError);
        await expect(s.setMany({ fine: 2, [key]: bad } as never)).rejects.toBeInstanceOf(SessionDataError);
        await m.commit(s);
        expect(await m.session({ cookie }).data()).toEqual({ kept: 1 });
        // A visitor whose only write is refused gets no session at all.
        const visitor = m.session();
        await expect(visitor.set(key, bad as never)).rejects.toBeInstanceOf(SessionDataError);
        const result = await m.commit(visitor);
        expect(result.setCookie).toBeUndefined();
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('writes over maxSize are refused at the call; what is stored always matches the accepted writes', async () => {
    const maxSize = 2048;
    const m = manager({ maxSize });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom('a', 'b', 'c', 'ü'),
            fc.integer({ min: 0, max: 1500 }),
            fc.constantFrom('x', 'é', '😀'),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        async (writes) => {
          const model: Record<string, string> = {};
          let cookie: string | undefined;
          for (const [key, n, ch] of writes) {
            const s = m.session({ cookie });
            const value = ch.repeat(n);
            const fits = byteLength(JSON.stringify({ ...model, [key]: value })) <= maxSize;
            if (fits) {
              await s.set(key, value);
              model[key] = value;
            } else {
              await expect(s.set(key, value)).rejects.toBeInstanceOf(SessionTooLargeError);
            }
            cookie = cookieOf((await m.commit(s)).setCookie) ?? cookie;
            if (cookie !== undefined) expect(await m.session({ cookie }).data()).toEqual(model);
          }
          if (cookie === undefined) expect(model).toEqual({});
        },
      ),
      { numRuns: Math.ceil(RUNS / 6) },
    );
  });
});

describe('values planted in Redis that are not a session (fuzzed)', () => {
  const reported: SessionError[] = [];
  const onError = (e: SessionError) => reported.push(e);

  const isPlainObjectJson = (raw: string): boolean => {
    try {
      const v: unknown = JSON.parse(raw);
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    } catch {
      return false;
    }
  };

  const planted = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.tuple(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), fc.nat()).map(([d, n]) => {
      const json = JSON.stringify(d);
      return json.slice(0, n % json.length); // a truncated session
    }),
    fc.constantFrom('', 'null', '[]', '"x"', '{', '{"a":', '\u0000', 'nan', '{"a":1}garbage'),
  );

  it('StorageRedisKV: a non-object is reported once and reads as empty, an object is read; the next write replaces it', async () => {
    const storage = new StorageRedisKV({ client: redis.client });
    const m = new SessionManager({ storage, onError });
    await fc.assert(
      fc.asyncProperty(planted, async (raw) => {
        const s = m.session();
        await s.set('a', 1);
        const cookie = cookieOf((await m.commit(s)).setCookie)!;
        const id = cookie.slice(4);
        await redis.client.set(storage.key(id), raw, { KEEPTTL: true });
        reported.length = 0;
        const read = m.session({ cookie });
        const data = await read.data();
        if (isPlainObjectJson(raw)) {
          expect(data).toEqual(JSON.parse(raw));
          expect(reported).toEqual([]);
        } else {
          expect(data).toEqual({});
          expect(reported).toHaveLength(1);
          expect(reported[0]).toBeInstanceOf(CorruptDataError);
          expect(reported[0]!.message).not.toContain(id);
        }
        await read.set('b', 2);
        await m.commit(read);
        const expected = isPlainObjectJson(raw) ? { ...JSON.parse(raw), b: 2 } : { b: 2 };
        expect(JSON.parse((await redis.client.get(storage.key(id))) ?? 'null')).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('StorageRedisKV: a key of another Redis type is reported as corrupt, reads as empty, and the next write replaces it', async () => {
    const storage = new StorageRedisKV({ client: redis.client });
    const m = new SessionManager({ storage, onError });
    for (const plant of [
      (k: string) => redis.client.rPush(k, 'x'),
      (k: string) => redis.client.sAdd(k, 'x'),
      (k: string) => redis.client.hSet(k, 'a', '1'),
      (k: string) => redis.client.zAdd(k, { score: 1, value: 'x' }),
    ]) {
      const s = m.session();
      await s.set('a', 1);
      const cookie = cookieOf((await m.commit(s)).setCookie)!;
      const id = cookie.slice(4);
      const key = storage.key(id);
      await redis.client.del(key);
      await plant(key);
      reported.length = 0;
      const read = m.session({ cookie });
      expect(await read.data()).toEqual({});
      expect(reported).toHaveLength(1);
      expect(reported[0]).toBeInstanceOf(CorruptDataError);
      expect(String((reported[0] as Error).message)).not.toContain(id);
      await read.set('b', 2);
      await m.commit(read);
      expect(await redis.client.type(key)).toBe('string');
      expect(JSON.parse((await redis.client.get(key)) ?? 'null')).toEqual({ b: 2 });
      // A key replaced by another type between load and save is replaced too (update mode).
      const again = m.session({ cookie });
      expect(await again.get('b')).toBe(2);
      await redis.client.del(key);
      await redis.client.rPush(key, 'y');
      await again.set('c', 3);
      await m.commit(again);
      expect(JSON.parse((await redis.client.get(key)) ?? 'null')).toEqual({ c: 3 });
      await redis.client.del(key);
    }
  });

  it('StorageRedisHash: a field that is not JSON is reported and the session reads as empty; a write replaces it', async () => {
    const storage = new StorageRedisHash({ client: redis.client });
    const m = new SessionManager({ storage, onError });
    await fc.assert(
      fc.asyncProperty(planted, async (raw) => {
        const s = m.session();
        await s.setMany({ a: 1, z: 'keep' });
        const cookie = cookieOf((await m.commit(s)).setCookie)!;
        const key = storage.key(cookie.slice(4));
        await redis.client.hSet(key, 'a', raw);
        reported.length = 0;
        const read = m.session({ cookie });
        const data = await read.data();
        let valid = true;
        try {
          JSON.parse(raw);
        } catch {
          valid = false;
        }
        if (valid) {
          expect(data).toEqual({ a: JSON.parse(raw), z: 'keep' });
          expect(reported).toEqual([]);
        } else {
          expect(data).toEqual({});
          expect(reported).toHaveLength(1);
          expect(reported[0]).toBeInstanceOf(CorruptDataError);
        }
        await read.set('b', 2);
        await m.commit(read);
        expect(await m.session({ cookie }).data()).toEqual(
          valid ? { a: JSON.parse(raw), z: 'keep', b: 2 } : { b: 2 },
        );
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
