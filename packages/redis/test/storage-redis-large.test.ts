/**
 * StorageRedisKV's compare-and-set through temporary keys (CAS_LARGE, used from 8 KB), with the
 * threshold lowered to 1 byte so that every write that sends a value takes it: the cases of `apply`
 * that CAS covers (conflicts, compare modes, TTL, missing and moved keys, another type under the
 * key), the fallback to CAS when an ACL refuses, and the hash slot of the temporary keys on a Cluster.
 * Each case checks that the path was taken (`RENAME` counted by INFO commandstats: CAS never renames).
 */
import { type ChangeSet, type JsonValue, SessionManager } from '@kv-session/core';
import { MOVED_MARKER, StorageRedisKV } from '@kv-session/redis';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@kv-session/testing';
import { Cluster as IoredisCluster } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRONG_TYPE } from '../src/script.js';
import { setLargeValueBytes, tempKeyBase } from '../src/storage-redis.js';
import { idFrom, quiet, request } from './helpers.js';

const MAX_AGE = 60_000;
let server: RedisServer;
let client: ReturnType<typeof createClient>;
let threshold: number;

beforeAll(async () => {
  threshold = setLargeValueBytes(1);
  server = await startRedis();
  client = createClient({ url: server.url });
  quiet(client);
  await client.connect();
});

afterAll(async () => {
  setLargeValueBytes(threshold);
  await client?.close();
  await server?.stop();
});

/** `RENAME` calls so far on `node` (only CAS_LARGE renames). */
async function renames(node: RedisServer = server): Promise<number> {
  return (await node.commandStats())['rename'] ?? 0;
}

/** Temporary keys left behind (there must be none after a write). */
async function tempKeys(node: RedisServer = server): Promise<string[]> {
  return (await node.cli('--scan', '--pattern', '*:cas:*')).split('\n').filter((k) => k !== '');
}

