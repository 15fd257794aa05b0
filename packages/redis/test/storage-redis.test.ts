import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  CorruptDataError,
  SessionDataError,
  type SessionError,
  SessionManager,
  SessionTooLargeError,
} from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idFrom, invalidation, quiet, request, stats } from './helpers.js';

let server: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  quiet(client);
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

const MAX_AGE = 60_000;

function setup(prefix?: string, onError?: (error: SessionError) => void) {
  const storage = new StorageRedisKV(prefix === undefined ? { client } : { client, prefix });
  const manager = new SessionManager({
    storage,
    maxAge: MAX_AGE,
    ...(onError === undefined ? {} : { onError: (e: SessionError) => onError(e) }),
  });
  return { storage, manager };
}

describe('options', () => {
  it('rejects bad options with a ConfigError listing every problem', () => {
    const bad = () =>
      new StorageRedisKV({
        client: {} as never,
        prefix: '',
        commandTimeout: -1,
        refreshInterval: 1.5,
        extra: 1,
      } as never);
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (error) {
      const issues = (error as ConfigError).issues.join('\n');
      expect(issues).toMatch(/^client: must be a node-redis client/m);
      expect(issues).toMatch(/^prefix: must not be empty/m);
      expect(issues).toMatch(/^commandTimeout:/m);
      expect(issues).toMatch(/^refreshInterval:/m);
      expect(issues).toMatch(/extra/);
    }
  });

  it('an ioredis client is recognised; clientSideCache: true with it is a ConfigError (it has no cache)', async () => {
    const ioredis = new Redis(server.url, { lazyConnect: true });
    try {
      expect(new StorageRedisKV({ client: ioredis }).clientSideCache).toBe(false);
      expect(new StorageRedisHash({ client: ioredis })).toBeInstanceOf(StorageRedisHash);
      const error = (() => {
        try {
          new StorageRedisKV({ client: ioredis, clientSideCache: true });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(/clientSideCache: needs a node-redis client/);
    } finally {
      ioredis.disconnect();
    }
  });

  it('the sources never load ioredis (an optional peer dependency): type-only imports at most', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const runtime = readdirSync(src)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) =>
        readFileSync(join(src, f), 'utf8')
          .split('\n')
          .filter((line) => /['"]ioredis['"]/.test(line) && !/^\s*(import|export) type /.test(line))
          .map((line) => `${f}: ${line}`),
      );
    expect(runtime).toEqual([]);
  });

  it('defaults the prefix to kv-session: and detects no client-side cache', () => {
    const storage = new StorageRedisKV({ client });
    expect(storage.key('abc')).toBe('kv-session:abc');
    expect(storage.clientSideCache).toBe(false);
  });
});

// The reference's Redis scenario (set / get / del), with the default prefix and with `s_`.
describe.each([
  ['default prefix', undefined, 'kv-session:'],
  ['prefix s_', 's_', 's_'],
])('reference scenario, %s', (_name, prefix, keyPrefix) => {
  it('set stores time, get reads it, the key is visible with its TTL, del removes it', async () => {
    const { manager } = setup(prefix);
    const time = Math.floor(Date.now() / 1000);
    const set = await request(manager, undefined, (s) => s.set('time', time));
    expect(set.setCookie).toMatch(/^sid=/);
    const id = idFrom(set.cookie);
    const key = `${keyPrefix}${id}`;

    expect(JSON.parse(await server.cli('GET', key))).toEqual({ time });
    const pttl = Number(await server.cli('PTTL', key));
    expect(pttl).toBeGreaterThan(MAX_AGE - 5_000);
    expect(pttl).toBeLessThanOrEqual(MAX_AGE);

    const get = await request(manager, set.cookie, (s) => s.data());
    expect(get.result).toEqual({ time });

    await request(manager, set.cookie, (s) => s.removeAll());
    expect(await server.cli('EXISTS', key)).toBe('0');
    const after = await request(manager, set.cookie, (s) => s.data());
    expect(after.result).toEqual({});
  });

  it('an operator edit with SET ... KEEPTTL is seen on the next request, DEL ends the session', async () => {
    const { manager } = setup(prefix);
    const first = await request(manager, undefined, (s) => s.set('time', 5));
    const key = `${keyPrefix}${idFrom(first.cookie)}`;
    expect(await server.cli('SET', key, '{"time":1}', 'KEEPTTL')).toBe('OK');
    expect(Number(await server.cli('PTTL', key))).toBeGreaterThan(0);
    expect((await request(manager, first.cookie, (s) => s.data())).result).toEqual({ time: 1 });

    expect(await server.cli('DEL', key)).toBe('1');
    const gone = await request(manager, first.cookie, (s) => s.get('time'));
    expect(gone.result).toBeUndefined();
    expect(gone.setCookie).toBeUndefined();
  });
});

describe('storage operations', () => {
  it('load refreshes the expiry to maxAge in the same command', async () => {
    const { storage } = setup();
    await storage.save('loadrefreshes0000000000', { a: 1 }, 5_000);
    expect(Number(await server.cli('PTTL', storage.key('loadrefreshes0000000000')))).toBeLessThanOrEqual(
      5_000,
    );
    const loaded = await storage.load('loadrefreshes0000000000', 50_000);
    expect(loaded?.data).toEqual({ a: 1 });
    // The version is the stored value as read: its text, sent back by apply.
    expect((loaded!.version as { raw: unknown }).raw).toBe('{"a":1}');
    expect(loaded?.size).toBe(7);
    expect(loaded?.expiresAt).toBeGreaterThan(Date.now() + 40_000);
    expect(Number(await server.cli('PTTL', storage.key('loadrefreshes0000000000')))).toBeGreaterThan(40_000);
  });

  it('touch extends an existing key and does not create a missing one', async () => {
    const { storage } = setup();
    await storage.save('touchme0000000000000000', {}, 5_000);
    await storage.touch('touchme0000000000000000', 50_000);
    expect(Number(await server.cli('PTTL', storage.key('touchme0000000000000000')))).toBeGreaterThan(40_000);
    await storage.touch('touchmissing00000000000', 50_000);
    expect(await server.cli('EXISTS', storage.key('touchmissing00000000000'))).toBe('0');
  });

  it('keeps values exactly: big numbers, empty arrays and objects, unicode, __proto__', async () => {
    const { manager, storage } = setup();
    const value = { big: 2 ** 60, arr: [], obj: {}, text: 'été 🎉', nested: [[], {}] };
    const first = await request(manager, undefined, async (s) => {
      await s.set('v', value);
      await s.setMany(JSON.parse('{"__proto__": {"x": 1}}'));
    });
    await request(manager, first.cookie, (s) => s.set('other', 1));
    const raw = await server.cli('GET', storage.key(idFrom(first.cookie)));
    expect(raw).toContain('"arr":[]');
    expect(raw).toContain(`"big":${JSON.stringify(2 ** 60)}`); // cjson would write 1.1529215046068e+18
    const data = (await request(manager, first.cookie, (s) => s.data())).result;
    expect(data['v']).toEqual(value);
    expect(Object.hasOwn(data, '__proto__')).toBe(true);
    expect(data['other']).toBe(1);
  });

  it('rejects a change set over maxSize and writes nothing', async () => {
    const { storage } = setup();
    await storage.save('toolarge000000000000000', { a: 1 }, MAX_AGE);
    const changes = { clear: false, remove: new Set<string>(), set: new Map([['b', 'x'.repeat(200)]]) };
    await expect(
      storage.apply('toolarge000000000000000', changes, MAX_AGE, {
        mode: 'update',
        version: '{"a":1}',
        maxSize: 100,
      }),
    ).rejects.toBeInstanceOf(SessionTooLargeError);
    expect(await server.cli('GET', storage.key('toolarge000000000000000'))).toBe('{"a":1}');
  });

  it('apply in update mode does not recreate a missing key; create mode creates it', async () => {
    const { storage } = setup();
    const changes = { clear: false, remove: new Set<string>(), set: new Map([['a', 1]]) };
    const opts = { maxSize: 1000 };
    expect(
      await storage.apply('applymissing00000000000', changes, MAX_AGE, {
        ...opts,
        mode: 'update',
        version: '{}',
      }),
    ).toEqual({ existed: false, written: false });
    expect(
      await storage.apply('applymissing00000000000', changes, MAX_AGE, { ...opts, mode: 'update' }),
    ).toEqual({ existed: false, written: false });
    expect(await server.cli('EXISTS', storage.key('applymissing00000000000'))).toBe('0');
    expect(
      await storage.apply('applymissing00000000000', changes, MAX_AGE, { ...opts, mode: 'create' }),
    ).toEqual({ existed: false, written: true });
    // create on an existing key merges into it
    const more = { clear: false, remove: new Set<string>(), set: new Map([['b', 2]]) };
    expect(
      await storage.apply('applymissing00000000000', more, MAX_AGE, { ...opts, mode: 'create' }),
    ).toEqual({ existed: true, written: true });
    // update with an unknown version reads, merges and writes
    const remove = { clear: false, remove: new Set(['a']), set: new Map([['c', 3]]) };
    expect(
      await storage.apply('applymissing00000000000', remove, MAX_AGE, { ...opts, mode: 'update' }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', storage.key('applymissing00000000000')))).toEqual({
      b: 2,
      c: 3,
    });
  });
  it('works through a client whose type mapping returns Buffers', async () => {
    const buffers = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await client.set('buffer-probe', 'x');
    expect(Buffer.isBuffer(await buffers.get('buffer-probe'))).toBe(true);
    const storage = new StorageRedisKV({ client: buffers });
    const id = 'buffermapping0000000000';
    const opts = { maxSize: 1000 };
    const set = (k: string, v: number) => ({
      clear: false,
      remove: new Set<string>(),
      set: new Map([[k, v]]),
    });
    await storage.apply(id, set('a', 1), MAX_AGE, { ...opts, mode: 'create' });
    const loaded = await storage.load(id, MAX_AGE);
    expect(loaded).toMatchObject({ data: { a: 1 } });
    expect(String((loaded!.version as { raw: unknown }).raw)).toBe('{"a":1}');
    // a stale version forces the conflict path (array reply of Buffers)
    await storage.apply(id, set('b', 2), MAX_AGE, { ...opts, mode: 'update', version: '{}' });
    expect((await storage.load(id, MAX_AGE))?.data).toEqual({ a: 1, b: 2 });
  });
});

describe('concurrency', () => {
  it('50 concurrent requests setting different keys of one session keep all 50 keys', async () => {
    const { manager, storage } = setup();
    const first = await request(manager, undefined, (s) => s.set('start', true));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => request(manager, first.cookie, (s) => s.set(`k${i}`, i))),
    );
    const stored = JSON.parse(await server.cli('GET', storage.key(idFrom(first.cookie))));
    const kept = Array.from({ length: 50 }, (_, i) => stored[`k${i}`] === i).filter(Boolean).length;
    expect(kept).toBe(50);
    expect(stored['start']).toBe(true);
  });

  it('a session destroyed by one request is not recreated by a concurrent stale save', async () => {
    const { manager, storage } = setup();
    const first = await request(manager, undefined, (s) => s.set('user', 'alice'));
    const key = storage.key(idFrom(first.cookie));

    // Request A loads the session and is slow; request B destroys it meanwhile.
    const a = manager.session({ cookie: first.cookie });
    expect(await a.get('user')).toBe('alice');
    await request(manager, first.cookie, (s) => s.destroy());
    expect(await server.cli('EXISTS', key)).toBe('0');

    await a.set('cart', [1, 2]);
    const result = await manager.commit(a);
    expect(result.setCookie).toBeUndefined();
    expect(await server.cli('EXISTS', key)).toBe('0');
  });

  it('two writers of the same key: the last write wins, nothing else is lost', async () => {
    const { manager, storage } = setup();
    const first = await request(manager, undefined, (s) => s.set('color', 'red'));
    const a = manager.session({ cookie: first.cookie });
    const b = manager.session({ cookie: first.cookie });
    await a.set('color', 'green');
    await b.set('color', 'blue');
    await b.set('size', 'L');
    await manager.commit(a);
    await manager.commit(b);
    const stored = JSON.parse(await server.cli('GET', storage.key(idFrom(first.cookie))));
    expect(stored).toEqual({ color: 'blue', size: 'L' });
  });
});

