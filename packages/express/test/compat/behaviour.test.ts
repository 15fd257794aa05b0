// express-session's req.session object and options on the drop-in, over real HTTP: plain property
// semantics, cookie rules, unset/genid/secure/secret, Connect and bare node:http, destroyed sessions
// never revived, and ConfigError for what it cannot honour.
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, StorageMemory } from '@kv-session/core';
import session, { type CompatOptions, type CompatSession } from '@kv-session/express/compat';
import connect from 'connect';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { Browser, idOf, listen, SECRET } from './support.js';

type Handler = (s: CompatSession & Record<string, unknown>, req: Request, res: Response) => unknown;

const closers: (() => Promise<void>)[] = [];
/** A handler that sets properties on req.session. */
const put =
  (values: Record<string, unknown>): Handler =>
  (s) => {
    Object.assign(s, values);
  };
afterAll(async () => {
  for (const close of closers) await close();
});

/** An Express app with the drop-in and `routes` (GET), answering what a handler returns as JSON. */
async function serve(options: CompatOptions, routes: Record<string, Handler>) {
  const storage = options.storage ?? new StorageMemory();
  const app = express();
  app.use(session({ secret: SECRET, storage, ...options }) as unknown as RequestHandler);
  for (const [path, handler] of Object.entries(routes)) {
    app.get(path, async (req, res, next) => {
      try {
        const out = await handler(
          req.session as unknown as CompatSession & Record<string, unknown>,
          req,
          res,
        );
        if (!res.headersSent) res.json(out ?? null);
      } catch (error) {
        next(error);
      }
    });
  }
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).send(`${err.name}: ${err.message}`);
  });
  const server = await listen(app as unknown as RequestListener);
  closers.push(server.close);
  return { url: server.url, storage };
}

