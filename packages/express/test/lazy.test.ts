// Issue 16: a route that never touches req.session pays for nothing (no cookie parsing, no
// signature check, no Session, no held response, no storage call), and touching it still works,
// in a mounted sub-app and on a bare node:http server too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from '@kv-session/core';
import { session } from '@kv-session/express';
import { type Backend, Client, instrument, redisBackend } from '@kv-session/testing/adapters';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'lazy-test-secret-0123456789abcdef';
const HELD = ['write', 'end', 'writeHead', 'flushHeaders'];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('express: untouched sessions cost nothing', () => {
  let backend: Backend;
  let storage: ReturnType<typeof instrument>;
  let made = 0;
  const sentAtOnce: boolean[] = [];
  const servers: Server[] = [];
  let url: string;
  let bareUrl: string;

  beforeAll(async () => {
    backend = await redisBackend();
    storage = instrument(backend.storage);
    const mw = session({ storage, secret: SECRET });
    const fromHeaders = mw.manager.sessionFromHeaders.bind(mw.manager);
    mw.manager.sessionFromHeaders = (...args) => {
      made += 1;
      return fromHeaders(...args);
    };
    const app = express();
    // The request's own properties before the session middleware ran, for /own-keys.
    const before = new WeakMap<object, (string | symbol)[]>();
    app.use((req, _res, next) => {
      before.set(req, Reflect.ownKeys(req));
      next();
    });
    app.use(mw);
    const added = new WeakMap<object, string[]>();
    app.use((req, _res, next) => {
      added.set(
        req,
        Reflect.ownKeys(req)
          .filter((k) => !before.get(req)!.includes(k))
          .map(String),
      );
      next();
    });
    app.get('/own-keys', (req, res) => {
      res.json(added.get(req));
    });
    // Held: the first write waits for the save, so the headers have not left right after it.
    // Own methods: the hold must not add any to `res` (that slows Node's HTTP code down on it).
    const held = (res: express.Response): void => {
      res.write('held=');
      res.end(`${!res.headersSent},own=${HELD.some((m) => Object.hasOwn(res, m))}`);
    };
    app.get('/ping', (_req, res) => held(res));
    app.get('/login', async (req, res) => {
      await req.session.set('user', 'ada');
      held(res);
    });
    app.get('/get', async (req, res) => {
      res.json((await req.session.data()) ?? null);
    });
    // A read that leaves nothing to store: its commit is synchronous, so end() sends at once.
    app.get('/read-then-end', async (req, res) => {
      const data = await req.session.data();
      res.end(JSON.stringify(data));
      sentAtOnce.push(res.headersSent);
    });
    app.get('/sent-at-once', (_req, res) => {
      res.json(sentAtOnce.splice(0));
    });
    app.get('/same', (req, res) => {
      res.send(String([req.session, mw.of(req)].every((x) => x === req.session)));
    });
    // res.end is looked up before its argument first touches req.session (and installs the hold).
    app.get('/end-arg', async (req, res) => {
      res.end(`saved ${await req.session.set('k', 'v').then(() => 'k')}`);
    });
    const sub = express();
    sub.get('/get', async (req, res) => {
      res.json(await req.session.data());
    });
    app.use('/sub', sub);
    const main = createServer(app);
    url = await listen(main);
    servers.push(main);

    // Without Express: the middleware on a bare node:http request.
    const bare = session({ storage: backend.storage, secret: SECRET });
    const server = createServer((req, res) => {
      bare(req as never, res as never, async () => {
        const r = req as unknown as express.Request;
        res.end(JSON.stringify(await r.session.data()));
      });
    });
    bareUrl = await listen(server);
    servers.push(server);
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
    await backend.close();
  });

  it('/ping with a valid signed cookie: no Session made, response not held, no storage call, no Set-Cookie', async () => {
    const c = new Client(url);
    const login = await c.get('/login');
    expect(login.body).toBe('held=true,own=false');
    expect(login.setCookies).toHaveLength(1);
    const madeBefore = made;
    const callsBefore = storage.calls.length;
    for (let i = 0; i < 5; i++) {
      const r = await c.get('/ping');
      expect(r.body).toBe('held=false,own=false');
      expect(r.setCookies).toEqual([]);
    }
    expect(made - madeBefore).toBe(0);
    expect(storage.calls.length).toBe(callsBefore);
    // Touching it afterwards still reads the stored session, once per request.
    expect(JSON.parse((await c.get('/get')).body)).toEqual({ user: 'ada' });
    expect(made - madeBefore).toBe(1);
  });

  it('the middleware adds no property to req (V8 would build a new hidden class for each request)', async () => {
    const c = new Client(url);
    await c.get('/login');
    expect(JSON.parse((await c.get('/own-keys')).body)).toEqual([]);
  });

  it('res.end(await <first touch of req.session>): the save still precedes the response and its cookie', async () => {
    const c = new Client(url);
    const r = await c.get('/end-arg');
    expect(r.body).toBe('saved k');
    expect(r.setCookies).toHaveLength(1);
    expect(JSON.parse((await c.get('/get')).body)).toEqual({ k: 'v' });
  });

  it('a read-only session with nothing to store does not delay the response: end() sends it in the same tick', async () => {
    const c = new Client(url);
    await c.get('/login');
    await c.get('/sent-at-once'); // clears
    const r = await c.get('/read-then-end');
    expect(JSON.parse(r.body)).toEqual({ user: 'ada' });
    expect(r.setCookies).toEqual([]);
    // Without a cookie too (a new visitor who was only read).
    expect((await new Client(url).get('/read-then-end')).body).toBe('{}');
    expect(JSON.parse((await c.get('/sent-at-once')).body)).toEqual([true, true]);
  });

  it('req.session is one object per request, and mw.of(req) is it', async () => {
    expect((await new Client(url).get('/same')).body).toBe('true');
  });

  it('a mounted sub-app reads the session the parent app middleware set up', async () => {
    const c = new Client(url);
    await c.get('/login');
    expect(JSON.parse((await c.get('/sub/get')).body)).toEqual({ user: 'ada' });
  });

  it('on a bare node:http request (no Express prototype to extend) req.session still works', async () => {
    await backend.storage.save('bare-session-id-0123456789abcdefghijkl', { user: 'bare' }, 60_000);
    const r = await new Client(bareUrl).get('/get', {
      cookie: `sid=${sign('bare-session-id-0123456789abcdefghijkl', SECRET)}`,
    });
    expect(JSON.parse(r.body)).toEqual({ user: 'bare' });
    expect((await new Client(bareUrl).get('/get')).body).toBe('{}');
  });
});
