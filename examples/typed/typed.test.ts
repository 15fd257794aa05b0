// docs/typed-sessions.md shows app.ts verbatim; here it runs on a real HTTP server.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageMemory } from '@kv-session/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';

const storage = new StorageMemory();
let server: Server;
let base: string;

beforeAll(async () => {
  const { app } = createApp(storage);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

async function call(path: string, init: RequestInit & { cookie?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.cookie !== undefined) headers.set('cookie', init.cookie);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(base + path, { ...init, headers });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    setCookie: res.headers.get('set-cookie'),
  };
}

describe('typed sessions example (docs/typed-sessions.md)', () => {
  it('the guide shows exactly examples/typed/app.ts and the type-checked SessionTypes fixture', () => {
    const guide = readFileSync(new URL('../../docs/typed-sessions.md', import.meta.url), 'utf8');
    for (const path of [
      'examples/typed/app.ts',
      'packages/express/test/type-fixtures/session-types/session-types.ts',
    ]) {
      const source = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
      const block = guide.split(`<!-- ${path} -->`)[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
      expect(block, path).toBe(source);
    }
  });

  it('logs in, counts visits with a Date read back from JSON, validates the cart', async () => {
    const login = await call('/login', { method: 'POST', body: JSON.stringify({ userId: 'ada' }) });
    expect(login.status).toBe(200);
    const cookie = login.setCookie!.split(';')[0]!;

    const first = await call('/visit', { cookie });
    expect(first.body).toEqual({ visits: 1, previous: null });
    const second = await call('/visit', { cookie });
    expect(second.body.visits).toBe(2);
    expect(Number.isNaN(Date.parse(String(second.body.previous)))).toBe(false);

    const bad = await call('/cart', {
      method: 'PUT',
      cookie,
      body: JSON.stringify({ items: ['a'], total: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual([{ path: ['cart', 'total'], message: expect.any(String) }]);
    const good = await call('/cart', {
      method: 'PUT',
      cookie,
      body: JSON.stringify({ items: ['a'], total: 3 }),
    });
    expect(good.body).toEqual({ items: ['a'], total: 3 });

    const id = decodeURIComponent(cookie.split('=')[1]!);
    const stored = await storage.load(id);
    expect(stored?.data).toMatchObject({ userId: 'ada', visits: 2, cart: { items: ['a'], total: 3 } });
    expect(typeof stored?.data.lastSeen).toBe('string');
  });
});
