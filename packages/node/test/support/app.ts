import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { createNodeSessions } from '@kv-session/node';
import { routes, type TestApp } from '@kv-session/testing/adapters';

/** Serves the shared adapter suite's routes on plain node:http through `handler()` (default onError). */
export async function startNode(options: SessionOptions): Promise<TestApp> {
  const kv = createNodeSessions({ ...options, trustProxy: true });
  const server = createServer(
    kv.handler(async (req, res, session) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const handler = req.method === 'GET' ? routes[url.pathname] : undefined;
      if (handler === undefined) {
        res.statusCode = 404;
        return 'not found';
      }
      const { body, setCookie } = await handler(session, url.searchParams);
      if (setCookie !== undefined) res.appendHeader('set-cookie', setCookie);
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      return body;
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeIdleConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
