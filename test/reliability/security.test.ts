// Security properties through the adapters on real servers, beyond what the core unit tests prove
// (docs/security.md maps every property to its test): issued ids, fixation, rotation of signing
// secrets, cookie attributes, Secure behind proxies, and that no full id ever reaches a log.
import { inspect } from 'node:util';
import { generateId, ID_PATTERN, StorageMemory, sign, unsign } from '@kv-session/core';
import { createNodeSessions } from '@kv-session/node';
import { StorageRedisKV } from '@kv-session/redis';
import { redisClient } from '@kv-session/testing/adapters';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adapters, type PrivateRedis, privateRedis, SECRET, sidOf, type TestApp } from './support.js';

const OLD_SECRET = 'the-previous-secret-0123456789abcd';
const RETIRED_SECRET = 'a-retired-secret-0123456789abcdefg';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await privateRedis();
});
afterAll(async () => {
  await redis?.close();
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), setCookies: res.headers.getSetCookie() };
};

describe.each(adapters)('security properties: %s', (_name, start) => {
  const apps: TestApp[] = [];
  let storage: StorageRedisKV;
  const open = async (options: Parameters<typeof start>[0]) => {
    const app = await start({ storage, onError: () => {}, ...options });
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    storage = new StorageRedisKV({ client: redis.client, prefix: `sec:${Math.random()}:` });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('issued ids: 43 base64url characters (256 bits), unique, every bit position varies', async () => {
    const app = await open({ secret: SECRET });
    const ids = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const r = await get(`${app.url}/set?k=a&v=1`);
        return unsign(sidOf(r.setCookies)!, [SECRET])!.value;
      }),
    );
    expect(new Set(ids).size).toBe(ids.length);
    const ones = new Array<number>(256).fill(0);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(ID_PATTERN.test(id)).toBe(true);
      const bytes = Buffer.from(id, 'base64url');
      expect(bytes).toHaveLength(32);
      for (let bit = 0; bit < 256; bit++) ones[bit]! += (bytes[bit >> 3]! >> (bit & 7)) & 1;
    }
    // 200 fair coin flips per position: outside 50..150 is more than 7 standard deviations away.
    expect(Math.min(...ones)).toBeGreaterThan(50);
    expect(Math.max(...ones)).toBeLessThan(150);
  });

  it('fixation: an unknown id (well-formed, even correctly signed) is never adopted', async () => {
    for (const secret of [SECRET, undefined]) {
      const app = await open(secret === undefined ? {} : { secret });
      const planted = generateId();
      const cookie = `sid=${secret === undefined ? planted : sign(planted, secret)}`;
      const r = await get(`${app.url}/set?k=user&v=victim`, { cookie });
      expect(r.status).toBe(200);
      const issued = sidOf(r.setCookies)!;
      const id = secret === undefined ? issued : unsign(issued, [secret])!.value;
      expect(id).not.toBe(planted);
      expect(await redis.client.exists(storage.key(planted))).toBe(0);
      expect(await redis.client.exists(storage.key(id))).toBe(1);
      expect((await get(`${app.url}/get?k=user`, { cookie })).body).toBe('');
    }
  });

  it('regenerate deletes the old data from storage (not only from the cookie)', async () => {
    const app = await open({ secret: SECRET });
    const first = await get(`${app.url}/set?k=user&v=alice`);
    const oldId = unsign(sidOf(first.setCookies)!, [SECRET])!.value;
    expect(await redis.client.exists(storage.key(oldId))).toBe(1);
    const r = await get(`${app.url}/regenerate`, { cookie: `sid=${sidOf(first.setCookies)}` });
    const newId = unsign(sidOf(r.setCookies)!, [SECRET])!.value;
    // Only the mark of the move is left there (no data; it reads as missing and expires with
    // maxAge): a request still holding the old id that writes gets a 409, not a silent loss.
    expect(await redis.client.get(storage.key(oldId))).toBe('kv-session:moved');
    expect(JSON.parse((await redis.client.get(storage.key(newId)))!)).toEqual({ user: 'alice' });
  });

  it('secret rotation: an old-secret cookie is honoured and re-issued under the new secret; a retired one is not', async () => {
    const before = await open({ secret: [OLD_SECRET, RETIRED_SECRET] });
    const after = await open({ secret: [SECRET, OLD_SECRET] });
    const oldCookie = sidOf((await get(`${before.url}/set?k=user&v=alice`)).setCookies)!;
    const id = unsign(oldCookie, [OLD_SECRET])!.value;
    const read = await get(`${after.url}/get?k=user`, { cookie: `sid=${oldCookie}` });
    expect(read.body).toBe('alice');
    expect(sidOf(read.setCookies)).toBe(sign(id, SECRET)); // same id, now signed with the new secret
    const again = await get(`${after.url}/get?k=user`, { cookie: `sid=${sign(id, SECRET)}` });
    expect(again.body).toBe('alice');
    expect(again.setCookies).toEqual([]);
    // Signed with a secret no longer configured: a visitor (hostile-input.test.ts counts its zero commands).
    const retired = await get(`${after.url}/get?k=user`, { cookie: `sid=${sign(id, RETIRED_SECRET)}` });
    expect(retired.body).toBe('');
    expect(retired.setCookies).toEqual([]);
  });

  it('cookie attributes: HttpOnly and SameSite=Lax by default; secure: true always sets Secure', async () => {
    const plain = await open({});
    const c = (await get(`${plain.url}/set?k=a&v=1`)).setCookies[0]!;
    expect(c).toMatch(/; HttpOnly(;|$)/);
    expect(c).toMatch(/; SameSite=Lax(;|$)/);
    expect(c).not.toMatch(/Secure/);
    const secure = await open({ cookie: { secure: true, sameSite: 'strict' } });
    const s = (await get(`${secure.url}/set?k=a&v=1`)).setCookies[0]!;
    expect(s).toMatch(/; Secure(;|$)/);
    expect(s).toMatch(/; SameSite=Strict(;|$)/);
    expect(s).toMatch(/; HttpOnly(;|$)/);
  });
});

