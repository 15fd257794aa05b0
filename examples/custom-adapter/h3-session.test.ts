import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { H3, toNodeHandler } from 'h3';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvSession, useKvSession } from './h3-session.js';

let redis: RedisServer;
let client: ReturnType<typeof createClient>;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url, socket: { reconnectStrategy: 50 } });
  client.on('error', () => {}); // expected while Redis is stopped
  await client.connect();
  const app = new H3();
  app.use(kvSession({ storage: new StorageRedisKV({ client, commandTimeoutMs: 500 }), maxAge: 60_000 }));
  app.get('/set', async (event) => {
    await useKvSession(event).set('time', Math.floor(Date.now() / 1000));
    return 'ok';
  });
  app.get('/get', async (event) => useKvSession(event).data());
  app.get('/raw', async (event) => {
    await useKvSession(event).set('raw', true);
    return new Response('raw', { headers: { 'x-raw': '1' } });
  });
  app.get('/del', async (event) => {
    await useKvSession(event).removeAll();
    return 'ok';
  });
  const server = createServer(toNodeHandler(app));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
afterAll(async () => {
  await close?.();
  await client?.close();
  await redis?.stop();
});

describe('the h3 adapter of docs/writing-an-adapter.md', () => {
  it('is shown in the guide exactly as tested here', () => {
    const source = readFileSync(new URL('./h3-session.ts', import.meta.url), 'utf8');
    const guide = readFileSync(new URL('../../docs/writing-an-adapter.md', import.meta.url), 'utf8');
    expect(guide).toContain(source.trim());
  });

  it('runs the reference scenario with the cookie round trip, and answers 503 while Redis is down', async () => {
    const read = await fetch(`${url}/get`);
    expect(await read.json()).toEqual({});
    expect(read.headers.getSetCookie()).toEqual([]);

    const set = await fetch(`${url}/set`);
    expect(await set.text()).toBe('ok');
    expect(set.headers.getSetCookie()[0]).toMatch(
      /^sid=[A-Za-z0-9_-]{22,}; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const cookie = set.headers.getSetCookie()[0]!.split(';')[0]!;
    const { time } = (await (await fetch(`${url}/get`, { headers: { cookie } })).json()) as { time: number };
    expect(JSON.parse(await redis.cli('GET', `kv-session:${cookie.slice(4)}`))).toEqual({ time });

    await redis.stop();
    try {
      expect((await fetch(`${url}/get`, { headers: { cookie } })).status).toBe(503);
      expect((await fetch(`${url}/set`)).status).toBe(503); // the save after next() fails
    } finally {
      await redis.start();
      await client.ping();
    }
    // A handler that returns its own Response still gets the cookie (h3 merges event.res.headers).
    const raw = await fetch(`${url}/raw`);
    expect(raw.headers.get('x-raw')).toBe('1');
    expect(raw.headers.getSetCookie()).toHaveLength(1);

    expect(await (await fetch(`${url}/del`, { headers: { cookie } })).text()).toBe('ok');
    expect(await (await fetch(`${url}/get`, { headers: { cookie } })).json()).toEqual({});
  });
});
