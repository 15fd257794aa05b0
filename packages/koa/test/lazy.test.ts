// Issue 16: a route that never touches ctx.session pays for nothing (no cookie parsing, no
// signature check, no Session, no storage call, no Set-Cookie); touching it still works.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { session } from '@kv-session/koa';
import { type Backend, Client, instrument, redisBackend } from '@kv-session/testing/adapters';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUntouchedPingFree } from '../../express/test/support/untouched.js';

describe('koa: untouched sessions cost nothing', () => {
  let backend: Backend;
  let storage: ReturnType<typeof instrument>;
  let made = 0;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    backend = await redisBackend();
    storage = instrument(backend.storage);
    const mw = session({ storage, secret: 'lazy-test-secret-0123456789abcdef' });
    const fromHeaders = mw.manager.sessionFromHeaders.bind(mw.manager);
    mw.manager.sessionFromHeaders = (...args) => {
      made += 1;
      return fromHeaders(...args);
    };
    const app = new Koa();
    app.use(mw);
    app.use(mw); // mounted twice: the first one owns ctx.session, saved once
    app.use(async (ctx) => {
      if (ctx.path === '/login') {
        await ctx.session.set('user', 'ada');
        ctx.body = 'ok';
      } else if (ctx.path === '/get') ctx.body = await ctx.session.data();
      else if (ctx.path === '/same')
        ctx.body = String([ctx.session, mw.of(ctx)].every((x) => x === ctx.session));
      else ctx.body = 'pong';
    });
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await backend.close();
  });

  it('/ping with a valid signed cookie: no Session made, no storage call, no Set-Cookie', async () => {
    await expectUntouchedPingFree(url, storage.calls, () => made);
  });

  it('ctx.session is one object per request, and mw.of(ctx) is it', async () => {
    expect((await new Client(url).get('/same')).body).toBe('true');
  });
});
