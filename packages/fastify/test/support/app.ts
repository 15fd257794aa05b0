import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { session } from '@kv-session/fastify';
import { routes, type TestApp } from '@kv-session/testing/adapters';
import Fastify from 'fastify';

/** Serves the suite's routes on Fastify; errors go to Fastify's default error handler. */
export async function startFastify(options: SessionOptions): Promise<TestApp> {
  const app = Fastify({ trustProxy: '127.0.0.1' });
  await app.register(session, options);
  for (const [path, handler] of Object.entries(routes)) {
    app.get(path, async (request, reply) => {
      const query = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1));
      const { body, setCookie } = await handler(request.session, query);
      if (setCookie !== undefined) reply.header('set-cookie', setCookie);
      return reply.type('text/plain').send(body);
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
