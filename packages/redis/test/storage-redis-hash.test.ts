import {
  type ChangeSet,
  CorruptDataError,
  generateId,
  type JsonValue,
  type SessionError,
  SessionManager,
  SessionTooLargeError,
  StorageUnavailableError,
} from '@kv-session/core';
import { ENCODED_FIELD_PREFIX, HASH_MARKER_FIELD, StorageRedisHash } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: RedisServer;
let client: ReturnType<typeof createClient>;
let storage: StorageRedisHash;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  await client.connect();
  storage = new StorageRedisHash({ client });
});

afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

function changes(set: Record<string, JsonValue> = {}, remove: string[] = [], clear = false): ChangeSet {
  return { clear, remove: new Set(remove), set: new Map(Object.entries(set)) };
}

const MAX = 1_048_576;
const HOUR = 3_600_000;

async function netOut(): Promise<number> {
  const info = await server.cli('INFO', 'stats');
  return Number(/total_net_output_bytes:(\d+)/.exec(info)![1]);
}

describe('StorageRedisHash on a single node', () => {
  it('stores one hash field per key holding its JSON, and reads values back with their JSON types', async () => {
    const id = generateId();
    const data = {
      s: 'text',
      n: 42,
      f: -1.5,
      b: true,
      z: null,
      a: [1, 'x', []],
      o: { nested: { deep: {} } },
    };
    await storage.apply(id, changes(data), HOUR, { mode: 'create', maxSize: MAX });
    const raw = await client.hGetAll(storage.key(id));
    expect(raw['n']).toBe('42');
    expect(raw['s']).toBe('"text"');
    expect(raw['o']).toBe('{"nested":{"deep":{}}}');
    expect(JSON.parse(raw[HASH_MARKER_FIELD]!)).toEqual(Object.keys(data)); // the key order
    expect((await storage.load(id, HOUR))?.data).toEqual(data);
    const pttl = await client.pTTL(storage.key(id));
    expect(pttl).toBeGreaterThan(HOUR - 60_000);
  });

  it('load reports the size the data has as one JSON object (what maxSize counts)', async () => {
    const id = generateId();
    const data = {
      s: 'text \u00e9\ud83d\ude00',
      n: 42,
      o: { a: [1, null] },
      '\u0000k': 'nul key',
      __kv: { created: 1 },
    };
    await storage.apply(id, changes(data), HOUR, { mode: 'create', maxSize: MAX });
    const loaded = await storage.load(id, HOUR);
    expect(loaded?.size).toBe(Buffer.byteLength(JSON.stringify(loaded?.data)));
    await storage.apply(id, changes({}, [], true), HOUR, { mode: 'update', maxSize: MAX });
    expect((await storage.load(id, HOUR))?.size).toBe(2);
  });

  it('writes only the changed fields: an operator edit of another field survives a save', async () => {
    const id = generateId();
    await storage.apply(id, changes({ a: 1, b: 2, c: 3 }), HOUR, { mode: 'create', maxSize: MAX });
    await client.hSet(storage.key(id), 'b', '"edited"');
    await storage.apply(id, changes({ c: 30 }, ['a']), HOUR, { mode: 'update', maxSize: MAX });
    expect((await storage.load(id, HOUR))?.data).toEqual({ b: 'edited', c: 30 });
  });

  it('concurrent requests changing different keys keep each other\u2019s writes', async () => {
    const manager = new SessionManager({ storage });
    const s0 = manager.session();
    await s0.set('start', 1);
    const cookie = (await manager.commit(s0)).setCookie!.split(';')[0]!;
    const sessions = Array.from({ length: 10 }, () => manager.session({ cookie }));
    await Promise.all(sessions.map((s) => s.data())); // all loaded before anyone writes
    await Promise.all(sessions.map((s, i) => s.set(`k${i}`, i)));
    await Promise.all(sessions.map((s) => manager.commit(s)));
    const data = await manager.session({ cookie }).data();
    expect(data).toEqual({ start: 1, ...Object.fromEntries(sessions.map((_, i) => [`k${i}`, i])) });
  });

  it('a session removed meanwhile is not recreated by a stale update; create mode creates', async () => {
    const id = generateId();
    await storage.apply(id, changes({ a: 1 }), HOUR, { mode: 'create', maxSize: MAX });
    await storage.remove(id);
    expect(await storage.apply(id, changes({ b: 2 }), HOUR, { mode: 'update', maxSize: MAX })).toEqual({
      existed: false,
      written: false,
    });
    expect(await client.exists(storage.key(id))).toBe(0);
    expect(await storage.apply(id, changes({ b: 2 }), HOUR, { mode: 'create', maxSize: MAX })).toEqual({
      existed: false,
      written: true,
    });
  });

  it('an emptied session still exists (marker field) and clear drops every field', async () => {
    const id = generateId();
    await storage.apply(id, changes({ a: 1, b: 2 }), HOUR, { mode: 'create', maxSize: MAX });
    await storage.apply(id, changes({}, ['a', 'b']), HOUR, { mode: 'update', maxSize: MAX });
    expect(await storage.load(id, HOUR)).toEqual({ data: {}, expiresAt: expect.any(Number), size: 2 });
    await storage.apply(id, changes({ c: 3 }), HOUR, { mode: 'update', maxSize: MAX });
    await storage.apply(id, changes({ d: 4 }, [], true), HOUR, { mode: 'update', maxSize: MAX });
    expect((await storage.load(id, HOUR))?.data).toEqual({ d: 4 });
  });

  it('enforces maxSize over the merged hash and writes nothing when over', async () => {
    const id = generateId();
    await storage.apply(id, changes({ a: 'x'.repeat(60) }), HOUR, { mode: 'create', maxSize: 200 });
    await client.hSet(storage.key(id), 'ops', JSON.stringify('y'.repeat(60))); // written by someone else
    const error = await storage
      .apply(id, changes({ b: 'z'.repeat(60) }), HOUR, { mode: 'update', maxSize: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect((error as SessionTooLargeError).size).toBeGreaterThan(200);
    expect(await client.hExists(storage.key(id), 'b')).toBe(0);
    // Replacing a field counts its new size only.
    await storage.apply(id, changes({ a: 'short' }), HOUR, { mode: 'update', maxSize: 200 });
    expect((await storage.load(id, HOUR))?.data).toEqual({ a: 'short', ops: 'y'.repeat(60) });
  });

  it('keeps key order; NUL-prefixed and lone-surrogate keys are stored JSON-encoded and round-trip', async () => {
    const id = generateId();
    const set = new Map<string, JsonValue>([
      ['z', 1],
      [HASH_MARKER_FIELD, 'not the marker'],
      ['lone \ud800', 2],
      ['__proto__', 3],
      ['', 4],
    ]);
    await storage.apply(id, { clear: false, remove: new Set(), set }, HOUR, { mode: 'create', maxSize: MAX });
    await storage.apply(id, changes({ a: 5, z: 6 }, ['']), HOUR, { mode: 'update', maxSize: MAX });
    const loaded = (await storage.load(id, HOUR))!.data;
    expect(Object.keys(loaded)).toEqual(['z', HASH_MARKER_FIELD, 'lone \ud800', '__proto__', 'a']);
    expect(loaded[HASH_MARKER_FIELD]).toBe('not the marker');
    expect(loaded['lone \ud800']).toBe(2);
    expect(Object.hasOwn(loaded, '__proto__')).toBe(true);
    expect(loaded['z']).toBe(6);
    const raw = await client.hGetAll(storage.key(id));
    expect(raw[`${ENCODED_FIELD_PREFIX}"\\u0000kv"`]).toBe('"not the marker"');
    expect((await storage.loadKeys(id, ['lone \ud800', HASH_MARKER_FIELD, 'missing'], HOUR))?.data).toEqual({
      'lone \ud800': 2,
      [HASH_MARKER_FIELD]: 'not the marker',
    });
  });

  it('every read refreshes the expiry in the same script; touch extends; touch of a missing id creates nothing', async () => {
    const id = generateId();
    await storage.apply(id, changes({ a: 1 }), 5000, { mode: 'create', maxSize: MAX });
    await server.resetStats();
    const loaded = await storage.load(id, HOUR);
    expect(loaded?.expiresAt).toBeGreaterThan(Date.now() + HOUR - 60_000);
    expect(await client.pTTL(storage.key(id))).toBeGreaterThan(5000);
    const stats = await server.commandStats();
    expect(stats['evalsha']).toBe(1);
    await storage.touch(id, 2 * HOUR);
    expect(await client.pTTL(storage.key(id))).toBeGreaterThan(HOUR);
    const missing = generateId();
    await storage.touch(missing, HOUR);
    expect(await client.exists(storage.key(missing))).toBe(0);
  });

  it('a corrupt field is reported, the session reads as empty, and the next save replaces it', async () => {
    const id = generateId();
    await client.hSet(storage.key(id), { [HASH_MARKER_FIELD]: '1', good: '1', bad: '{not json' });
    const error = await storage.load(id, HOUR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).version).toBeDefined();

    const reported: SessionError[] = [];
    const manager = new SessionManager({ storage, onError: (e) => reported.push(e) });
    const session = manager.session({ cookie: `sid=${id}` });
    expect(await session.data()).toEqual({});
    expect(reported).toHaveLength(1);
    await session.set('fresh', true);
    await manager.commit(session);
    expect((await storage.load(id, HOUR))?.data).toEqual({ fresh: true });
  });

  it('a key of another type is corrupt and gets replaced by the next change set', async () => {
    const id = generateId();
    await client.set(storage.key(id), '{"a":1}');
    await expect(storage.load(id, HOUR)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(storage.loadKeys(id, ['a'], HOUR)).rejects.toBeInstanceOf(CorruptDataError);
    const result = await storage.apply(id, changes({ b: 2 }), HOUR, { mode: 'update', maxSize: MAX });
    expect(result).toEqual({ existed: true, written: true });
    expect((await storage.load(id, HOUR))?.data).toEqual({ b: 2 });
  });

  it('change sets of thousands of keys are applied in chunks (Lua argument limits)', async () => {
    const id = generateId();
    const many = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`k${i}`, i]));
    await storage.apply(id, changes(many), HOUR, { mode: 'create', maxSize: MAX });
    const loaded = (await storage.load(id, HOUR))!.data;
    expect(Object.keys(loaded)).toEqual(Object.keys(many));
    const drop = Object.keys(many).filter((_, i) => i % 2 === 0);
    await storage.apply(id, changes({ extra: true }, drop), HOUR, { mode: 'update', maxSize: MAX });
    const after = (await storage.load(id, HOUR))!.data;
    expect(Object.keys(after)).toHaveLength(3001);
    expect(after['k1']).toBe(1);
    expect(after['k0']).toBeUndefined();
  });

  it('save replaces the whole session', async () => {
    const id = generateId();
    await storage.save(id, { a: 1, b: 2 }, HOUR);
    await storage.save(id, { c: 3 }, HOUR);
    expect((await storage.load(id, HOUR))?.data).toEqual({ c: 3 });
  });
});

