import type { AddressInfo } from 'node:net';
import { type SessionOptions, StorageError, StorageMemory, StorageUnavailableError } from '@kv-session/core';
import { session } from '@kv-session/fastify';
import {
  adapterSuite,
  Client,
  redisBackend,
  unavailableStorage,
  useRedisStorage,
} from '@kv-session/testing/adapters';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { startFastify } from './support/app.js';

adapterSuite('fastify', startFastify, redisBackend);

describe('fastify specifics', () => {
  const redis = useRedisStorage();
  const apps: FastifyInstance[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });
  const listen = async (app: FastifyInstance): Promise<string> => {
    apps.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };

  it('a failed save reaches setErrorHandler with statusCode 503, once', async () => {
    const seen: unknown[] = [];
    const app = Fastify();
    await app.register(session, { storage: unavailableStorage(), onError: () => {} });
    app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
      seen.push(error);
      return reply.status(error.statusCode ?? 500).send({ error: error.code });
    });
    app.get('/set', async (request) => {
      await request.session.set('k', 'v');
      return 'ok';
    });
    const r = await new Client(await listen(app)).get('/set');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ error: 'STORAGE_UNAVAILABLE' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(StorageUnavailableError);
  });

  // Issue 14, item 3: the handler's promise resolved (undefined) while the save was still running in
  // onSend, so Fastify sent a second, empty reply without the cookie; the first one then failed.
  it('an async handler calling reply.send() without "return reply" gets its body and cookie, sent once', async () => {
    const logs: { level: number; msg?: string; err?: { message?: string } }[] = [];
    const app = Fastify({
      logger: { level: 'warn', stream: { write: (line: string) => logs.push(JSON.parse(line)) } },
    });
    await app.register(session, { storage: redis.storage });
    app.get('/login', async (request, reply) => {
      await request.session.regenerate();
      await request.session.set('user', 'ada');
      reply.type('text/plain').send('logged in');
    });
    app.get('/whoami', async (request, reply) => {
      reply.send({ user: (await request.session.get('user')) ?? null });
    });
    const c = new Client(await listen(app));
    const r = await c.get('/login');
    expect(r.status).toBe(200);
    expect(r.body).toBe('logged in');
    expect(r.setCookies).toHaveLength(1);
    const id = r.setCookies[0]!.split(';')[0]!.split('=')[1]!;
    const keys = await redis.client.keys('*');
    expect(keys).toHaveLength(1);
    expect(keys[0]!.endsWith(id)).toBe(true);
    expect(JSON.parse((await redis.client.get(keys[0]!))!)).toEqual({ user: 'ada' });
    expect(JSON.parse((await c.get('/whoami')).body)).toEqual({ user: 'ada' });
    await app.close();
    expect(logs.filter((l) => l.level >= 40)).toEqual([]);
  });

  // Issue 14, item 7: Fastify's default error handler sent the error's message, e.g. "Redis did not
  // answer load within 2000 ms (option commandTimeout)" or a Lua OOM text, to the client.
  it("Fastify's default error handler answers a SessionError with its status and a generic message; the log keeps the detail", async () => {
    const logs: { level: number; err?: { message?: string } }[] = [];
    const app = Fastify({
      logger: { level: 'error', stream: { write: (line: string) => logs.push(JSON.parse(line)) } },
    });
    const detail = 'Redis did not answer load within 2000 ms (option commandTimeout)';
    const oom = "OOM command not allowed when used memory > 'maxmemory'. script: 1a2b3c";
    await app.register(session, {
      onError: () => {},
      storage: {
        load: async () => {
          throw new StorageUnavailableError(detail);
        },
        save: async () => {},
        touch: async () => {},
        remove: async () => {},
        apply: async () => {
          throw new StorageError(`Redis script failed: ${oom}`);
        },
      },
    });
    app.get('/get', async (request) => request.session.data());
    app.get('/set', async (request) => {
      await request.session.set('k', 'v');
      return 'ok';
    });
    const c = new Client(await listen(app));
    const get = await c.get('/get', { cookie: `sid=${'a'.repeat(43)}` });
    expect(get.status).toBe(503);
    expect(JSON.parse(get.body)).toEqual({
      statusCode: 503,
      code: 'STORAGE_UNAVAILABLE',
      error: 'Service Unavailable',
      message: 'Service Unavailable',
    });
    const set = await c.get('/set');
    expect(set.status).toBe(500);
    expect(JSON.parse(set.body)).toEqual({
      statusCode: 500,
      code: 'STORAGE_FAILED',
      error: 'Internal Server Error',
      message: 'Internal Server Error',
    });
    expect(set.body).not.toContain('OOM');
    expect(Number(set.headers.get('content-length'))).toBe(Buffer.byteLength(set.body));
    await app.close();
    expect(logs.map((l) => l.err?.message)).toEqual([detail, `Redis script failed: ${oom}`]);
  });

  it('request.session is visible in encapsulated child plugins (fastify-plugin)', async () => {
    const app = Fastify();
    await app.register(session, { storage: new StorageMemory() });
    await app.register(
      async (child) => {
        child.get('/set', async (request) => {
          await request.session.set('where', 'child');
          return 'ok';
        });
        child.get('/get', async (request) => (await request.session.get('where')) ?? '');
      },
      { prefix: '/child' },
    );
    expect(app.sessionManager).toBeDefined();
    const c = new Client(await listen(app));
    expect((await c.get('/child/set')).setCookies).toHaveLength(1);
    expect((await c.get('/child/get')).body).toBe('child');
  });

  it('bad options make register fail with ConfigError listing every problem', async () => {
    const app = Fastify();
    apps.push(app);
    const bad = { maxAge: -1, cookie: { name: 'bad name' } } as unknown as SessionOptions;
    await expect(app.register(session, bad).ready()).rejects.toMatchObject({
      name: 'ConfigError',
      issues: [expect.stringMatching(/^maxAge/), expect.stringMatching(/^cookie\.name/)],
    });
  });
});