describe("cookie.secure 'auto' without a trusted proxy", () => {
  it('X-Forwarded-Proto from an untrusted peer is ignored (node adapter, trustProxy off)', async () => {
    const { createServer } = await import('node:http');
    const kv = createNodeSessions({ storage: new StorageMemory(), cookie: { secure: 'auto' } });
    const trusted = createNodeSessions({
      storage: new StorageMemory(),
      cookie: { secure: 'auto' },
      trustProxy: true,
    });
    const serve = (sessions: typeof kv) =>
      createServer(
        sessions.handler(async (_req, _res, session) => {
          await session.set('a', 1);
          return 'ok';
        }),
      );
    for (const [sessions, expectSecure] of [
      [kv, false],
      [trusted, true],
    ] as const) {
      const server = serve(sessions);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as { port: number };
      const r = await get(`http://127.0.0.1:${port}/`, { 'x-forwarded-proto': 'https' });
      expect(/; Secure(;|$)/.test(r.setCookies[0]!)).toBe(expectSecure);
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('ids are never logged in full', () => {
  /** Runs `fn` with console.* captured; returns every argument, inspected deeply (causes included). */
  async function captureLogs(fn: () => Promise<void>): Promise<string> {
    const lines: string[] = [];
    const record = (...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 10 }))).join(' '));
    };
    const spies = (['error', 'warn', 'log', 'info', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(record),
    );
    try {
      await fn();
    } finally {
      for (const s of spies) s.mockRestore();
    }
    return lines.join('\n');
  }

  it.each(adapters)(
    '%s: corrupt data, WRONGTYPE, Redis down: default onError and framework logs hold no full id',
    async (_n, start) => {
      const server = redis.server;
      const client = await redisClient(server.url);
      const storage = new StorageRedisKV({ client, commandTimeoutMs: 300, prefix: `log:${Math.random()}:` });
      // No onError: the default one logs to console.error.
      const app = await start({ storage, secret: SECRET });
      const ids: string[] = [];
      const fresh = async () => {
        const r = await get(`${app.url}/set?k=a&v=1`);
        const signed = sidOf(r.setCookies)!;
        const id = unsign(signed, [SECRET])!.value;
        ids.push(id, signed);
        return { id, cookie: `sid=${signed}` };
      };
      try {
        const corrupt = await fresh();
        const wrongType = await fresh();
        const down = await fresh();
        await redis.client.set(storage.key(corrupt.id), 'not json{', { KEEPTTL: true });
        await redis.client.del(storage.key(wrongType.id));
        await redis.client.rPush(storage.key(wrongType.id), 'x');
        const output = await captureLogs(async () => {
          expect((await get(`${app.url}/data`, { cookie: corrupt.cookie })).body).toBe('{}');
          expect((await get(`${app.url}/data`, { cookie: wrongType.cookie })).body).toBe('{}');
          await client.disconnect().catch(() => undefined); // storage now fails: unavailable
          expect((await get(`${app.url}/data`, { cookie: down.cookie })).status).toBe(503);
          expect((await get(`${app.url}/set?k=b&v=2`, { cookie: down.cookie })).status).toBe(503);
        });
        expect(output).toContain('CorruptDataError'); // the default onError did log
        for (const id of ids) {
          expect(output).not.toContain(id);
          expect(output).not.toContain(id.slice(0, 12)); // not even half of it
        }
      } finally {
        await app.close();
        if (client.isOpen) await client.close().catch(() => undefined);
      }
    },
  );
});