describe('corrupt values', () => {
  it.each([
    ['not JSON', 'not json{'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"text"'],
  ])('%s is reported, reads as empty, and the next save replaces it', async (_name, raw) => {
    const errors: SessionError[] = [];
    const { manager, storage } = setup(undefined, (e) => errors.push(e));
    const first = await request(manager, undefined, (s) => s.set('a', 1));
    const key = storage.key(idFrom(first.cookie));
    await server.cli('SET', key, raw, 'KEEPTTL');

    const read = await request(manager, first.cookie, (s) => s.data());
    expect(read.result).toEqual({});
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CorruptDataError);
    expect((errors[0] as CorruptDataError).version).toBe(raw);
    expect(errors[0]!.message).not.toContain(idFrom(first.cookie));

    await request(manager, first.cookie, (s) => s.set('b', 2));
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ b: 2 });
  });

  it.each([
    ['GETEX', false],
    ['GET with client-side caching', true],
  ])(
    'bytes that are not UTF-8 inside a JSON string read as U+FFFD, and the next write applies (%s)',
    async (_name, cached) => {
      const csc = cached
        ? createClient({ url: server.url, RESP: 3, clientSideCache: { maxEntries: 100 } })
        : client;
      if (cached) {
        quiet(csc);
        await csc.connect();
      }
      try {
        const storage = new StorageRedisKV({ client: csc });
        expect(storage.clientSideCache).toBe(cached);
        const manager = new SessionManager({ storage, maxAge: MAX_AGE });
        const first = await request(manager, undefined, (s) => s.set('a', 'xy'));
        // With the cache, this read makes the next one a cacheable GET.
        await request(manager, first.cookie, (s) => s.data());
        const key = storage.key(idFrom(first.cookie));
        const bytes = Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xff]), Buffer.from('y"}')]);
        // With the cache, the next read must not be answered from the copy made before this write.
        const invalidated = cached ? invalidation(csc, key) : undefined;
        await client.set(key, bytes, { KEEPTTL: true });
        await invalidated;

        const read = await request(manager, first.cookie, (s) => s.data());
        expect(read.result).toEqual({ a: 'x\uFFFDy' });
        // The compare-and-set expects the bytes Redis holds, not the UTF-8 of the decoded text.
        await request(manager, first.cookie, (s) => s.set('b', 2));
        expect(JSON.parse(await server.cli('GET', key))).toEqual({ a: 'x\uFFFDy', b: 2 });
      } finally {
        if (cached) await csc.close();
      }
    },
  );

  it('a key of another type (a hash) is reported, reads as empty, and the next save replaces it', async () => {
    const errors: SessionError[] = [];
    const { manager, storage } = setup(undefined, (e) => errors.push(e));
    const first = await request(manager, undefined, (s) => s.set('a', 1));
    const key = storage.key(idFrom(first.cookie));
    await server.cli('DEL', key);
    await server.cli('HSET', key, 'a', '1');
    await server.cli('PEXPIRE', key, '60000');

    const read = await request(manager, first.cookie, (s) => s.data());
    expect(read.result).toEqual({});
    expect(errors.map((e) => e.name)).toEqual(['CorruptDataError']);
    expect(errors[0]!.message).toMatch(/holds another type than a string/);
    expect(errors[0]!.message).not.toContain(idFrom(first.cookie));

    await request(manager, first.cookie, (s) => s.set('b', 2));
    expect(await server.cli('TYPE', key)).toBe('string');
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ b: 2 });
  });

  it('data nested 100,000 deep (JSON.parse takes it, JSON.stringify overflows) is reported, reads as empty, and the next write replaces it', async () => {
    const errors: SessionError[] = [];
    const { manager, storage } = setup(undefined, (e) => errors.push(e));
    const first = await request(manager, undefined, (s) => s.set('a', 1));
    const key = storage.key(idFrom(first.cookie));
    const depth = 100_000;
    // Through the client: the text is too long for a redis-cli argument.
    await client.set(key, `{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`, { KEEPTTL: true });

    const write = await request(manager, first.cookie, async (s) => {
      await s.set('b', 2);
      return s.data();
    });
    expect(write.result).toEqual({ b: 2 });
    expect(errors.map((e) => e.name)).toEqual(['CorruptDataError']);
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ b: 2 });
  });
});