describe('req.session as express-session makes it', () => {
  it('plain properties: assign, delete, nested objects changed in place; id and methods are not data', async () => {
    const { url } = await serve(
      {},
      {
        '/a': (s) => {
          s.user = { name: 'ada', roles: ['admin'] };
          s.flash = { info: ['hi'] };
          s.when = new Date(0); // stored as JSON, as express-session does
        },
        '/b': (s) => {
          (s.user as { roles: string[] }).roles.push('ops');
          delete s.flash;
        },
        '/c': (s, req) => ({
          json: JSON.parse(JSON.stringify(s)),
          keys: Object.keys(s).sort(),
          id: s.id === (req as unknown as { sessionID: string }).sessionID && s.id.length > 0,
          methods: typeof s.regenerate === 'function' && typeof s.touch === 'function',
        }),
      },
    );
    const b = new Browser(url);
    await b.get('/a');
    await b.get('/b');
    const c = JSON.parse((await b.get('/c')).body);
    expect(c.keys).toEqual(['cookie', 'user', 'when']);
    expect(c.json.user).toEqual({ name: 'ada', roles: ['admin', 'ops'] });
    expect(c.json.when).toBe('1970-01-01T00:00:00.000Z');
    expect(c.json.cookie).toEqual({ originalMaxAge: null, expires: null, httpOnly: true, path: '/' });
    expect(c.id).toBe(true);
    expect(c.methods).toBe(true);
  });

  it('saveUninitialized (default true) stores and cookies a new untouched session; false does neither', async () => {
    const on = await serve({}, { '/': () => 'ok' });
    const b = new Browser(on.url);
    const reply = await b.get('/');
    expect(reply.setCookies).toHaveLength(1);
    expect(await on.storage.load(idOf(b.cookie()), 60_000)).toMatchObject({
      data: { cookie: { path: '/' } },
    });
    const off = await serve({ saveUninitialized: false }, { '/': () => 'ok' });
    expect((await new Browser(off.url).get('/')).setCookies).toEqual([]);
  });

  it('the cookie is sent again only when rolling, or persistent and modified (express-session rules)', async () => {
    const routes: Record<string, Handler> = {
      '/put': (s) => {
        s.n = ((s.n as number | undefined) ?? 0) + 1;
      },
      '/read': () => 'ok',
    };
    const plain = new Browser((await serve({ saveUninitialized: false }, routes)).url);
    await plain.get('/put');
    expect((await plain.get('/put')).setCookies).toEqual([]);
    const rolling = new Browser((await serve({ saveUninitialized: false, rolling: true }, routes)).url);
    await rolling.get('/put');
    expect((await rolling.get('/read')).setCookies).toHaveLength(1);
    const persistent = new Browser(
      (await serve({ saveUninitialized: false, cookie: { maxAge: 60_000 } }, routes)).url,
    );
    await persistent.get('/put');
    expect((await persistent.get('/read')).setCookies).toEqual([]);
    const again = await persistent.get('/put');
    expect(again.setCookies[0]).toMatch(/; Expires=/);
  });

  it('req.session.cookie is assignable per request (maxAge, httpOnly, sameSite)', async () => {
    const { url } = await serve(
      { saveUninitialized: false },
      {
        '/': (s) => {
          s.cookie.maxAge = 5_000;
          s.cookie.httpOnly = false;
          s.cookie.sameSite = 'strict';
          s.x = 1;
          return { maxAge: s.cookie.maxAge, originalMaxAge: s.cookie.originalMaxAge };
        },
      },
    );
    const reply = await new Browser(url).get('/');
    expect(JSON.parse(reply.body).originalMaxAge).toBe(5_000);
    expect(reply.setCookies[0]).toMatch(/; Expires=[^;]+ GMT/);
    expect(reply.setCookies[0]).toMatch(/; SameSite=Strict/);
    expect(reply.setCookies[0]).not.toMatch(/HttpOnly/);
  });

  it('save() and reload() as promises; reload sees what another request stored', async () => {
    const { url } = await serve(
      {},
      {
        '/put': async (s) => {
          s.v = 'first';
          await s.save();
        },
        '/other': put({ v: 'second' }),
        '/reload': async (s, req) => {
          const before = s.v;
          await s.reload();
          return { before, after: (req.session as unknown as { v: string }).v };
        },
      },
    );
    const b = new Browser(url);
    await b.get('/put');
    const stale = JSON.parse((await b.get('/reload')).body);
    expect(stale).toEqual({ before: 'first', after: 'first' });
    await b.get('/other');
    expect(JSON.parse((await b.get('/reload')).body).after).toBe('second');
  });

  it("unset 'destroy' deletes the record when req.session is set to null; 'keep' keeps it", async () => {
    for (const unset of ['destroy', 'keep'] as const) {
      const { url, storage } = await serve(
        { unset },
        {
          '/put': put({ a: 1 }),
          '/unset': (_s, req) => {
            (req as unknown as { session: null }).session = null;
          },
        },
      );
      const b = new Browser(url);
      await b.get('/put');
      await b.get('/unset');
      const stored = await storage.load(idOf(b.cookie()), 60_000);
      if (unset === 'destroy') expect(stored).toBeUndefined();
      else expect(stored?.data).toMatchObject({ a: 1 });
    }
  });

  it('genid(req) makes the ids; an id kv-session cannot use is an error, not a silent fallback', async () => {
    const { url } = await serve(
      { genid: (req: IncomingMessage) => `${String(req.headers['x-tenant'])}-${'x'.repeat(24)}` },
      { '/': (s) => s.id },
    );
    const b = new Browser(url);
    const res = await fetch(`${url}/`, { headers: { 'x-tenant': 'acme' } });
    expect(await res.json()).toBe(`acme-${'x'.repeat(24)}`);
    const bad = await fetch(`${url}/`, { headers: { 'x-tenant': 'no/slashes' } });
    expect(bad.status).toBe(500);
    expect(await bad.text()).toMatch(/ConfigError: .*genid/s);
    expect(b).toBeDefined();
  });

  it("cookie.secure: not sent over plain HTTP; 'auto' with proxy: true follows X-Forwarded-Proto", async () => {
    const secure = await serve({ cookie: { secure: true } }, { '/': put({ a: 1 }) });
    expect((await new Browser(secure.url).get('/')).setCookies).toEqual([]);
    const auto = await serve({ proxy: true, cookie: { secure: 'auto' } }, { '/': put({ a: 1 }) });
    const https = await fetch(`${auto.url}/`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(https.headers.getSetCookie()[0]).toMatch(/; Secure/);
    const http = await fetch(`${auto.url}/`);
    expect(http.headers.getSetCookie()[0]).not.toMatch(/Secure/);
  });

  it('a session destroyed by one request is not revived by a concurrent request that loaded it before', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let loaded!: () => void;
    const isLoaded = new Promise<void>((r) => (loaded = r));
    const { url, storage } = await serve(
      { cookie: { maxAge: 60_000 } },
      {
        '/put': put({ a: 1 }),
        '/slow': async (s) => {
          loaded();
          await gate;
          s.late = 'write';
        },
        '/logout': (s) => s.destroy(),
      },
    );
    const b = new Browser(url);
    await b.get('/put');
    const id = idOf(b.cookie());
    const slow = b.get('/slow');
    await isLoaded;
    await b.get('/logout');
    release();
    // Persistent and modified would re-send the cookie; not for a session that is gone.
    expect((await slow).setCookies).toEqual([]);
    expect(await storage.load(id, 60_000)).toBeUndefined();
  });

  it('secret: required (express-session message), or taken from cookie-parser req.secret', async () => {
    const app = express();
    app.use((req, _res, next) => {
      if (req.headers['x-secret'] !== undefined) (req as unknown as { secret: string }).secret = SECRET;
      next();
    });
    app.use(session({ storage: new StorageMemory() }) as unknown as RequestHandler);
    app.get('/', (req, res) => res.send(typeof (req.session as unknown as { id: string }).id));
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) =>
      res.status(500).send(err.message),
    );
    const { url, close } = await listen(app as unknown as RequestListener);
    closers.push(close);
    expect(await (await fetch(url)).text()).toBe('secret option required for sessions');
    expect(await (await fetch(url, { headers: { 'x-secret': '1' } })).text()).toBe('string');
  });
});

