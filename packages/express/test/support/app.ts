import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { session } from '@kv-session/express';
import { routes, type TestApp } from '@kv-session/testing/adapters';
import express from 'express';

/** Serves the suite's routes on Express; errors go to Express's default error handler. */
export async function startExpress(options: SessionOptions, factory = express): Promise<TestApp> {
  const app = factory();
  app.set('trust proxy', 'loopback');
  const middleware = session(options);
  app.use(middleware);
  for (const [path, handler] of Object.entries(routes)) {
    app.get(path, (req, res, next) => {
      const query = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
      handler(req.session, query).then(({ body, setCookie }) => {
        if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
        res.type('text/plain').send(body);
      }, next);
    });
  }
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