describe('commands per request (INFO commandstats deltas)', () => {
  it('untouched 0, read-only 1 (GETEX), write 2 round trips (GETEX + EVALSHA), new session 1', async () => {
    const { manager } = setup();
    const first = await request(manager, undefined, (s) => s.set('time', 1));
    // warm the script cache: the first EVALSHA on a fresh server costs one extra EVAL
    await request(manager, first.cookie, (s) => s.set('time', 2));

    await server.resetStats();
    await request(manager, first.cookie, async () => undefined);
    expect(await stats(server)).toEqual({});

    await server.resetStats();
    const read = await request(manager, first.cookie, (s) => s.get('time'));
    expect(read.result).toBe(2);
    expect(await stats(server)).toEqual({ getex: 1 });

    // Redis also counts the GET and SET the script runs inside EVALSHA: 2 round trips in all.
    await server.resetStats();
    await request(manager, first.cookie, (s) => s.set('time', 3));
    expect(await stats(server)).toEqual({ getex: 1, evalsha: 1, get: 1, set: 1 });

    await server.resetStats();
    // A new session is one plain SET NX (no script).
    await request(manager, undefined, (s) => s.set('time', 4));
    expect(await stats(server)).toEqual({ set: 1 });

    // 100 read-only requests: exactly 100 commands; the expiry refresh rides on GETEX.
    await server.resetStats();
    for (let i = 0; i < 100; i++) await request(manager, first.cookie, (s) => s.get('time'));
    expect(await stats(server)).toEqual({ getex: 100 });
  });
});

