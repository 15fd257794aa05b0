// Checks of the reference scenario (/set, /get, and an /other route that never touches the session)
// shared by the Fetch, Hono and node:http adapter tests.
import { expect } from 'vitest';
import type { RedisStorageFixture } from './redis-storage.js';

/**
 * A visitor who only reads gets `{}`, no cookie and no Redis key; a request that never touches the
 * session, with `cookie` (not a usable id), costs no Redis command either.
 */
export async function expectReaderCostsNothing(fx: RedisStorageFixture, url: string, cookie: string) {
  await fx.redis.resetStats();
  const got = await fetch(`${url}/get`);
  expect(await got.json()).toEqual({});
  expect(got.headers.getSetCookie()).toEqual([]);
  const other = await fetch(`${url}/other`, { headers: { cookie } });
  expect(await other.text()).toBe('no session here');
  expect(other.headers.getSetCookie()).toEqual([]);
  expect(await fx.redis.totalCommands()).toBe(0);
  expect(await fx.redis.cli('DBSIZE')).toBe('0');
}

/** Header mode: /set answers the id in `x-session-id`, and /get with that header reads the data. */
export async function headerRoundTrip(url: string) {
  const set = await fetch(`${url}/set`);
  const id = set.headers.get('x-session-id');
  expect(id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
  const got = await fetch(`${url}/get`, { headers: { 'x-session-id': id! } });
  expect(Object.keys((await got.json()) as object)).toEqual(['time']);
  return { set, got, id: id! };
}
