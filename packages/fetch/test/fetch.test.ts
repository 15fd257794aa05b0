import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { SessionError, StorageUnavailableError } from '@kv-session/core';
import {
  applyCommit,
  createFetchSessions,
  errorResponse,
  type FetchSessions,
  requestInfo,
} from '@kv-session/fetch';
import { expectReaderCostsNothing, headerRoundTrip, useRedisStorage } from '@kv-session/testing/adapters';
import { describe, expect, it } from 'vitest';

// A real node:http server bridging to the Fetch handler (what Bun.serve / Deno.serve do natively).
async function serveFetch(fetch: (request: Request) => Promise<Response>) {
  const server = createAdaptorServer({ fetch, hostname: '127.0.0.1' }) as Server;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The reference scenario as a plain Fetch handler. */
function scenario(kv: FetchSessions) {
  return (request: Request) =>
    kv.handle(request, async (session) => {
      const path = new URL(request.url).pathname;
      if (path === '/set') {
        await session.set('time', Math.floor(Date.now() / 1000));
        return new Response('ok');
      }
      if (path === '/get') return Response.json(await session.data());
      if (path === '/del') {
        await session.removeAll();
        return new Response('ok');
      }
      if (path === '/redirect') {
        await session.set('redirected', true);
        return Response.redirect(new URL('/get', request.url), 302);
      }
      return new Response('no session here');
    });
}

const fx = useRedisStorage();

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(';')[0];

describe('@kv-session/fetch over a real HTTP server with Redis', () => {
  it('runs the reference scenario: /set, /get, /del, with the cookie round trip and the key in Redis', async () => {
    const kv = createFetchSessions({ storage: fx.storage, maxAge: 60_000 });
    const app = await serveFetch(scenario(kv));
    try {
      const set = await fetch(`${app.url}/set`);
      expect(await set.text()).toBe('ok');
      const lines = set.headers.getSetCookie();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^sid=[A-Za-z0-9_-]{22,};/);
      expect(lines[0]).toMatch(/; HttpOnly/);
      expect(lines[0]).toMatch(/; SameSite=Lax/);
      expect(lines[0]).not.toMatch(/; Secure/);
      const cookie = cookieOf(set)!;
      const id = cookie.slice('sid='.length);

      const got = await fetch(`${app.url}/get`, { headers: { cookie } });
      const data = (await got.json()) as { time: number };
      expect(Math.abs(data.time - Date.now() / 1000)).toBeLessThan(60);
      expect(got.headers.getSetCookie()).toEqual([]); // known session, nothing to re-send
      expect(JSON.parse(await fx.redis.cli('GET', `kv-session:${id}`))).toEqual(data);

      const del = await fetch(`${app.url}/del`, { headers: { cookie } });
      expect(await del.text()).toBe('ok');
      expect(await fx.redis.cli('EXISTS', `kv-session:${id}`)).toBe('0');
      expect(await (await fetch(`${app.url}/get`, { headers: { cookie } })).json()).toEqual({});
    } finally {
      await app.close();
    }
  });

  it('sends no Set-Cookie and writes nothing for a visitor who only reads; no storage call when untouched', async () => {
    const kv = createFetchSessions({ storage: fx.storage });
    const app = await serveFetch(scenario(kv));
    try {
      await expectReaderCostsNothing(fx, app.url, 'sid=not-a-valid-id');
    } finally {
      await app.close();
    }
  });

  it('header mode: the id comes back in the configured header and is read from it', async () => {
    const kv = createFetchSessions({ storage: fx.storage, header: 'X-Session-Id' });
    const app = await serveFetch(scenario(kv));
    try {
      const { set, got, id } = await headerRoundTrip(app.url);
      expect(cookieOf(set)).toBe(`sid=${id}`);
      expect(got.headers.get('x-session-id')).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('answers 503 when Redis is down, on load and on save, and recovers when it is back', async () => {
    const reported: SessionError[] = [];
    const kv = createFetchSessions({ storage: fx.storage, onError: (error) => reported.push(error) });
    const app = await serveFetch(scenario(kv));
    try {
      const cookie = cookieOf(await fetch(`${app.url}/set`))!;
      await fx.redis.stop();
      const load = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(load.status).toBe(503);
      expect(await load.text()).toBe('Service Unavailable');
      const save = await fetch(`${app.url}/set`); // new session: the save is the first storage call
      expect(save.status).toBe(503);
      expect(save.headers.getSetCookie()).toEqual([]);
      expect(reported.map((e) => e instanceof StorageUnavailableError)).toEqual([true, true]);
      await fx.redis.start();
      await fx.client.ping();
      // The private server keeps no data across the restart: the old session reads as empty.
      const again = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({});
      expect((await fetch(`${app.url}/set`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('adds the cookie to a response with immutable headers (Response.redirect) by copying it', async () => {
    const kv = createFetchSessions({ storage: fx.storage });
    const app = await serveFetch(scenario(kv));
    try {
      const res = await fetch(`${app.url}/redirect`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(`${app.url}/get`);
      const cookie = cookieOf(res)!;
      const got = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(await got.json()).toEqual({ redirected: true });
    } finally {
      await app.close();
    }
  });
});

describe('@kv-session/fetch building blocks', () => {
  it('reads secure from the URL, or from X-Forwarded-Proto only with trustProxy', () => {
    const headers = { cookie: 'a=1; sid=x', 'x-forwarded-proto': 'https, http', 'x-id': 'abc' };
    expect(requestInfo(new Request('https://example.test/'))).toEqual({ secure: true });
    expect(requestInfo(new Request('http://example.test/', { headers }), { header: 'x-id' })).toEqual({
      cookie: 'a=1; sid=x',
      header: 'abc',
      secure: false,
    });
    expect(requestInfo(new Request('http://example.test/', { headers }), { trustProxy: true }).secure).toBe(
      true,
    );
  });

  it("marks the cookie Secure with cookie.secure 'auto' on HTTPS, and behind a trusted proxy", async () => {
    const kv = createFetchSessions({ cookie: { secure: 'auto' }, trustProxy: true });
    const run = (url: string, headers: Record<string, string> = {}) =>
      kv.handle(new Request(url, { headers }), async (s) => {
        await s.set('a', 1);
        return new Response('ok');
      });
    expect((await run('https://example.test/')).headers.getSetCookie()[0]).toMatch(/; Secure/);
    expect((await run('http://example.test/')).headers.getSetCookie()[0]).not.toMatch(/; Secure/);
    const proxied = await run('http://example.test/', { 'x-forwarded-proto': 'https' });
    expect(proxied.headers.getSetCookie()[0]).toMatch(/; Secure/);
  });

  it('applyCommit returns the same response when nothing is to be added or headers are mutable', () => {
    const response = new Response('x');
    expect(applyCommit(response, { setCookie: undefined, headers: {} })).toBe(response);
    expect(applyCommit(response, { setCookie: 'sid=a', headers: { 'x-id': 'a' } })).toBe(response);
    expect(response.headers.getSetCookie()).toEqual(['sid=a']);
    expect(response.headers.get('x-id')).toBe('a');
  });

  it('errorResponse shows the message only for errors below 500', async () => {
    const hidden = errorResponse(new StorageUnavailableError('redis at 10.0.0.1 refused'));
    expect(hidden.status).toBe(503);
    expect(await hidden.text()).toBe('Service Unavailable');
    const shown = errorResponse(new SessionError('bad input', { code: 'DATA_INVALID', status: 400 }));
    expect(shown.status).toBe(400);
    expect(await shown.text()).toBe('bad input');
  });

  it('rethrows errors that are not SessionErrors after saving the writes made before them', async () => {
    const kv = createFetchSessions({ storage: fx.storage });
    const first = await kv.handle(new Request('http://example.test/'), async (s) => {
      await s.set('a', 1);
      return new Response('ok');
    });
    const cookie = cookieOf(first)!;
    await expect(
      kv.handle(new Request('http://example.test/', { headers: { cookie } }), async (s) => {
        await s.set('flash', 'kept');
        throw new TypeError('boom');
      }),
    ).rejects.toThrow('boom');
    expect(JSON.parse(await fx.redis.cli('GET', `kv-session:${cookie.slice(4)}`))).toEqual({
      a: 1,
      flash: 'kept',
    });
  });

  it('a SessionError thrown by the handler answers its status, with the writes saved and the cookie sent', async () => {
    const reported: SessionError[] = [];
    const kv = createFetchSessions({ storage: fx.storage, onError: (error) => reported.push(error) });
    const res = await kv.handle(new Request('http://example.test/'), async (s) => {
      await s.set('flash', 'kept');
      await s.set('bad', 1n as never);
      return new Response('unreachable');
    });
    expect(res.status).toBe(500);
    expect(reported.map((e) => e.code)).toEqual(['DATA_INVALID']);
    const cookie = cookieOf(res)!;
    expect(JSON.parse(await fx.redis.cli('GET', `kv-session:${cookie.slice(4)}`))).toEqual({ flash: 'kept' });
  });
});