/** A stored session of 5 MB (50 values of 100 KB) plus a small `user` key, and its cookie. */
async function fiveMegabytes(manager: SessionManager) {
  const s0 = manager.session();
  const chunk = 'x'.repeat(100_000);
  const big: Record<string, string> = {};
  for (let i = 0; i < 50; i++) big[`blob${i}`] = chunk;
  await s0.setMany({ ...big, user: { name: 'ada' } });
  const cookie = (await manager.commit(s0)).setCookie!.split(';')[0]!;
  return { s0, cookie };
}

describe('StorageRedisHash per-key reads (Storage.loadKeys)', () => {
  it('Session.get of one key of a 5 MB session moves only that key, in one round trip', async () => {
    const manager = new SessionManager({ storage, maxSize: 8 * 1024 * 1024 });
    const { s0, cookie } = await fiveMegabytes(manager);

    await server.resetStats();
    const before = await netOut();
    const s1 = manager.session({ cookie });
    expect(await s1.get('user')).toEqual({ name: 'ada' });
    expect(await s1.get('user')).toEqual({ name: 'ada' }); // cached: no second read
    expect(await s1.has('nope')).toBe(false);
    const result = await manager.commit(s1); // expiry was refreshed by the read: no PEXPIRE
    const moved = (await netOut()) - before;
    expect(result.setCookie).toBeUndefined();
    const stats = await server.commandStats();
    expect(stats['evalsha']).toBe(2); // 'user', then 'nope'
    expect(stats['hgetall']).toBeUndefined();
    expect(stats['hmget']).toBe(2);
    expect(moved).toBeLessThan(20_000); // the INFO replies themselves count too
    expect(s1.id).toBe(s0.id);

    // data() still returns everything.
    const s2 = manager.session({ cookie });
    expect(Object.keys(await s2.data())).toHaveLength(51);
  });

  it('Session.set of one key of a 5 MB session reads only the key sizes (loadSizes) and writes only that key', async () => {
    const manager = new SessionManager({ storage, maxSize: 6 * 1024 * 1024 });
    const { s0, cookie } = await fiveMegabytes(manager);

    await server.resetStats();
    const before = await netOut();
    const s1 = manager.session({ cookie });
    await s1.set('tick', 1);
    // Over maxSize by the stored sizes: rejected at set(), still without loading the session.
    await expect(s1.set('huge', 'y'.repeat(1536 * 1024))).rejects.toBeInstanceOf(SessionTooLargeError);
    expect((await manager.commit(s1)).setCookie).toBeUndefined();
    const moved = (await netOut()) - before;
    const stats = await server.commandStats();
    expect(stats['evalsha']).toBe(2); // sizes, then the change set
    expect(stats['hgetall']).toBeUndefined();
    expect(stats['hmget']).toBeUndefined();
    expect(stats['hstrlen']).toBeGreaterThanOrEqual(51);
    expect(moved).toBeLessThan(20_000); // the INFO replies themselves count too
    const stored = (await storage.load(s0.id, HOUR))!.data;
    expect(stored['tick']).toBe(1);
    expect(stored['huge']).toBeUndefined();
    expect(Object.keys(stored)).toHaveLength(52);
  });

  it('get of a missing session makes one call and issues no cookie; writes after a partial read merge', async () => {
    const manager = new SessionManager({ storage });
    const ghost = manager.session({ cookie: `sid=${generateId()}` });
    expect(await ghost.get('a')).toBeUndefined();
    expect((await manager.commit(ghost)).setCookie).toBeUndefined();

    const s0 = manager.session();
    await s0.setMany({ a: 1, b: 2 });
    const cookie = (await manager.commit(s0)).setCookie!.split(';')[0]!;
    const s1 = manager.session({ cookie });
    expect(await s1.get('a')).toBe(1);
    await s1.set('c', 3);
    await s1.remove('b');
    await manager.commit(s1);
    expect(await manager.session({ cookie }).data()).toEqual({ a: 1, c: 3 });
  });

  it('a session removed between a partial read and a write is not recreated', async () => {
    const manager = new SessionManager({ storage });
    const s0 = manager.session();
    await s0.set('a', 1);
    const cookie = (await manager.commit(s0)).setCookie!.split(';')[0]!;
    const s1 = manager.session({ cookie });
    expect(await s1.get('a')).toBe(1);
    await storage.remove(s0.id);
    await s1.set('b', 2); // reads the sizes of the (now missing) session: starts a new one
    const { setCookie } = await manager.commit(s1);
    expect(await client.exists(storage.key(s0.id))).toBe(0);
    expect(setCookie).toBeDefined();
    expect(s1.id).not.toBe(s0.id);
  });
});

