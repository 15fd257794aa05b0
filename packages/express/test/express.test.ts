import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { session } from '@kv-session/express';
import { adapterSuite, Client, redisBackend, unavailableStorage } from '@kv-session/testing/adapters';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExpress, startRouterApp } from './support/app.js';

adapterSuite('express', startExpress, redisBackend);

async function listen(app: Express): Promise<{ url: string; server: Server }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('express specifics', () => {
  let backend: Awaited<ReturnType<typeof redisBackend>>;
  const servers: Server[] = [];
  let url: string;
  let downUrl: string;
  const errorHandler = (
    err: Error & { status?: number },
    _req: Request,
    res: Response,
    _next: NextFunction,
  ) => {
    res.status(err.status ?? 500).json({ error: err.name });
  };

  beforeAll(async () => {
    backend = await redisBackend();
    const app = express();
    app.use(session({ storage: backend.storage }));
    app.get('/stream', async (req, res) => {
      await req.session.set('before', 1);
      res.type('text/plain');
      res.write('a');
      res.write('b');
      await req.session.set('after', 2); // after the headers went out: still saved before the end
      res.end('c');
    });
    app.get('/redirect', async (req, res) => {
      await req.session.set('flash', 'saved');
      res.redirect('/flash');
    });
    app.get('/flash', async (req, res) => {
      res.json({ flash: (await req.session.get('flash')) ?? null });
    });
    app.get('/twice', async (req, res) => {
      await req.session.set('k', 'twice');
      res.end('one');
      res.end('two'); // ignored, as Node ignores a second end()
    });
    app.use(errorHandler);
    const up = await listen(app);
    url = up.url;
    servers.push(up.server);

    const down = express();
    down.use(session({ storage: unavailableStorage(), onError: () => {} }));
    down.get('/set', async (req, res) => {
      await req.session.set('k', 'v');
      res.send('ok');
    });
    down.use(errorHandler);
    const d = await listen(down);
    downUrl = d.url;
    servers.push(d.server);
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
    await backend.close();
  });

  const idOf = (c: Client) => c.cookies.get('sid')!;

  it('streamed response: saved before the first byte (cookie sent), later changes saved before the end', async () => {
    const c = new Client(url);
    const r = await c.get('/stream');
    expect(r.body).toBe('abc');
    expect(r.setCookies).toHaveLength(1);
    expect((await backend.storage.load(idOf(c), 60_000))?.data).toEqual({ before: 1, after: 2 });
  });

  it('res.redirect: the cookie rides on the 302 and the next request sees the write', async () => {
    const res = await fetch(`${url}/redirect`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    const next = await fetch(`${url}/flash`, { headers: { cookie } });
    expect(await next.json()).toEqual({ flash: 'saved' });
  });

  it('a second end() is ignored and the first one is delivered after the save', async () => {
    const c = new Client(url);
    expect((await c.get('/twice')).body).toBe('one');
    expect((await backend.storage.load(idOf(c), 60_000))?.data).toEqual({ k: 'twice' });
  });

  it('a failed save reaches the app’s error handler through next(err)', async () => {
    const r = await new Client(downUrl).get('/set');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ error: 'StorageUnavailableError' });
    expect(r.setCookies).toEqual([]);
  });

  it('a failed save of a session first touched in a mounted router reaches the app’s error handler', async () => {
    const app = await startRouterApp();
    try {
      const r = await new Client(app.url).get('/r/set');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ error: 'StorageUnavailableError', at: 'app' });
      expect(r.setCookies).toEqual([]);
    } finally {
      await app.close();
    }
  });

  // Issue 14, item 7: what reaches a client through Express's own final handler.
  it('with no error handler, Express (env production) answers a save failure with the status and its text only', async () => {
    const app = express();
    app.set('env', 'production');
    app.use(session({ storage: unavailableStorage(), onError: () => {} }));
    app.get('/set', async (req, res) => {
      await req.session.set('k', 'v');
      res.send('ok');
    });
    const { server, url } = await listen(app);
    servers.push(server);
    const r = await new Client(url).get('/set');
    expect(r.status).toBe(503);
    expect(r.body).toContain('Service Unavailable');
    expect(r.body).not.toContain('(test)'); // the error's message: "Session storage is unavailable (test)"
    expect(r.body).not.toContain('at ');
  });
});
