/**
 * One behaviour suite for the three adapters (Express, Fastify, Koa). Each framework's test file
 * serves {@link routes} on a real HTTP server and calls {@link adapterSuite}; the suite drives it
 * with `fetch` and checks values, cookies, headers and what reached storage.
 */
import {
  type Session,
  type SessionOptions,
  type Storage,
  StorageUnavailableError,
  sign,
  unsign,
} from '@kv-session/core';
import { MOVED_MARKER, StorageRedisKV } from '@kv-session/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../src/redis-server.js';

/** What a route answers: a body, and optionally a cookie of the app's own. */
export interface RouteResult {
  body: string;
  setCookie?: string;
}

/** A framework-neutral route: the framework wrapper passes the session and the query string. */
export type RouteHandler = (session: Session, query: URLSearchParams) => Promise<RouteResult>;

const text = (v: unknown): string => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** The routes every framework serves (GET). The reference's /set, /get, /remove, /clear first. */
export const routes: Record<string, RouteHandler> = {
  '/set': async (s, q) => {
    await s.set(q.get('k') ?? 'k', q.get('v') ?? '');
    return { body: '' };
  },
  '/get': async (s, q) => ({ body: text(await s.get(q.get('k') ?? 'k')) }),
  '/remove': async (s, q) => {
    await s.remove(q.get('k') ?? 'k');
    return { body: '' };
  },
  '/clear': async (s) => {
    await s.removeAll();
    return { body: '' };
  },
  '/data': async (s) => ({ body: JSON.stringify(await s.data()) }),
  '/regenerate': async (s) => {
    await s.regenerate();
    return { body: '' };
  },
  '/destroy': async (s) => {
    await s.destroy();
    return { body: '' };
  },
  '/untouched': async () => ({ body: 'hello' }),
  '/fail-after-set': async (s) => {
    await s.set('flash', 'kept');
    throw new Error('handler failed after a write');
  },
  '/app-cookie': async (s) => {
    await s.set('k', 'v');
    return { body: '', setCookie: 'theme=dark; Path=/' };
  },
};

/** A server started by a framework's test file. */
export interface TestApp {
  url: string;
  close(): Promise<void>;
}

/** Starts the framework's server with the session middleware/plugin configured by `options`. */
export type StartApp = (options: SessionOptions) => Promise<TestApp>;

/** Where sessions are stored for the suite (memory or a private Redis). */
export interface Backend {
  storage: Storage;
  /** Number of stored sessions. */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** A connected node-redis client on `url` whose connection errors are left to the storage. */
export async function redisClient(url: string): Promise<ReturnType<typeof createClient>> {
  const client = createClient({ url });
  client.on('error', () => {}); // node-redis emits connection errors as events; requests see 503s
  await client.connect();
  return client;
}

/** A private redis-server with `StorageRedisKV` on it. */
export async function redisBackend(): Promise<Backend & { url: string }> {
  const server = await startRedis();
  const client = await redisClient(server.url);
  return {
    url: server.url,
    storage: new StorageRedisKV({ client }),
    // Sessions only: the marks regenerate() leaves under old ids (MOVED_MARKER) hold no session.
    count: async () =>
      Number(
        await server.cli(
          'EVAL',
          `local n = 0
for _, k in ipairs(redis.call('KEYS', '*')) do
  if redis.call('TYPE', k)['ok'] ~= 'string' or redis.call('GET', k) ~= '${MOVED_MARKER}' then n = n + 1 end
end
return n`,
          '0',
        ),
      ),
    close: async () => {
      await client.close().catch(() => undefined);
      await server.stop();
    },
  };
}

/** A response as the suite sees it. */
export interface Reply {
  status: number;
  body: string;
  setCookies: string[];
  headers: Headers;
}

/** A tiny HTTP client: keeps one cookie jar (unless disabled) and optional fixed headers. */
export class Client {
  readonly cookies = new Map<string, string>();
  readonly headers: Record<string, string> = {};
  constructor(
    readonly base: string,
    readonly useJar = true,
  ) {}

  async get(path: string, extra: Record<string, string> = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    if (this.useJar && this.cookies.size > 0 && headers.cookie === undefined) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await fetch(this.base + path, { headers });
    const body = await res.text();
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, body, setCookies, headers: res.headers };
  }
}

const SECRET = 'adapter-suite-secret-0123456789';

