import { Client } from '@kv-session/testing/adapters';
import { expect } from 'vitest';

/**
 * Issue 16's check for an adapter app with `/login` (sets `user: 'ada'`), `/ping` (never touches the
 * session) and `/get` (answers the data): after a login, five `/ping`s with the signed cookie make
 * no session (`made()` counts `sessionFromHeaders` calls), no storage call and send no cookie; the
 * next `/get` still reads the stored session, making exactly one.
 */
export async function expectUntouchedPingFree(
  url: string,
  calls: string[],
  made: () => number,
): Promise<void> {
  const c = new Client(url);
  const login = await c.get('/login');
  expect(login.setCookies).toHaveLength(1);
  expect(calls).toEqual(['apply']);
  const before = made();
  for (let i = 0; i < 5; i++) {
    const r = await c.get('/ping');
    expect(r.body).toBe('pong');
    expect(r.setCookies).toEqual([]);
  }
  expect(made() - before).toBe(0);
  expect(calls).toEqual(['apply']);
  expect(JSON.parse((await c.get('/get')).body)).toEqual({ user: 'ada' });
  expect(made() - before).toBe(1);
}
