// Issue 16: a route that never touches request.session pays for nothing (no cookie parsing, no
// signature check, no Session, no storage call, no Set-Cookie); touching it still works.
import type { AddressInfo } from 'node:net';
import { sessionPlugin } from '@kv-session/fastify';
import { type Backend, Client, instrument, redisBackend } from '@kv-session/testing/adapters';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUntouchedPingFree } from '../../express/test/support/untouched.js';

describe('fastify: untouched sessions cost nothing', () => {
  let backend: Backend;
  let storage: ReturnType<typeof instrument>;
  let made = 0;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    backend = await redisBackend();
    storage = instrument(backend.storage);
    const kv = sessionPlugin({ storage, secret: 'lazy-test-secret-0123456789abcdef' });
    const fromHeaders = kv.manager.sessionFromHeaders.bind(kv.manager);
    kv.manager.sessionFromHeaders = (...args) => {
      made += 1;
      return fromHeaders(...args);
    };
    app = Fastify();
    await app.register(kv);
    app.get('/ping', async () => 'pong');
    app.get('/login', async (request) => {
      await request.session.set('user', 'ada');
      return 'ok';
    });
    app.get('/get', async (request) => request.session.data());
    app.get('/same', async (request) =>
      String([request.session, kv.of(request)].every((x) => x === request.session)),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await backend.close();
  });

  it('/ping with a valid signed cookie: no Session made, no storage call, no Set-Cookie', async () => {
    await expectUntouchedPingFree(url, storage.calls, () => made);
  });

  it('request.session is one object per request, and kv.of(request) is it', async () => {
    expect((await new Client(url).get('/same')).body).toBe('true');
  });
});
