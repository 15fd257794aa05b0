// Concurrent requests of one session through each adapter, on StorageRedisKV and StorageRedisHash
// on a private redis-server: no lost writes, no resurrection after logout, one live id after a
// regenerate that races with reads.
import { type Storage, unsign } from '@kv-session/core';
import { MOVED_MARKER, StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters, type PrivateRedis, privateRedis, SECRET, sidOf, type TestApp } from './support.js';

const WRITERS = 50;
const ROUNDS = 2;
/** Where the destroy/regenerate request sits among 20 concurrent ones: first, middle, last. */
const POSITIONS = [0, 10, 19];

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await privateRedis();
});
afterAll(async () => {
  await redis?.close();
});

const storages: [string, () => Storage & { key(id: string): string }][] = [
  ['StorageRedisKV', () => new StorageRedisKV({ client: redis.client, prefix: `kv:${Math.random()}:` })],
  ['StorageRedisHash', () => new StorageRedisHash({ client: redis.client, prefix: `h:${Math.random()}:` })],
];

const cases = adapters.flatMap(([a, start]) =>
  storages.map(([s, make]) => [`${a} on ${s}`, start, make] as const),
);

describe.each(cases)('concurrency: %s', (_name, start, makeStorage) => {
  let app: TestApp;
  let storage: Storage & { key(id: string): string };

  beforeAll(async () => {
    storage = makeStorage();
    app = await start({ storage, secret: SECRET, onError: () => {} });
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = async (path: string, cookie?: string) => {
    const res = await fetch(app.url + path, cookie === undefined ? {} : { headers: { cookie } });
    return { status: res.status, body: await res.text(), setCookies: res.headers.getSetCookie() };
  };
  const newSession = async () => {
    const r = await get('/set?k=init&v=1');
    const signed = sidOf(r.setCookies)!;
    return { cookie: `sid=${signed}`, id: unsign(signed, [SECRET])!.value };
  };
  /** Whether the id's key holds a session, not just the mark regenerate() leaves under an old id. */
  const moved = async (id: string) =>
    (await redis.client.type(storage.key(id))) === 'string' &&
    (await redis.client.get(storage.key(id))) === MOVED_MARKER;
  const exists = async (id: string) =>
    (await redis.client.exists(storage.key(id))) === 1 && !(await moved(id));

  it(`${WRITERS} concurrent writers of distinct keys keep ${WRITERS}/${WRITERS}`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { cookie } = await newSession();
      const replies = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) => get(`/set?k=key${i}&v=${round}-${i}`, cookie)),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(WRITERS).fill(200));
      expect(replies.flatMap((r) => r.setCookies)).toEqual([]); // the id never changed
      const data = JSON.parse((await get('/data', cookie)).body) as Record<string, string>;
      const expected: Record<string, string> = { init: '1' };
      for (let i = 0; i < WRITERS; i++) expected[`key${i}`] = `${round}-${i}`;
      expect(data).toEqual(expected);
    }
  });

  it('logout (destroy) racing with writes never brings the session back', async () => {
    for (const at of POSITIONS) {
      const { cookie, id } = await newSession();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i === at ? get('/destroy', cookie) : get(`/set?k=w${i}&v=${i}`, cookie),
        ),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(replies[at]!.setCookies[0]).toMatch(/^sid=;.*Max-Age=0/);
      expect(await exists(id)).toBe(false);
      expect((await get('/data', cookie)).body).toBe('{}');
      // A write that arrived after the logout got a fresh session under a new id, never the old one.
      for (const r of replies) {
        const signed = sidOf(r.setCookies);
        if (signed !== undefined && signed !== '') expect(unsign(signed, [SECRET])!.value).not.toBe(id);
      }
      expect(await exists(id)).toBe(false);
    }
  });

  it('regenerate racing with reads leaves exactly one live id holding the data', async () => {
    for (const at of POSITIONS) {
      const { cookie, id } = await newSession();
      await get('/set?k=user&v=alice', cookie);
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i === at ? get('/regenerate', cookie) : get('/get?k=user', cookie),
        ),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
      for (const [i, r] of replies.entries()) {
        if (i !== at) {
          expect(['alice', '']).toContain(r.body); // before or after the move, never anything else
          expect(r.setCookies).toEqual([]); // a read never issues an id
        }
      }
      const signed = sidOf(replies[at]!.setCookies)!;
      const newId = unsign(signed, [SECRET])!.value;
      expect(newId).not.toBe(id);
      expect(await exists(id)).toBe(false);
      expect(await moved(id)).toBe(true);
      expect(await exists(newId)).toBe(true);
      expect((await get('/get?k=user', `sid=${signed}`)).body).toBe('alice');
      expect((await get('/get?k=user', cookie)).body).toBe('');
      expect(await exists(id)).toBe(false); // the read of the old id did not recreate it
    }
  });
});
