import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { session } from '@kv-session/koa';
import { routes, type TestApp } from '@kv-session/testing/adapters';
import Koa from 'koa';

/** Serves the suite's routes on Koa; errors go to Koa's default error handling. */
export async function startKoa(options: SessionOptions, App = Koa): Promise<TestApp> {
  const app = new App();
  app.silent = true;
  app.proxy = true;
  app.use(session(options));
  app.use(async (ctx) => {
    const handler = ctx.method === 'GET' ? routes[ctx.path] : undefined;
    if (handler === undefined) return;
    const { body, setCookie } = await handler(ctx.session, new URLSearchParams(ctx.querystring));
    if (setCookie !== undefined) ctx.append('Set-Cookie', setCookie);
    ctx.type = 'text/plain';
    ctx.body = body;
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
