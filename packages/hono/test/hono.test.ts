import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { SessionError, StorageUnavailableError } from '@kv-session/core';
import { errorResponse, type HonoSessionOptions, session } from '@kv-session/hono';
import { expectReaderCostsNothing, headerRoundTrip, useRedisStorage } from '@kv-session/testing/adapters';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';

const fx = useRedisStorage();

/** The reference scenario on Hono, served by @hono/node-server on 127.0.0.1. */
async function serveScenario(options: HonoSessionOptions = {}) {
  const errors: unknown[] = [];
  const app = new Hono();
  app.use(session({ storage: fx.storage, ...options }));
  app.get('/set', async (c) => {
    await c.get('session').set('time', Math.floor(Date.now() / 1000));
    return c.text('ok');
  });
  app.get('/get', async (c) => c.json(await c.var.session.data()));
  app.get('/del', async (c) => {
    await c.get('session').removeAll();
    return c.text('ok');
  });
  app.get('/fail', async (c) => {
    await c.get('session').set('half', 'done');
    throw new Error('handler failed');
  });
  app.get('/other', (c) => c.text('no session here'));
  app.onError((err, c) => {
    errors.push(err);
    return err instanceof SessionError ? errorResponse(err) : c.text('Internal Server Error', 500);
  });
  const server = createAdaptorServer({ fetch: app.fetch, hostname: '127.0.0.1' }) as Server;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    errors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(';')[0];

describe('@kv-session/hono on @hono/node-server with Redis', () => {
  it('runs the reference scenario with the cookie round trip and one JSON key in Redis', async () => {
    const app = await serveScenario({ maxAge: 60_000 });
    try {
      const set = await fetch(`${app.url}/set`);
      expect(set.status).toBe(200);
      expect(await set.text()).toBe('ok');
      expect(set.headers.getSetCookie()).toHaveLength(1);
      expect(set.headers.getSetCookie()[0]).toMatch(
        /^sid=[A-Za-z0-9_-]{22,}; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      const cookie = cookieOf(set)!;
      const key = `kv-session:${cookie.slice(4)}`;

      const got = await fetch(`${app.url}/get`, { headers: { cookie } });
      const data = (await got.json()) as { time: number };
      expect(Math.abs(data.time - Date.now() / 1000)).toBeLessThan(60);
      expect(got.headers.getSetCookie()).toEqual([]);
      expect(JSON.parse(await fx.redis.cli('GET', key))).toEqual(data);
      expect(Number(await fx.redis.cli('PTTL', key))).toBeLessThanOrEqual(60_000);

      expect(await (await fetch(`${app.url}/del`, { headers: { cookie } })).text()).toBe('ok');
      expect(await fx.redis.cli('EXISTS', key)).toBe('0');
      expect(await (await fetch(`${app.url}/get`, { headers: { cookie } })).json()).toEqual({});
      expect(app.errors).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('gives a reading visitor no cookie and no key, and costs no Redis call when the session is untouched', async () => {
    const app = await serveScenario();
    try {
      await expectReaderCostsNothing(fx, app.url, 'sid=forged.value');
    } finally {
      await app.close();
    }
  });

  it('header mode: answers the id in the header and reads it back from there', async () => {
    const app = await serveScenario({ header: 'x-session-id' });
    try {
      const { got } = await headerRoundTrip(app.url);
      expect(got.headers.get('x-session-id')).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('sends StorageUnavailableError (status 503) through app.onError, on load and on save', async () => {
    const app = await serveScenario();
    try {
      const cookie = cookieOf(await fetch(`${app.url}/set`))!;
      await fx.redis.stop();
      const load = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(load.status).toBe(503);
      expect(await load.text()).toBe('Service Unavailable');
      const save = await fetch(`${app.url}/set`); // new session: the save after next() is the first call
      expect(save.status).toBe(503);
      expect(save.headers.getSetCookie()).toEqual([]);
      expect(app.errors).toHaveLength(2);
      expect(app.errors.every((e) => e instanceof StorageUnavailableError && e.status === 503)).toBe(true);
    } finally {
      await fx.redis.start();
      await fx.client.ping();
      await app.close();
    }
  });

  it("without app.onError, Hono's default handler answers a SessionError's 503 with a generic body (issue 14 item 7)", async () => {
    const app = new Hono();
    app.use(session({ storage: fx.storage }));
    app.get('/get', async (c) => c.json(await c.var.session.data()));
    app.get('/set', async (c) => {
      await c.var.session.set('time', 1);
      return c.text('ok');
    });
    const server = createAdaptorServer({ fetch: app.fetch, hostname: '127.0.0.1' }) as Server;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cookie = cookieOf(await fetch(`${url}/set`))!;
      await fx.redis.stop();
      const load = await fetch(`${url}/get`, { headers: { cookie } });
      expect(load.status).toBe(503);
      expect(load.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      // The error's message names the timeout option; the client sees only the status text.
      expect(await load.text()).toBe('Service Unavailable');
      const save = await fetch(`${url}/set`); // new session: the save after next() is the first call
      expect(save.status).toBe(503);
      expect(await save.text()).toBe('Service Unavailable');
      expect(save.headers.getSetCookie()).toEqual([]);
    } finally {
      await fx.redis.start();
      await fx.client.ping();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a handler that throws after a write: onError answers, the write is saved and its cookie sent', async () => {
    const app = await serveScenario();
    try {
      const res = await fetch(`${app.url}/fail`);
      expect(res.status).toBe(500);
      const cookie = cookieOf(res)!;
      expect(JSON.parse(await fx.redis.cli('GET', `kv-session:${cookie.slice(4)}`))).toEqual({
        half: 'done',
      });
      expect((app.errors[0] as Error).message).toBe('handler failed');
    } finally {
      await app.close();
    }
  });

  it('keeps one session when mounted twice, and keeps Set-Cookie headers the handler set', async () => {
    const app = new Hono();
    const middleware = session({ storage: fx.storage });
    app.use(middleware);
    app.use('/twice/*', middleware);
    app.get('/twice/set', async (c) => {
      await c.get('session').set('n', 1);
      c.header('set-cookie', 'theme=dark; Path=/', { append: true });
      return c.redirect('/get');
    });
    const res = await app.request('http://127.0.0.1/twice/set');
    expect(res.status).toBe(302);
    const lines = res.headers.getSetCookie();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('theme=dark; Path=/');
    expect(lines[1]).toMatch(/^sid=/);
    expect(await fx.redis.cli('DBSIZE')).toBe('1');
  });

  it("marks the cookie Secure with cookie.secure 'auto' over HTTPS or a trusted proxy", async () => {
    const app = new Hono();
    app.use(session({ storage: fx.storage, cookie: { secure: 'auto' }, trustProxy: true }));
    app.get('/set', async (c) => {
      await c.get('session').set('a', 1);
      return c.text('ok');
    });
    const https = await app.request('https://example.test/set');
    expect(https.headers.getSetCookie()[0]).toMatch(/; Secure/);
    const plain = await app.request('http://example.test/set');
    expect(plain.headers.getSetCookie()[0]).not.toMatch(/; Secure/);
    const proxied = await app.request('http://example.test/set', {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(proxied.headers.getSetCookie()[0]).toMatch(/; Secure/);
  });
});