describe('Session on StorageRedisHash after per-key reads', () => {
  async function seeded(manager: SessionManager, data: Record<string, JsonValue>): Promise<string> {
    const s = manager.session();
    await s.setMany(data);
    return (await manager.commit(s)).setCookie!.split(';')[0]!;
  }

  it('has() sees a stored null; get() and data() running together agree', async () => {
    const manager = new SessionManager({ storage });
    const cookie = await seeded(manager, { a: null, b: [1] });
    const s = manager.session({ cookie });
    expect(await s.has('a')).toBe(true);
    expect(await s.has('zz')).toBe(false);
    const [b, all] = await Promise.all([s.get('b'), s.data()]);
    expect(b).toEqual([1]);
    expect(all).toEqual({ a: null, b: [1] });
    expect(await s.get('b')).toEqual([1]);
  });

  it('regenerate() after a per-key read moves every key to the new id', async () => {
    const manager = new SessionManager({ storage });
    const cookie = await seeded(manager, { a: 1, b: 2 });
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    const oldId = s.id;
    await s.regenerate();
    const { setCookie } = await manager.commit(s);
    expect(s.id).not.toBe(oldId);
    // The old key holds only the mark of the move (no data), and reads as missing.
    expect(await client.get(storage.key(oldId))).toBe('kv-session:moved');
    expect(await storage.load(oldId, 60_000)).toBeUndefined();
    expect(await manager.session({ cookie: setCookie!.split(';')[0]! }).data()).toEqual({ a: 1, b: 2 });
  });

  it('destroy() after a per-key read deletes the hash and expires the cookie', async () => {
    const manager = new SessionManager({ storage });
    const cookie = await seeded(manager, { a: 1 });
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    const id = s.id;
    await s.destroy();
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    expect(await client.exists(storage.key(id))).toBe(0);
  });

  it('a rolling session read key by key re-sends its cookie without an extra touch', async () => {
    const manager = new SessionManager({ storage, rolling: true });
    const cookie = await seeded(manager, { a: 1 });
    await server.resetStats();
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toContain(s.id);
    const stats = await server.commandStats();
    expect(stats['evalsha']).toBe(1);
    expect(stats['pexpire']).toBe(1); // inside the read script
  });
});