/** A storage whose every call fails as an unreachable backend would. */
export function unavailableStorage(): Storage {
  const fail = async (): Promise<never> => {
    throw new StorageUnavailableError('Session storage is unavailable (test)');
  };
  return { load: fail, save: fail, touch: fail, remove: fail, apply: fail };
}

/** Wraps a storage, counting calls and optionally delaying writes (to expose late saves). */
export function instrument(inner: Storage, writeDelayMs = 0): Storage & { calls: string[] } {
  const calls: string[] = [];
  const delay = () => new Promise((r) => setTimeout(r, writeDelayMs));
  return {
    calls,
    async load(id, maxAge) {
      calls.push('load');
      return inner.load(id, maxAge);
    },
    async save(id, data, maxAge) {
      calls.push('save');
      await delay();
      return inner.save(id, data, maxAge);
    },
    async touch(id, maxAge) {
      calls.push('touch');
      return inner.touch(id, maxAge);
    },
    async remove(id) {
      calls.push('remove');
      return inner.remove(id);
    },
    async apply(id, changes, maxAge, options) {
      calls.push('apply');
      await delay();
      if (inner.apply === undefined) throw new Error('inner storage has no apply');
      return inner.apply(id, changes, maxAge, options);
    },
  };
}

const sidOf = (setCookies: string[], name = 'sid'): string | undefined =>
  setCookies
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0]
    ?.slice(name.length + 1);

