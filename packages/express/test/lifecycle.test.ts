// Session lifecycle over real HTTP (issue 18): absolute timeout, "keep me signed in", persistent
// cookies, and "sign out everywhere" across two browsers, on StorageRedisKV with a private Redis.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { session } from '@kv-session/express';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { Client, redisClient } from '@kv-session/testing/adapters';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let redis: RedisServer;
let client: Awaited<ReturnType<typeof redisClient>>;
const servers: Server[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = await redisClient(redis.url);
});

afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  await client?.close().catch(() => undefined);
  await redis?.stop();
});

/** An app with a login ("keep me signed in" box), a page of the user's sessions, and sign-out-everywhere. */
async function start(options: Omit<SessionOptions, 'storage'>, prefix: string): Promise<string> {
  const mw = session({ ...options, storage: new StorageRedisKV({ client, prefix }) });
  const app = express();
  app.use(mw);
  app.get('/login', async (req, res) => {
    const user = String(req.query.user);
    await req.session.regenerate();
    await req.session.set('user', user);
    await req.session.setOwner(user);
    if (req.query.remember === '1') await req.session.setMaxAge(Number(req.query.ms ?? 3_000));
    res.send('ok');
  });
  app.get('/me', async (req, res) => {
    res.json({ user: (await req.session.get('user')) ?? null });
  });
  app.get('/sessions', async (req, res) => {
    const user = await req.session.get('user');
    if (typeof user !== 'string') return void res.status(401).end();
    res.json(await mw.manager.listSessions(user, { current: await req.session.getId() }));
  });
  app.get('/signout-everywhere', async (req, res) => {
    const user = await req.session.get('user');
    if (typeof user !== 'string') return void res.status(401).end();
    const except = req.query.keep === '1' ? await req.session.getId() : undefined;
    res.json({ destroyed: await mw.manager.destroySessions(user, { except }) });
  });
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.name, message: err.message });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const me = async (c: Client) => JSON.parse((await c.get('/me')).body) as { user: string | null };

describe('session lifecycle over HTTP (Express, StorageRedisKV)', () => {
  it('absoluteTimeout ends an active session: empty, cookie expired, record deleted', async () => {
    const url = await start({ maxAge: 60_000, absoluteTimeout: 600 }, 'abs:');
    const browser = new Client(url);
    await browser.get('/login?user=ada');
    const started = Date.now();
    // Active every 150 ms, far inside maxAge: alive until the absolute deadline.
    while (Date.now() - started < 400) {
      expect(await me(browser)).toEqual({ user: 'ada' });
      await sleep(150);
    }
    await sleep(Math.max(0, 650 - (Date.now() - started)));
    const after = await browser.get('/me');
    expect(JSON.parse(after.body)).toEqual({ user: null });
    expect(after.setCookies.join()).toMatch(/sid=;.*Max-Age=0/i);
    expect(browser.cookies.size).toBe(0);
    // No session record is left; the owner's index keeps a stale entry until it is next read (pruned then).
    expect(await client.keys('abs:*')).toEqual(['abs:owner:ada']);
  });

  it('a remembered session ("keep me signed in") outlives the default maxAge; a plain one does not', async () => {
    const url = await start({ maxAge: 300 }, 'remember:');
    const remembered = new Client(url);
    const plain = new Client(url);
    await remembered.get('/login?user=ada&remember=1&ms=5000');
    await plain.get('/login?user=bob');
    await sleep(500);
    expect(await me(remembered)).toEqual({ user: 'ada' });
    expect(await me(plain)).toEqual({ user: null });
  });

  it('cookie.persistent: Max-Age on login, not re-sent within the refresh window, re-sent after it', async () => {
    const url = await start({ maxAge: 10_000, refreshWindow: 400, cookie: { persistent: true } }, 'persist:');
    const browser = new Client(url);
    const login = await browser.get('/login?user=ada');
    expect(login.setCookies.join()).toMatch(/Max-Age=10;/);
    for (let i = 0; i < 3; i++) expect((await browser.get('/me')).setCookies).toEqual([]);
    await sleep(450);
    const due = await browser.get('/me');
    expect(due.setCookies.join()).toMatch(/Max-Age=10;/);
    expect((await browser.get('/me')).setCookies).toEqual([]);
    // "Keep me signed in" on a persistent cookie: the cookie carries the remembered lifetime.
    const remembered = new Client(url);
    expect((await remembered.get('/login?user=bob&remember=1&ms=2592000000')).setCookies.join()).toMatch(
      /Max-Age=2592000;/,
    );
  });

  it('sign out everywhere: two browsers of one owner, both destroyed by one call', async () => {
    const url = await start({ maxAge: 60_000 }, 'everywhere:');
    const laptop = new Client(url);
    const phone = new Client(url);
    const stranger = new Client(url);
    await laptop.get('/login?user=ada');
    await phone.get('/login?user=ada');
    await stranger.get('/login?user=eve');

    const listed = JSON.parse((await phone.get('/sessions')).body) as { id: string; current: boolean }[];
    expect(listed).toHaveLength(2);
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    for (const s of listed) expect(s.id).toMatch(/^[A-Za-z0-9_-]{6}…$/);

    expect(JSON.parse((await phone.get('/signout-everywhere')).body)).toEqual({ destroyed: 2 });
    expect(await me(laptop)).toEqual({ user: null });
    expect(await me(phone)).toEqual({ user: null });
    expect(await me(stranger)).toEqual({ user: 'eve' });
  });

  it('sign out everywhere else keeps the caller signed in', async () => {
    const url = await start({ maxAge: 60_000 }, 'else:');
    const laptop = new Client(url);
    const phone = new Client(url);
    await laptop.get('/login?user=ada');
    await phone.get('/login?user=ada');
    expect(JSON.parse((await phone.get('/signout-everywhere?keep=1')).body)).toEqual({ destroyed: 1 });
    expect(await me(laptop)).toEqual({ user: null });
    expect(await me(phone)).toEqual({ user: 'ada' });
  });

  it('listSessions after expiry shows only the live sessions', async () => {
    const url = await start({ maxAge: 300 }, 'listing:');
    const shortLived = new Client(url);
    const remembered = new Client(url);
    await shortLived.get('/login?user=ada');
    await remembered.get('/login?user=ada&remember=1&ms=5000');
    expect(JSON.parse((await remembered.get('/sessions')).body)).toHaveLength(2);
    await sleep(450);
    const listed = JSON.parse((await remembered.get('/sessions')).body) as { current: boolean }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]!.current).toBe(true);
  });
});
