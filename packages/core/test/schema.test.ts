// The `schema` option: validation at set, the JSON round-trip rule, and invalidStoredData policies
// on data planted directly in a storage (StorageMemory; Redis storages: packages/redis/test/schema.test.ts).
import {
  ConfigError,
  type ErrorContext,
  generateId,
  SessionDataError,
  type SessionError,
  SessionManager,
  type SessionOptions,
  type Storage,
  StorageMemory,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cookieOf } from './helpers.js';

const HOUR = 3_600_000;

const schema = z.object({
  userId: z.string().min(1),
  visits: z.number().int().nonnegative(),
  lastSeen: z.coerce.date(),
  cart: z.object({ items: z.array(z.string()), total: z.number() }).optional(),
});

type Reported = { error: SessionError; context: ErrorContext };

function setup(options: Omit<SessionOptions<z.output<typeof schema>>, 'schema' | 'onError'> = {}) {
  const storage = (options.storage ?? new StorageMemory()) as Storage;
  const reported: Reported[] = [];
  const manager = new SessionManager({
    ...options,
    storage,
    schema,
    onError: (error, context) => reported.push({ error, context }),
  });
  return { storage, manager, reported };
}

async function plant(storage: Storage, data: Record<string, unknown>): Promise<string> {
  const id = generateId();
  await storage.save(id, data as never, HOUR);
  return id;
}

async function caught(promise: Promise<unknown>): Promise<SessionDataError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionDataError);
  return error as SessionDataError;
}