/** Registers the shared adapter tests under `describe(name)`. */
export function adapterSuite(name: string, start: StartApp, makeBackend: () => Promise<Backend>): void {
  describe(`${name} adapter`, () => {
    let backend: Backend;
    const apps: TestApp[] = [];
    const open = async (options: SessionOptions = {}): Promise<TestApp> => {
      const app = await start({ storage: backend.storage, secret: SECRET, ...options });
      apps.push(app);
      return app;
    };

    beforeAll(async () => {
      backend = await makeBackend();
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await backend.close();
    });

    it('cookie mode: /set, /get, /remove, /clear as in the reference', async () => {
      const app = await open();
      const c = new Client(app.url);
      const first = await c.get('/set?k=key1&v=100');
      expect(first.status).toBe(200);
      expect(first.body).toBe('');
      expect(first.setCookies).toHaveLength(1);
      expect(first.setCookies[0]).toMatch(/^sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
      const second = await c.get('/set?k=key2&v=200');
      expect(second.setCookies).toEqual([]); // the id did not change: no cookie needed
      expect((await c.get('/get?k=key1')).body).toBe('100');
      expect((await c.get('/get?k=key2')).body).toBe('200');
      expect((await c.get('/get?k=key3')).body).toBe('');
      expect((await c.get('/remove?k=key1')).body).toBe('');
      expect((await c.get('/remove?k=key3')).body).toBe('');
      expect((await c.get('/remove?k=key4')).body).toBe('');
      expect((await c.get('/get?k=key1')).body).toBe('');
      expect((await c.get('/get?k=key2')).body).toBe('200');
      const id = unsign(c.cookies.get('sid')!, [SECRET])!.value;
      expect((await backend.storage.load(id, 60_000))?.data).toEqual({ key2: '200' });
      const clear = await c.get('/clear');
      expect(clear.body).toBe('');
      expect(clear.setCookies).toEqual([]); // removeAll() leaves the cookie alone
      expect(await backend.storage.load(id, 60_000)).toBeUndefined();
      expect((await c.get('/get?k=key2')).body).toBe('');
    });

    it('header mode: the id travels in x-session-id, sent back only when created', async () => {
      const app = await open({ header: 'x-session-id' });
      const first = await new Client(app.url, false).get('/set?k=key1&v=100');
      const sid = first.headers.get('x-session-id');
      expect(sid).toMatch(/^[\w-]{22,}\.[\w-]+$/);
      expect(sidOf(first.setCookies)).toBe(sid);
      const c = new Client(app.url, false); // no cookie jar: the header alone carries the id
      c.headers['x-session-id'] = sid!;
      const second = await c.get('/set?k=key2&v=200');
      expect(second.headers.get('x-session-id')).toBeNull();
      expect(second.setCookies).toEqual([]);
      expect((await c.get('/get?k=key1')).body).toBe('100');
      expect((await c.get('/get?k=key2')).body).toBe('200');
      expect((await c.get('/get?k=key3')).body).toBe('');
      expect((await c.get('/remove?k=key1')).body).toBe('');
      expect((await c.get('/remove?k=key3')).body).toBe('');
      expect((await c.get('/get?k=key1')).body).toBe('');
      expect((await c.get('/get?k=key2')).body).toBe('200');
      // A changed id is sent back in the header too.
      const regen = await c.get('/regenerate');
      const newSid = regen.headers.get('x-session-id');
      expect(newSid).toMatch(/^[\w-]{22,}\.[\w-]+$/);
      expect(newSid).not.toBe(sid);
      expect((await c.get('/get?k=key2')).body).toBe(''); // the old id is gone
      c.headers['x-session-id'] = newSid!;
      expect((await c.get('/get?k=key2')).body).toBe('200');
      expect((await c.get('/clear')).body).toBe('');
      expect((await c.get('/get?k=key2')).body).toBe('');
      // The header wins over a cookie of another session.
      const other = new Client(app.url);
      await other.get('/set?k=key9&v=9');
      const both = await c.get('/get?k=key9', { cookie: `sid=${other.cookies.get('sid')}` });
      expect(both.body).toBe('');
    });

    it('a visitor who never writes gets no cookie and creates nothing in storage', async () => {
      const storage = instrument(backend.storage);
      const app = await open({ storage });
      const before = await backend.count();
      const c = new Client(app.url);
      for (const path of ['/untouched', '/get?k=a', '/data', '/remove?k=a', '/clear']) {
        const r = await c.get(path);
        expect(r.status).toBe(200);
        expect(r.setCookies).toEqual([]);
      }
      expect(await backend.count()).toBe(before);
      expect(storage.calls).toEqual([]); // no id: nothing to load or remove
    });

    it('the app’s own Set-Cookie is kept next to the session cookie', async () => {
      const app = await open();
      const r = await new Client(app.url).get('/app-cookie');
      expect(r.setCookies).toHaveLength(2);
      expect(r.setCookies).toContain('theme=dark; Path=/');
      expect(sidOf(r.setCookies)).toBeDefined();
    });

    it('regenerate sends a new cookie and moves the data; the old id is gone', async () => {
      const app = await open();
      const c = new Client(app.url);
      await c.get('/set?k=user&v=alice');
      const oldSid = c.cookies.get('sid')!;
      const r = await c.get('/regenerate');
      const newSid = sidOf(r.setCookies);
      expect(newSid).toBeDefined();
      expect(newSid).not.toBe(oldSid);
      expect((await c.get('/get?k=user')).body).toBe('alice');
      expect((await c.get('/get?k=user', { cookie: `sid=${oldSid}` })).body).toBe('');
    });

    it('destroy sends an expired cookie and removes the data', async () => {
      const app = await open();
      const c = new Client(app.url);
      await c.get('/set?k=user&v=bob');
      const sid = c.cookies.get('sid')!;
      const r = await c.get('/destroy');
      expect(r.setCookies).toHaveLength(1);
      expect(r.setCookies[0]).toMatch(/^sid=;/);
      expect(r.setCookies[0]).toMatch(/Max-Age=0/);
      expect(r.setCookies[0]).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect((await c.get('/get?k=user', { cookie: `sid=${sid}` })).body).toBe('');
    });

    it('rolling: every response of a live session carries Max-Age', async () => {
      const app = await open({ rolling: true, maxAge: 60_000 });
      const c = new Client(app.url);
      const first = await c.get('/set?k=a&v=1');
      expect(first.setCookies[0]).toMatch(/Max-Age=60(;|$)/);
      for (const path of ['/get?k=a', '/data', '/get?k=b']) {
        const r = await c.get(path);
        expect(r.setCookies).toHaveLength(1);
        expect(r.setCookies[0]).toMatch(/Max-Age=60(;|$)/);
      }
      // A request that never touches the session costs nothing, so it refreshes nothing either.
      expect((await c.get('/untouched')).setCookies).toEqual([]);
      // No session, no cookie, even when rolling.
      expect((await new Client(app.url).get('/get?k=a')).setCookies).toEqual([]);
    });

    it('saves before the response: the next request sees the write (20 rounds, slow storage)', async () => {
      const storage = instrument(backend.storage, 25);
      const app = await open({ storage });
      const c = new Client(app.url);
      for (let i = 0; i < 20; i++) {
        const r = await c.get(`/set?k=n&v=${i}`);
        expect(r.status).toBe(200);
        // Already in storage when the response arrived...
        const id = unsign(c.cookies.get('sid')!, [SECRET])!.value;
        expect((await backend.storage.load(id, 60_000))?.data.n).toBe(String(i));
        // ...and the very next request reads it.
        expect((await c.get('/get?k=n')).body).toBe(String(i));
      }
    });

    it('storage unavailable → 503 through the framework’s error handling; the server stays up', async () => {
      const app = await open({ storage: unavailableStorage(), onError: () => {} });
      const c = new Client(app.url);
      const write = await c.get('/set?k=a&v=1'); // fails while saving, before the response
      expect(write.status).toBe(503);
      expect(write.setCookies).toEqual([]);
      const sid = sign('A'.repeat(43), SECRET);
      const read = await c.get('/get?k=a', { cookie: `sid=${sid}` }); // fails while loading
      expect(read.status).toBe(503);
      const fine = await c.get('/untouched'); // the process and the server are still up
      expect(fine.status).toBe(200);
      expect(fine.body).toBe('hello');
    });

    it('a stopped redis-server → 503 and the process stays up; it recovers when Redis is back', async () => {
      const server = await startRedis();
      const client = await redisClient(server.url);
      try {
        const storage = new StorageRedisKV({ client, commandTimeoutMs: 500 });
        const app = await open({ storage, onError: () => {} });
        const c = new Client(app.url);
        expect((await c.get('/set?k=a&v=1')).status).toBe(200);
        await server.stop();
        expect((await c.get('/get?k=a')).status).toBe(503);
        expect((await c.get('/set?k=b&v=2')).status).toBe(503);
        expect((await new Client(app.url).get('/set?k=b&v=2')).status).toBe(503);
        expect((await c.get('/untouched')).body).toBe('hello');
        await server.start();
        let status = 0;
        for (let i = 0; i < 100 && status !== 200; i++) {
          status = (await c.get('/set?k=c&v=3')).status;
          if (status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        expect(status).toBe(200);
        expect((await c.get('/get?k=c')).body).toBe('3');
      } finally {
        await client.close().catch(() => undefined);
        await server.stop();
      }
    });

    it('a handler that fails after a write: error response, the write is saved and its cookie sent', async () => {
      const app = await open({ header: 'x-session-id' });
      const c = new Client(app.url);
      const r = await c.get('/fail-after-set');
      expect(r.status).toBe(500);
      expect(r.setCookies).toHaveLength(1);
      expect(r.headers.get('x-session-id')).toBe(c.cookies.get('sid'));
      expect((await c.get('/get?k=flash')).body).toBe('kept');
    });

    it("cookie.secure 'auto' follows the framework's view of HTTPS (trusted X-Forwarded-Proto)", async () => {
      const app = await open({ cookie: { secure: 'auto' } });
      const https = await new Client(app.url).get('/set?k=a&v=1', { 'x-forwarded-proto': 'https' });
      expect(https.setCookies[0]).toMatch(/; Secure(;|$)/);
      const http = await new Client(app.url).get('/set?k=a&v=1');
      expect(http.setCookies).toHaveLength(1);
      expect(http.setCookies[0]).not.toMatch(/Secure/);
    });

    it('malformed or forged cookies count as no session and make no storage call', async () => {
      const storage = instrument(backend.storage);
      const app = await open({ storage });
      const c = new Client(app.url, false);
      const valid = 'B'.repeat(43);
      const forged = [
        'garbage',
        '',
        valid, // unsigned while a secret is configured
        sign(valid, 'another-secret-0123456789abcdef'),
        `${sign(valid, SECRET)}x`,
        sign('../../etc/passwd-is-not-an-id', SECRET),
        sign('C'.repeat(600), SECRET),
        '%E0%A4%A',
      ];
      for (const value of forged) {
        const r = await c.get('/get?k=a', { cookie: `sid=${value}` });
        expect(r.status).toBe(200);
        expect(r.body).toBe('');
        expect(r.setCookies).toEqual([]);
      }
      expect(storage.calls).toEqual([]);
      // The same request with the properly signed id does reach storage.
      await c.get('/get?k=a', { cookie: `sid=${sign(valid, SECRET)}` });
      expect(storage.calls).toEqual(['load']);
    });
  });
}