describe('the shared abort signal of a time slice', () => {
  it('200 commands in one slice raise no MaxListenersExceededWarning, and all succeed', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { storage } = setup();
      const ids = Array.from({ length: 200 }, (_, i) => `slice${String(i).padStart(20, '0')}`);
      // Issued in the same tick: all 200 wait to be written, each listening to the one signal.
      await Promise.all(ids.map((id) => storage.save(id, { i: id }, MAX_AGE)));
      const loaded = await Promise.all(ids.map((id) => storage.load(id, MAX_AGE)));
      expect(loaded.map((l) => l?.data['i'])).toEqual(ids);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

function issuesOf(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('StorageRedisKV with an empty prefix (koa-session + koa-redis sites without one)', () => {
  it("prefix: '' alone is a ConfigError naming allowEmptyPrefix, listed with the other problems", () => {
    expect(issuesOf(() => new StorageRedisKV({ client, prefix: '' }))).toMatch(
      /^prefix: must not be empty, unless allowEmptyPrefix: true/m,
    );
    const both = issuesOf(
      () => new StorageRedisKV({ client: {} as never, prefix: '', commandTimeoutMs: -1 }),
    );
    expect(both).toMatch(/^client: /m);
    expect(both).toMatch(/^prefix: must not be empty/m);
    expect(both).toMatch(/^commandTimeoutMs: /m);
    expect(() => new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: 'yes' } as never)).toThrow(
      ConfigError,
    );
  });

  it('with allowEmptyPrefix: true, a session is stored under its bare id, with its TTL', async () => {
    const storage = new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: true });
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    const s = manager.session();
    await s.set('time', 1);
    await manager.save(s);
    expect(storage.key(s.id)).toBe(s.id);
    expect(JSON.parse((await client.get(s.id)) ?? 'null')).toEqual({ time: 1 });
    expect(await client.pTTL(s.id)).toBeGreaterThan(MAX_AGE - 5_000);
    expect(await manager.sessionById(s.id).get('time')).toBe(1);
  });

  it("an id that is not one never becomes a key: the app's other keys are not read, written or deleted", async () => {
    await client.set('config', '{"admin":true}');
    await client.set('user:1', '{"name":"ann"}');
    const storage = new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: true });
    await server.resetStats();
    for (const id of ['config', 'user:1', '../x', '']) {
      await expect(storage.load(id, MAX_AGE)).rejects.toBeInstanceOf(SessionDataError);
      await expect(storage.remove(id)).rejects.toBeInstanceOf(SessionDataError);
      await expect(storage.touch(id, MAX_AGE)).rejects.toBeInstanceOf(SessionDataError);
    }
    // Through the manager, a malformed id is no session at all (no storage call, as with any prefix).
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    expect(await manager.sessionById('config').data()).toEqual({});
    expect(await stats(server)).toEqual({});
    expect(await client.get('config')).toBe('{"admin":true}');
    expect(await client.get('user:1')).toBe('{"name":"ann"}');
    expect(await client.pTTL('config')).toBe(-1);
  });

  it('a prefixed storage keeps accepting any id it is given (unchanged behaviour)', () => {
    expect(new StorageRedisKV({ client, prefix: 's_' }).key('x')).toBe('s_x');
  });
});