describe('schema: set and setMany', () => {
  it('accepts valid values and rejects an invalid one with zod issues, changing nothing', async () => {
    const { manager, storage } = setup();
    const s = manager.session();
    await s.set('visits', 1);
    // @ts-expect-error visits is a number (checked at run time too)
    const error = await caught(s.set('visits', 'two'));
    expect(error.code).toBe('DATA_INVALID');
    expect(error.key).toBe('visits');
    expect(error.issues.map((i) => i.path)).toEqual([['visits']]);
    expect(error.issues[0]?.code).toBe('invalid_type');
    expect(error.message).toContain('visits');
    expect(await s.get('visits')).toBe(1);
    const negative = await caught(s.set('visits', -1));
    expect(negative.issues[0]?.code).toBe('too_small');
    const nested = await caught(s.set('cart', { items: ['a', 2 as never], total: 3 }));
    expect(nested.issues.map((i) => i.path)).toEqual([['cart', 'items', 1]]);
    await manager.commit(s);
    expect((await storage.load(s.id, HOUR))?.data).toEqual({ visits: 1 });
  });

  it('rejects unknown keys, also inherited names, and setMany is all or nothing', async () => {
    const { manager } = setup();
    const s = manager.session();
    for (const key of ['nope', 'constructor', 'toString', '__proto__']) {
      const error = await caught(s.set(key as 'userId', 'x'));
      expect(error.key).toBe(key);
      expect(error.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: [key] });
    }
    const error = await caught(s.setMany({ userId: 'u1', extra: 1 } as never));
    expect(error.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['extra'] });
    await caught(s.setMany({ userId: 'u1', visits: 'x' as never }));
    expect(await s.data()).toEqual({});
    await s.setMany({ userId: 'u1', visits: 2 });
    expect(await s.data()).toEqual({ userId: 'u1', visits: 2 });
  });

  it('z.coerce.date(): stores the ISO string, get returns a Date now and in later requests', async () => {
    const { manager, storage } = setup();
    const at = new Date('2026-01-02T03:04:05.678Z');
    const s = manager.session();
    await s.set('lastSeen', at);
    const now = await s.get('lastSeen');
    expect(now).toBeInstanceOf(Date);
    expect(now?.toISOString()).toBe(at.toISOString());
    expect(now).not.toBe(at); // a copy through JSON, like every value
    const cookie = cookieOf((await manager.commit(s)).setCookie);
    expect((await storage.load(s.id, HOUR))?.data).toEqual({ lastSeen: '2026-01-02T03:04:05.678Z' });

    const next = manager.session({ cookie });
    const later = await next.get('lastSeen');
    expect(later).toBeInstanceOf(Date);
    expect(later?.getTime()).toBe(at.getTime());
    expect((await next.data()).lastSeen).toEqual(at);
  });

  it('a value that does not survive the JSON round trip is rejected at set', async () => {
    const strictDate = z.object({ at: z.date(), tags: z.set(z.string()) });
    const manager = new SessionManager({ schema: strictDate });
    const s = manager.session();
    const date = await caught(s.set('at', new Date()));
    expect(date.message).toContain('round trip');
    expect(date.message).toContain('z.coerce.date()');
    expect(date.issues[0]?.path).toEqual(['at']);
    const set = await caught(s.set('tags', new Set(['a'])));
    expect(set.message).toContain('round trip');
    expect(await s.data()).toEqual({});
  });

  it('stores the validated value: defaults fill in and unknown nested keys are stripped', async () => {
    const prefs = z.object({ prefs: z.object({ theme: z.enum(['dark', 'light']).default('light') }) });
    const storage = new StorageMemory();
    const manager = new SessionManager({ schema: prefs, storage });
    const s = manager.session();
    await s.set('prefs', { theme: 'dark', junk: 1 } as never);
    await s.set('prefs', {} as never);
    expect(await s.get('prefs')).toEqual({ theme: 'light' });
    await manager.commit(s);
    expect((await storage.load(s.id))?.data).toEqual({ prefs: { theme: 'light' } });
  });

  it('values JSON cannot hold fail with a SessionDataError, not a TypeError', async () => {
    const anything = z.object({ big: z.bigint(), missing: z.undefined() });
    const s = new SessionManager({ schema: anything }).session();
    const big = await caught(s.set('big', 1n));
    expect(big.message).toContain('cannot be stored as JSON');
    const missing = await caught(s.set('missing', undefined));
    expect(missing.message).toContain('cannot be stored as JSON');
  });

  it('z.looseObject / catchall validates unknown keys with the catchall; strictObject rejects them', async () => {
    const loose = new SessionManager({ schema: z.object({ a: z.string() }).catchall(z.number()) }).session();
    await loose.set('a', 'x');
    await loose.set('other' as 'a', 5 as never);
    await caught(loose.set('other' as 'a', 'five'));
    expect(await loose.data()).toEqual({ a: 'x', other: 5 });
    const strict = new SessionManager({ schema: z.strictObject({ a: z.string() }) }).session();
    const error = await caught(strict.set('b' as 'a', 'x'));
    expect(error.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('regenerate() writes the stored JSON form, not the transformed value', async () => {
    const { manager, storage } = setup();
    const s = manager.session();
    await s.setMany({ userId: 'u', lastSeen: new Date(0) });
    await manager.commit(s);
    await s.regenerate();
    expect((await storage.load(s.id, HOUR))?.data).toEqual({
      userId: 'u',
      lastSeen: '1970-01-01T00:00:00.000Z',
    });
    expect(await s.get('lastSeen')).toEqual(new Date(0));
  });
});

describe('schema: stored data off the schema (invalidStoredData)', () => {
  const planted = { userId: 'u1', visits: 'many', legacyFlag: true, lastSeen: '2026-05-06T00:00:00.000Z' };

  it("'drop' (default): invalid and unknown keys are left out and reported once with the issues", async () => {
    const { manager, storage, reported } = setup();
    const id = await plant(storage, planted);
    const s = manager.sessionById(id);
    expect(await s.data()).toEqual({ userId: 'u1', lastSeen: new Date('2026-05-06T00:00:00.000Z') });
    expect(await s.get('visits')).toBeUndefined();
    expect(await s.has('visits')).toBe(false);
    expect(reported).toHaveLength(1);
    const { error, context } = reported[0]!;
    expect(error).toBeInstanceOf(SessionDataError);
    expect(error.code).toBe('DATA_MISMATCH');
    expect(context.operation).toBe('load');
    expect(context.id).not.toBe(id); // redacted
    const issues = (error as SessionDataError).issues;
    expect(issues.map((i) => i.path)).toEqual([['visits'], []]);
    expect(issues[1]).toMatchObject({ code: 'unrecognized_keys', keys: ['legacyFlag'] });
    expect(error.message).toContain('"visits", "legacyFlag"');
    // A read-only request writes nothing: the stored value is left for an operator to see.
    await manager.commit(s);
    expect((await storage.load(id, HOUR))?.data).toEqual(planted);
    // Setting the key replaces the invalid stored value.
    const t = manager.sessionById(id);
    await t.set('visits', 3);
    await manager.commit(t);
    expect((await storage.load(id, HOUR))?.data).toMatchObject({ visits: 3, legacyFlag: true });
  });

  it("'reset': the session reads as empty, is reported, and the next write replaces the whole value", async () => {
    const { manager, storage, reported } = setup({ invalidStoredData: 'reset' });
    const id = await plant(storage, planted);
    const readOnly = manager.sessionById(id);
    expect(await readOnly.data()).toEqual({});
    expect(await readOnly.get('userId')).toBeUndefined();
    await manager.commit(readOnly);
    expect((await storage.load(id, HOUR))?.data).toEqual(planted);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.error.message).toContain('read as empty');

    const s = manager.sessionById(id);
    await s.set('visits', 1);
    await manager.commit(s);
    expect(s.id).toBe(id);
    expect((await storage.load(id, HOUR))?.data).toEqual({ visits: 1 });
    const next = manager.sessionById(id);
    expect(await next.data()).toEqual({ visits: 1 });
    expect(reported).toHaveLength(2);
  });

  it("'fail': the data call throws a SessionDataError (status 500), nothing is reported or written", async () => {
    const { manager, storage, reported } = setup({ invalidStoredData: 'fail' });
    const id = await plant(storage, planted);
    const s = manager.sessionById(id);
    const error = await caught(s.get('userId'));
    expect(error.code).toBe('DATA_MISMATCH');
    expect(error.status).toBe(500);
    expect(error.issues.length).toBe(2);
    await caught(s.data());
    await caught(s.set('visits', 1));
    expect(reported).toHaveLength(0);
    await manager.commit(s);
    expect((await storage.load(id, HOUR))?.data).toEqual(planted);
    // The way out for the app: destroy() / removeAll() still delete the stored record.
    await manager.sessionById(id).destroy();
    expect(await storage.load(id, HOUR)).toBeUndefined();
  });

  it('valid stored data is read through the schema and reports nothing', async () => {
    const { manager, storage, reported } = setup({ invalidStoredData: 'fail' });
    const id = await plant(storage, { userId: 'u', visits: 2, cart: { items: ['x'], total: 1 } });
    expect(await manager.sessionById(id).data()).toEqual({
      userId: 'u',
      visits: 2,
      cart: { items: ['x'], total: 1 },
    });
    expect(reported).toEqual([]);
  });

  it('without a schema, nothing is validated: any JSON reads back as stored', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, invalidStoredData: 'fail' });
    const id = await plant(storage, planted);
    expect(await manager.sessionById(id).data()).toEqual(planted);
    const s = manager.session();
    await caught(s.set('at', new Date() as never));
  });
});

describe('schema option validation', () => {
  it('rejects a schema that is not a zod object, and an unknown policy', () => {
    const error = (() => {
      try {
        new SessionManager({ schema: z.string() as never, invalidStoredData: 'ignore' as never });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.some((i) => i.startsWith('schema: must be a zod object schema'))).toBe(true);
    expect(issues.some((i) => i.startsWith('invalidStoredData:'))).toBe(true);
    expect(() => new SessionManager({ schema: { shape: {} } as never })).toThrow(ConfigError);
  });
});