describe('StorageRedisHash failures', () => {
  it('an unreachable server is StorageUnavailableError (503)', async () => {
    const down = await startRedis();
    const c = createClient({ url: down.url, socket: { reconnectStrategy: false } });
    c.on('error', () => undefined);
    await c.connect();
    const s = new StorageRedisHash({ client: c, commandTimeout: 500 });
    await down.stop();
    const error = await s.load(generateId(), HOUR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).status).toBe(503);
    if (c.isOpen) c.destroy();
  });

  it('rejects bad options with a ConfigError', () => {
    expect(() => new StorageRedisHash({ client, prefix: '' })).toThrow(/prefix: must not be empty/);
  });
});

describe('a field that is not JSON (issue 14, item 4)', () => {
  it('is repaired by the first request that reads it: writes before it do not leave the session reading {} forever', async () => {
    const errors: unknown[] = [];
    const manager = new SessionManager({ storage, onError: (e) => errors.push(e) });
    const s = manager.session();
    await s.setMany({ user: 'ann', z: 'keep' });
    const cookie = (await manager.commit(s)).setCookie!.split(';')[0]!;
    const key = storage.key(s.id);
    await client.hSet(key, 'user', 'not json{');

    // A write before any read (sizes only, no decode) succeeds but cannot see the corrupt field.
    const writer = manager.session({ cookie });
    await writer.set('cart', ['book']);
    await manager.commit(writer);

    // The next read reports it, reads as empty, and replaces the stored value although it wrote nothing.
    const reader = manager.session({ cookie });
    expect(await reader.data()).toEqual({});
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CorruptDataError);
    await manager.commit(reader);
    expect(await client.hGet(key, 'user')).toBeNull();

    // From then on writes are visible again, to writers-first and to readers.
    const next = manager.session({ cookie });
    await next.set('cart', ['pen']);
    await manager.commit(next);
    expect(await manager.session({ cookie }).data()).toEqual({ cart: ['pen'] });
    expect(errors).toHaveLength(1);
  });
});
