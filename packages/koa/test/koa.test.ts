import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageUnavailableError } from '@kv-session/core';
import { session } from '@kv-session/koa';
import { adapterSuite, Client, redisBackend, unavailableStorage } from '@kv-session/testing/adapters';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { startKoa } from './support/app.js';

adapterSuite('koa', startKoa, redisBackend);

describe('koa specifics', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  });
  const listen = async (app: Koa): Promise<string> => {
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('an error middleware before session() catches a failed save (status 503)', async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = error as { status?: number; code?: string };
        ctx.status = e.status ?? 500;
        ctx.body = { error: e.code };
      }
    });
    app.use(session({ storage: unavailableStorage(), onError: () => {} }));
    app.use(async (ctx) => {
      await ctx.session.set('k', 'v');
      ctx.body = 'ok';
    });
    const r = await new Client(await listen(app)).get('/');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ error: 'STORAGE_UNAVAILABLE' });
  });

  it('downstream error and failed save: the downstream error wins, the save error goes to onError', async () => {
    const reported: unknown[] = [];
    const storage = unavailableStorage();
    const app = new Koa();
    app.silent = true;
    app.use(session({ storage, onError: (error) => reported.push(error) }));
    app.use(async (ctx) => {
      // A new session: set() needs no load, so only the save at the end fails.
      await ctx.session.set('k', 'v');
      ctx.throw(409, 'conflict');
    });
    const r = await new Client(await listen(app)).get('/');
    expect(r.status).toBe(409);
    expect(r.body).toBe('conflict');
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(StorageUnavailableError);
  });
});