describe('runs where express-session runs', () => {
  const count = (req: IncomingMessage, res: ServerResponse) => {
    const s = (req as unknown as { session: Record<string, number> }).session;
    s.n = (s.n ?? 0) + 1;
    res.end(String(s.n));
  };

  it('Connect', async () => {
    const app = connect();
    app.use(
      session({ secret: SECRET, storage: new StorageMemory() }) as unknown as connect.NextHandleFunction,
    );
    app.use(count);
    const { url, close } = await listen(app as unknown as RequestListener);
    closers.push(close);
    const b = new Browser(url);
    expect((await b.get('/')).body).toBe('1');
    expect((await b.get('/')).body).toBe('2');
  });

  it('a bare node:http server calling it as (req, res, next)', async () => {
    const mw = session({ secret: SECRET, storage: new StorageMemory() });
    const server = createServer((req, res) => {
      mw(req, res, (err) => {
        if (err) {
          res.statusCode = 500;
          res.end();
          return;
        }
        count(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const b = new Browser(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect((await b.get('/')).body).toBe('1');
    expect((await b.get('/')).body).toBe('2');
  });
});

describe('options it cannot honour are a ConfigError naming them', () => {
  it.each([
    [{ store: {} }, 'store'],
    [{ resave: 'yes' }, 'resave'],
    [{ unset: 'drop' }, 'unset option must be "destroy" or "keep"'],
    [{ cookie: { maxAge: 1000, signed: true } }, 'signed'],
    [{ secret: [] }, 'secret option array must contain one or more strings'],
    [{ storeTtl: 5 }, 'storeTtl'],
  ])('%o', (options, named) => {
    expect(() => session(options as CompatOptions)).toThrow(ConfigError);
    expect(() => session(options as CompatOptions)).toThrow(named);
  });
});