function setup(options: { prefix?: string; client?: ReturnType<typeof createClient> } = {}) {
  const storage = new StorageRedisKV({
    client: options.client ?? client,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  return { storage, manager: new SessionManager({ storage, maxAge: MAX_AGE }) };
}

const set = (entries: Record<string, JsonValue>): ChangeSet => ({
  clear: false,
  remove: new Set<string>(),
  set: new Map(Object.entries(entries)),
});
const opts = { maxSize: 100_000 };

describe('writes through temporary keys', () => {
  it('a change is written by RENAME with the TTL CAS sets, in one script call, and no temporary key is left', async () => {
    const { storage, manager } = setup();
    const first = await request(manager, undefined, (s) => s.set('a', 1)); // SET NX: no compare
    const key = storage.key(idFrom(first.cookie));
    await server.cli('PEXPIRE', key, '5000');
    const before = await server.commandStats();
    await request(manager, first.cookie, (s) => s.set('b', 'x'.repeat(300)));
    const after = await server.commandStats();
    const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    // GETEX, then SET old + SET new + EVALSHA (whose script compares natively and renames).
    expect([delta('getex'), delta('set'), delta('evalsha'), delta('rename'), delta('bitop')]).toEqual([
      1, 2, 1, 1, 1,
    ]);
    expect(delta('get')).toBe(0); // the value never entered Lua
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ a: 1, b: 'x'.repeat(300) });
    const ttl = Number(await server.cli('PTTL', key));
    expect(ttl).toBeGreaterThan(MAX_AGE - 10_000);
    expect(ttl).toBeLessThanOrEqual(MAX_AGE);
    expect(await tempKeys()).toEqual([]);

    // apply's own max age, as CAS's SET ... PX sets it
    const loaded = await storage.load(idFrom(first.cookie), MAX_AGE);
    await storage.apply(idFrom(first.cookie), set({ c: 3 }), 123_456, {
      ...opts,
      mode: 'update',
      version: loaded?.version,
    });
    const ttl2 = Number(await server.cli('PTTL', key));
    expect(ttl2).toBeGreaterThan(113_000);
    expect(ttl2).toBeLessThanOrEqual(123_456);
  });

  it('no lost update: 3 storages (as 3 app nodes) x 10 concurrent requests, each setting its own key, keep all 30', async () => {
    const nodes = [setup(), setup(), setup()];
    const first = await request(nodes[0]!.manager, undefined, (s) => s.set('start', 'x'.repeat(2000)));
    const before = await renames();
    await Promise.all(
      nodes.flatMap(({ manager }, n) =>
        Array.from({ length: 10 }, (_, i) => request(manager, first.cookie, (s) => s.set(`k${n}-${i}`, i))),
      ),
    );
    const stored = JSON.parse(await server.cli('GET', nodes[0]!.storage.key(idFrom(first.cookie))));
    expect(Object.keys(stored)).toHaveLength(31);
    for (let n = 0; n < 3; n++) for (let i = 0; i < 10; i++) expect(stored[`k${n}-${i}`]).toBe(i);
    expect((await renames()) - before).toBe(30);
    expect(await tempKeys()).toEqual([]);
  });

  it('a session destroyed by one request is not revived by a concurrent stale save', async () => {
    const { storage, manager } = setup();
    const first = await request(manager, undefined, (s) => s.set('user', 'alice'));
    const key = storage.key(idFrom(first.cookie));
    const a = manager.session({ cookie: first.cookie });
    expect(await a.get('user')).toBe('alice');
    await request(manager, first.cookie, (s) => s.destroy());
    await a.set('cart', [1, 2]);
    const result = await manager.commit(a);
    expect(result.setCookie).toBeUndefined();
    expect(await server.cli('EXISTS', key)).toBe('0');
    expect(await tempKeys()).toEqual([]);
  });

  it('update of a missing (expired) key writes nothing; create of a missing key with a stale version creates it (mode n)', async () => {
    const { storage } = setup();
    const id = 'largemissing00000000000';
    const before = await renames();
    expect(
      await storage.apply(id, set({ a: 1 }), MAX_AGE, { ...opts, mode: 'update', version: '{"a":0}' }),
    ).toEqual({ existed: false, written: false });
    expect(await server.cli('EXISTS', storage.key(id))).toBe('0');
    expect(
      await storage.apply(id, set({ a: 1 }), MAX_AGE, { ...opts, mode: 'create', version: '{"a":0}' }),
    ).toEqual({ existed: false, written: true });
    expect(JSON.parse(await server.cli('GET', storage.key(id)))).toEqual({ a: 1 });
    expect((await renames()) - before).toBe(1);
    expect(await tempKeys()).toEqual([]);
  });

  it('mode v: a stored value of the same length but other bytes is a conflict, merged into (not overwritten)', async () => {
    const { storage } = setup();
    const id = 'largesamelength00000000';
    await client.set(storage.key(id), '{"a":1}', { PX: MAX_AGE });
    const before = await renames();
    // Expected '{"a":2}': same STRLEN as the stored '{"a":1}', one bit apart.
    expect(
      await storage.apply(id, set({ b: 2 }), MAX_AGE, { ...opts, mode: 'update', version: '{"a":2}' }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', storage.key(id)))).toEqual({ a: 1, b: 2 });
    // A stale version of another length, and then the next write of this process (its own value).
    expect(
      await storage.apply(id, set({ c: 3 }), MAX_AGE, { ...opts, mode: 'update', version: '{}' }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', storage.key(id)))).toEqual({ a: 1, b: 2, c: 3 });
    expect((await renames()) - before).toBe(2);
    expect(await tempKeys()).toEqual([]);
  });

  it('mode h: create on an existing key, and update without a version, merge into the stored value', async () => {
    const { storage } = setup();
    const id = 'largehashmode0000000000';
    await client.set(storage.key(id), '{"a":1}', { PX: MAX_AGE });
    const before = await renames();
    expect(await storage.apply(id, set({ b: 2 }), MAX_AGE, { ...opts, mode: 'create' })).toEqual({
      existed: true,
      written: true,
    });
    expect(await setup().storage.apply(id, set({ c: 3 }), MAX_AGE, { ...opts, mode: 'update' })).toEqual({
      existed: true,
      written: true,
    });
    expect(JSON.parse(await server.cli('GET', storage.key(id)))).toEqual({ a: 1, b: 2, c: 3 });
    expect((await renames()) - before).toBe(2);
  });

  it('mode t: another type under the key is replaced when expected, and when not expected (reply -1)', async () => {
    const { storage } = setup();
    const id = 'largewrongtype000000000';
    const key = storage.key(id);
    await client.rPush(key, ['a', 'b']);
    const before = await renames();
    expect(
      await storage.apply(id, set({ a: 1 }), MAX_AGE, { ...opts, mode: 'update', version: WRONG_TYPE }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ a: 1 });
    expect(Number(await server.cli('PTTL', key))).toBeGreaterThan(MAX_AGE - 10_000);

    await client.del(key);
    await client.hSet(key, 'f', 'v');
    expect(
      await storage.apply(id, set({ b: 2 }), MAX_AGE, { ...opts, mode: 'update', version: '{"a":1}' }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ b: 2 });

    // Expected another type, but a string is there now: merged into it.
    await client.set(key, '{"z":0}', { PX: MAX_AGE });
    expect(
      await setup().storage.apply(id, set({ c: 3 }), MAX_AGE, {
        ...opts,
        mode: 'update',
        version: WRONG_TYPE,
      }),
    ).toEqual({ existed: true, written: true });
    expect(JSON.parse(await server.cli('GET', key))).toEqual({ z: 0, c: 3 });
    expect((await renames()) - before).toBe(3);
    expect(await tempKeys()).toEqual([]);
  });

  it('the moved marker: an update reports moved and leaves the marker', async () => {
    const { storage } = setup();
    const id = 'largemoved0000000000000';
    await client.set(storage.key(id), MOVED_MARKER, { PX: MAX_AGE });
    expect(
      await storage.apply(id, set({ a: 1 }), MAX_AGE, { ...opts, mode: 'update', version: '{"a":0}' }),
    ).toEqual({ existed: false, written: false, moved: true });
    expect(await server.cli('GET', storage.key(id))).toBe(MOVED_MARKER);
    expect(await tempKeys()).toEqual([]);
  });

  it('below the threshold, CAS as before (no RENAME)', async () => {
    const { storage, manager } = setup();
    const previous = setLargeValueBytes(10_000);
    try {
      const first = await request(manager, undefined, (s) => s.set('a', 1));
      const before = await renames();
      await request(manager, first.cookie, (s) => s.set('b', 2));
      expect(await renames()).toBe(before);
      expect(JSON.parse(await server.cli('GET', storage.key(idFrom(first.cookie))))).toEqual({ a: 1, b: 2 });
    } finally {
      setLargeValueBytes(previous);
    }
  });
});

describe('fallback to CAS', () => {
  async function userClient(name: string, rules: string[]) {
    await server.cli('ACL', 'SETUSER', name, 'reset', 'on', '>secret', ...rules);
    const c = createClient({ url: server.url, username: name, password: 'secret' });
    quiet(c);
    await c.connect();
    return c;
  }

  it.each([
    ['may not touch the temporary keys (ACL key pattern ~kv-session:*)', ['~kv-session:*', '+@all']],
    ['may not run BITOP (the script checks first and writes nothing)', ['~*', '+@all', '-bitop']],
  ])('an ACL user who %s: writes go through CAS, correct, nothing left behind', async (_name, rules) => {
    const c = await userClient(`cas${rules.length}`, rules);
    try {
      const { storage, manager } = setup({ client: c });
      const first = await request(manager, undefined, (s) => s.set('a', 1));
      const before = await renames();
      await request(manager, first.cookie, (s) => s.set('b', 2));
      await request(manager, first.cookie, (s) => s.set('c', 3));
      expect(JSON.parse(await server.cli('GET', storage.key(idFrom(first.cookie))))).toEqual({
        a: 1,
        b: 2,
        c: 3,
      });
      expect(await renames()).toBe(before);
      expect(await tempKeys()).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('a key with a "}" and no hash tag (no temporary key can share its slot) goes through CAS', async () => {
    const { storage, manager } = setup({ prefix: 'a}b:' });
    const first = await request(manager, undefined, (s) => s.set('a', 1));
    const before = await renames();
    await request(manager, first.cookie, (s) => s.set('b', 2));
    expect(await renames()).toBe(before);
    expect(JSON.parse(await server.cli('GET', storage.key(idFrom(first.cookie))))).toEqual({ a: 1, b: 2 });
  });
});

describe('Cluster: temporary keys in the key slot', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('tempKeyBase names keys of the same slot (CLUSTER KEYSLOT), or none', async () => {
    const node = cluster.nodes[0]!;
    const slot = async (key: string) => Number(await node.cli('CLUSTER', 'KEYSLOT', key));
    const cases: [string, string, boolean][] = [
      ['kv-session:abcdefgh', '', true],
      ['{app}:s:abcdefgh', '', true],
      ['x{y:abcdefgh', '', true],
      ['{}x:abcdefgh', '', false],
      ['a}b:abcdefgh', '', false],
      ['kv-session:abcdefgh', 'app:', true],
      ['kv-session:abcdefgh', '{tenant}:', true],
    ];
    for (const [key, clientPrefix, possible] of cases) {
      const base = tempKeyBase(key, clientPrefix, 'tok');
      expect(base !== undefined, `${clientPrefix}${key}`).toBe(possible);
      if (base === undefined) continue;
      for (const suffix of ['1:old', '1:new', '1:x']) {
        expect(await slot(`${clientPrefix}${base}${suffix}`), `${clientPrefix}${base}${suffix}`).toBe(
          await slot(clientPrefix + key),
        );
      }
    }
  });

  it.each([
    ['node-redis', 'kv-session:'],
    ['node-redis', '{app}:s:'],
    ['ioredis with keyPrefix app:', 'kv-session:'],
  ])(
    '%s, prefix %s: 8 sessions over the slots, each written through temporary keys',
    async (kind, prefix) => {
      const c =
        kind === 'node-redis'
          ? createCluster({ rootNodes: cluster.rootNodes })
          : new IoredisCluster(
              cluster.rootNodes.map((n) => ({ host: '127.0.0.1', port: Number(new URL(n.url).port) })),
              { keyPrefix: 'app:', lazyConnect: true },
            );
      quiet(c);
      await c.connect();
      try {
        const storage = new StorageRedisKV({ client: c as never, prefix });
        const manager = new SessionManager({ storage, maxAge: MAX_AGE });
        const count = async () =>
          (await Promise.all(cluster.nodes.map((n) => renames(n)))).reduce((a, b) => a + b);
        const before = await count();
        const cookies = await Promise.all(
          Array.from({ length: 8 }, async (_, i) => {
            const first = await request(manager, undefined, (s) => s.set('i', i));
            await request(manager, first.cookie, (s) => s.set('more', 'x'.repeat(100)));
            return first.cookie;
          }),
        );
        expect((await count()) - before).toBe(8);
        for (const [i, cookie] of cookies.entries()) {
          expect((await request(manager, cookie, (s) => s.data())).result).toEqual({
            i,
            more: 'x'.repeat(100),
          });
        }
        for (const node of cluster.nodes) expect(await tempKeys(node)).toEqual([]);
      } finally {
        if (c instanceof IoredisCluster) c.disconnect();
        else await c.close();
      }
    },
  );
});
