import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { SessionError, type SessionOptions } from '@kv-session/core';
import { errorResponse, session } from '@kv-session/hono';
import { routes, type TestApp } from '@kv-session/testing/adapters';
import { Hono } from 'hono';

/** Serves the shared adapter suite's routes on Hono (@hono/node-server); errors go to app.onError. */
export async function startHono(options: SessionOptions): Promise<TestApp> {
  const app = new Hono();
  // The suite checks cookie.secure 'auto' through X-Forwarded-Proto, as behind a proxy.
  app.use(session({ ...options, trustProxy: true }));
  for (const [path, handler] of Object.entries(routes)) {
    app.get(path, async (c) => {
      const { body, setCookie } = await handler(c.get('session'), new URL(c.req.url).searchParams);
      if (setCookie !== undefined) c.header('set-cookie', setCookie, { append: true });
      return c.text(body);
    });
  }
  app.onError((error, c) =>
    error instanceof SessionError ? errorResponse(error) : c.text('Internal Server Error', 500),
  );
  const server = createAdaptorServer({ fetch: app.fetch, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
