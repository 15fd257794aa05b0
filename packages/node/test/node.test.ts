import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionError, StorageUnavailableError } from '@kv-session/core';
import { createNodeSessions, type NodeSessionOptions } from '@kv-session/node';
import { headerRoundTrip, useRedisStorage } from '@kv-session/testing/adapters';
import { describe, expect, it } from 'vitest';

const fx = useRedisStorage();

async function listen(listener: RequestListener) {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The reference scenario with the `handler()` wrapper. */
function scenario(options: NodeSessionOptions = {}) {
  const errors: unknown[] = [];
  const kv = createNodeSessions({ storage: fx.storage, ...options });
  const listener = kv.handler(
    async (req, res, session) => {
      if (req.url === '/set') {
        await session.set('time', Math.floor(Date.now() / 1000));
        return 'ok';
      }
      if (req.url === '/get') {
        res.setHeader('content-type', 'application/json');
        return JSON.stringify(await session.data());
      }
      if (req.url === '/del') {
        await session.removeAll();
        return 'ok';
      }
      if (req.url === '/fail') {
        await session.set('half', 'done');
        throw new Error('handler failed');
      }
      res.statusCode = 204;
    },
    (error, _req, res) => {
      errors.push(error);
      res.statusCode = error instanceof SessionError ? error.status : 500;
      res.end(String(res.statusCode));
    },
  );
  return { listener, errors };
}

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(';')[0];

describe('@kv-session/node on node:http with Redis', () => {
  it('runs the reference scenario through handler(): cookie round trip, JSON key in Redis', async () => {
    const { listener, errors } = scenario({ maxAge: 60_000 });
    const app = await listen(listener);
    try {
      const set = await fetch(`${app.url}/set`);
      expect(await set.text()).toBe('ok');
      expect(set.headers.getSetCookie()[0]).toMatch(
        /^sid=[A-Za-z0-9_-]{22,}; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      const cookie = cookieOf(set)!;
      const key = `kv-session:${cookie.slice(4)}`;
      const got = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(got.headers.get('content-type')).toBe('application/json');
      const data = (await got.json()) as { time: number };
      expect(Math.abs(data.time - Date.now() / 1000)).toBeLessThan(60);
      expect(JSON.parse(await fx.redis.cli('GET', key))).toEqual(data);
      expect(await (await fetch(`${app.url}/del`, { headers: { cookie } })).text()).toBe('ok');
      expect(await fx.redis.cli('EXISTS', key)).toBe('0');
      expect(await (await fetch(`${app.url}/get`, { headers: { cookie } })).json()).toEqual({});
      expect(errors).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('commit() before res.end() in a hand-written listener, and no cookie for a reader', async () => {
    const kv = createNodeSessions({ storage: fx.storage });
    const app = await listen(async (req, res) => {
      const s = kv.session(req);
      if (req.url === '/set') await s.set('n', 1);
      const body = JSON.stringify(await s.data());
      await kv.commit(s, res);
      res.end(body);
    });
    try {
      await fx.redis.resetStats();
      const read = await fetch(`${app.url}/get`);
      expect(await read.json()).toEqual({});
      expect(read.headers.getSetCookie()).toEqual([]);
      expect(await fx.redis.totalCommands()).toBe(0);
      const set = await fetch(`${app.url}/set`);
      expect(await set.json()).toEqual({ n: 1 });
      const again = await fetch(`${app.url}/get`, { headers: { cookie: cookieOf(set)! } });
      expect(await again.json()).toEqual({ n: 1 });
    } finally {
      await app.close();
    }
  });

  it('header mode: the id is answered in the header and read back from it', async () => {
    const app = await listen(scenario({ header: 'x-session-id' }).listener);
    try {
      await headerRoundTrip(app.url);
    } finally {
      await app.close();
    }
  });

  it('sends StorageUnavailableError to onError (503) on load and on save; default handler answers 503 too', async () => {
    const { listener, errors } = scenario();
    const app = await listen(listener);
    const plain = await listen(
      createNodeSessions({ storage: fx.storage }).handler(async (_req, _res, s) =>
        JSON.stringify(await s.data()),
      ),
    );
    try {
      const cookie = cookieOf(await fetch(`${app.url}/set`))!;
      await fx.redis.stop();
      const load = await fetch(`${app.url}/get`, { headers: { cookie } });
      expect(load.status).toBe(503);
      const save = await fetch(`${app.url}/set`);
      expect(save.status).toBe(503);
      expect(save.headers.getSetCookie()).toEqual([]);
      expect(errors.map((e) => e instanceof StorageUnavailableError)).toEqual([true, true]);
      const byDefault = await fetch(`${plain.url}/`, { headers: { cookie } });
      expect(byDefault.status).toBe(503);
      expect(await byDefault.text()).toBe('Service Unavailable');
    } finally {
      await fx.redis.start();
      await fx.client.ping();
      await app.close();
      await plain.close();
    }
  });

  it('keeps the writes of a handler that throws (cookie on the error response); refuses a late commit', async () => {
    const { listener, errors } = scenario();
    const app = await listen(listener);
    const kv = createNodeSessions({ storage: fx.storage });
    let late: unknown;
    const early = await listen(async (req, res) => {
      const s = kv.session(req);
      await s.set('n', 1);
      res.writeHead(200).write('streaming');
      late = await kv.commit(s, res).catch((error: unknown) => error);
      res.end();
    });
    try {
      const res = await fetch(`${app.url}/fail`);
      expect(res.status).toBe(500);
      const cookie = cookieOf(res)!;
      expect(JSON.parse(await fx.redis.cli('GET', `kv-session:${cookie.slice(4)}`))).toEqual({
        half: 'done',
      });
      expect((errors[0] as Error).message).toBe('handler failed');
      expect(await (await fetch(early.url)).text()).toBe('streaming');
      expect((late as Error).message).toMatch(/before the response headers are sent/);
      expect(await fx.redis.cli('DBSIZE')).toBe('1'); // the late commit saved nothing
    } finally {
      await app.close();
      await early.close();
    }
  });

  it("marks the cookie Secure with cookie.secure 'auto' behind a trusted proxy only", async () => {
    const proxied = await listen(
      createNodeSessions({ storage: fx.storage, cookie: { secure: 'auto' }, trustProxy: true }).handler(
        async (_q, _s, s) => {
          await s.set('a', 1);
        },
      ),
    );
    const direct = await listen(
      createNodeSessions({ storage: fx.storage, cookie: { secure: 'auto' } }).handler(async (_q, _s, s) => {
        await s.set('a', 1);
      }),
    );
    try {
      const headers = { 'x-forwarded-proto': 'https' };
      expect((await fetch(proxied.url, { headers })).headers.getSetCookie()[0]).toMatch(/; Secure/);
      expect((await fetch(proxied.url)).headers.getSetCookie()[0]).not.toMatch(/; Secure/);
      expect((await fetch(direct.url, { headers })).headers.getSetCookie()[0]).not.toMatch(/; Secure/);
    } finally {
      await proxied.close();
      await direct.close();
    }
  });
});
