import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { session } from '@kv-session/express';
import { routes, type TestApp, unavailableStorage } from '@kv-session/testing/adapters';
import express, { type NextFunction, type Request, type Response } from 'express';

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
  return serve(app);
}

/**
 * An app whose session, on a storage that is always unavailable, is first touched in a router
 * mounted at `/r`: `GET /r/set` writes (so its save fails), `GET /r/get` only reads and records in
 * `sentAtOnce` whether its `end()` sent the response in the same tick. Errors reach the app's own
 * error handler, which answers `{ error: <name>, at: 'app' }` with the error's status.
 */
export async function startRouterApp(factory = express): Promise<TestApp & { sentAtOnce: boolean[] }> {
  const app = factory();
  app.use(session({ storage: unavailableStorage(), onError: () => {} }));
  const router = factory.Router();
  const sentAtOnce: boolean[] = [];
  router.get('/set', async (req, res) => {
    await req.session.set('k', 'v');
    res.send('ok');
  });
  router.get('/get', async (req, res) => {
    res.end(JSON.stringify(await req.session.data()));
    sentAtOnce.push(res.headersSent);
  });
  app.use('/r', router);
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.name, at: 'app' });
  });
  return { ...(await serve(app)), sentAtOnce };
}

/** Listens on a free port of 127.0.0.1. */
async function serve(app: ReturnType<typeof express>): Promise<TestApp> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
