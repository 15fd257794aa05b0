import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { SessionOptions } from '@kv-session/core';
import { createFetchSessions } from '@kv-session/fetch';
import { routes, type TestApp } from '@kv-session/testing/adapters';

/**
 * Serves the shared adapter suite's routes as a plain Fetch handler through `kv.handle()`. Like a
 * typical fetch app, the handler answers its own failures with a 500 (`handle()` rethrows errors
 * that are not SessionErrors to the runtime, which could not carry the cookie).
 */
export async function startFetch(options: SessionOptions): Promise<TestApp> {
  const kv = createFetchSessions({ ...options, trustProxy: true });
  const fetch = (request: Request) =>
    kv.handle(request, async (session) => {
      const url = new URL(request.url);
      const handler = request.method === 'GET' ? routes[url.pathname] : undefined;
      if (handler === undefined) return new Response('not found', { status: 404 });
      let result: Awaited<ReturnType<typeof handler>>;
      try {
        result = await handler(session, url.searchParams);
      } catch (error) {
        if ((error as Error).message !== 'handler failed after a write') throw error;
        return new Response('Internal Server Error', { status: 500 });
      }
      const headers = new Headers({ 'content-type': 'text/plain; charset=utf-8' });
      if (result.setCookie !== undefined) headers.append('set-cookie', result.setCookie);
      return new Response(result.body, { headers });
    });
  const server = createAdaptorServer({ fetch, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
