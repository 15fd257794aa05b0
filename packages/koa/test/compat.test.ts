import { once } from 'node:events';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageUnavailableError } from '@kv-session/core';
import compatSession, { type KoaCompatSession } from '@kv-session/koa/compat';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { redisClient, unavailableStorage } from '@kv-session/testing/adapters';
import Koa from 'koa';
import Koa2 from 'koa2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concurrentWrites, gate, Jar } from '../../fastify/test/support/compat.js';

// The peers are loaded without their types (koa-session declares `ctx.session` too).
const require = createRequire(import.meta.url);
const peerSession = require('koa-session') as { default: (options: object, app: Koa) => Koa.Middleware };
const redisStore = require('koa-redis') as (options: object) => { client: { quit(): Promise<unknown> } };
const { KoaPassport } = require('koa-passport') as {
  KoaPassport: new () => {
    use(strategy: unknown): void;
    serializeUser(fn: (user: { id: string }, done: (e: unknown, id?: string) => void) => void): void;
    deserializeUser(fn: (id: string, done: (e: unknown, user?: unknown) => void) => void): void;
    initialize(): Koa.Middleware;
    session(): Koa.Middleware;
    authenticate(name: string, options: object): Koa.Middleware;
  };
};
const { Strategy: LocalStrategy } = require('passport-local') as {
  Strategy: new (
    verify: (username: string, password: string, done: (error: unknown, user?: unknown) => void) => void,
  ) => unknown;
};

const KEYS = ['koa keys: keygrip signs the cookie'];
const PREFIX = 'koa:sess:';

let redis: RedisServer;
let client: Awaited<ReturnType<typeof redisClient>>;
const servers: Server[] = [];
const peerStores: { client: { quit(): Promise<unknown> } }[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = await redisClient(redis.url);
});
afterAll(async () => {
  for (const s of servers) s.close();
  for (const s of peerStores) await s.client.quit().catch(() => undefined);
  await client.close();
  await redis.stop();
});

type Use = (app: Koa) => void;

const compat =
  (options: Record<string, unknown> = {}): Use =>
  (app) => {
    app.use(
      compatSession(
        { storage: new StorageRedisKV({ client, prefix: PREFIX }), prefix: PREFIX, ...options },
        app,
      ),
    );
  };

const peer =
  (options: Record<string, unknown> = {}): Use =>
  (app) => {
    const store = redisStore({ url: redis.url });
    peerStores.push(store);
    app.use(peerSession.default({ store, prefix: PREFIX, ...options }, app));
  };

const sessionOf = (ctx: Koa.Context): KoaCompatSession =>
  (ctx as unknown as { session: KoaCompatSession }).session;

/** A Koa app with the routes the tests use; `extra` adds middleware after the session. */
async function start(use: Use, extra?: (app: Koa) => void, App: typeof Koa = Koa): Promise<string> {
  const app = new App();
  app.keys = KEYS;
  app.silent = true;
  use(app);
  // Body for passport-local: the query string (no body parser needed for the tests).
  app.use(async (ctx, next) => {
    (ctx.request as unknown as { body: unknown }).body = Object.fromEntries(
      new URLSearchParams(ctx.querystring),
    );
    await next();
  });
  extra?.(app);
  app.use(async (ctx, next) => {
    const q = Object.fromEntries(new URLSearchParams(ctx.querystring));
    const s = sessionOf(ctx);
    switch (ctx.path) {
      case '/set':
        if (q.delay !== undefined) await sleep(Number(q.delay));
        s[q.k!] = q.v;
        ctx.body = 'ok';
        return;
      case '/get':
        ctx.body = s.toJSON();
        return;
      case '/key':
        ctx.body = String(s.externalKey);
        return;
      case '/nothing':
        ctx.body = 'ok';
        return;
      default:
        await next();
    }
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('@kv-session/koa/compat: cookies and ctx.session', () => {
  it('writes koa.sess=<prefix><uuid> and koa.sess.sig as koa-session does; the data comes back', async () => {
    const jar = new Jar(await start(compat()));
    const r = await jar.get('/set?k=a&v=1');
    expect(r.setCookies.map((c) => c.split('=')[0])).toEqual(['koa.sess', 'koa.sess.sig']);
    const key = jar.cookies.get('koa.sess')!;
    expect(key).toMatch(/^koa:sess:[0-9a-f-]{36}$/);
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({ a: '1' });
    const stored = JSON.parse((await client.get(key))!) as Record<string, unknown>;
    expect(stored).toMatchObject({ a: '1', _maxAge: 86_400_000 });
    expect(stored._expire).toBeGreaterThan(Date.now());
    // A forged signature is a new session.
    const forged = jar.clone();
    forged.cookies.set('koa.sess.sig', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(JSON.parse((await forged.get('/get')).body)).toEqual({});
  });

  it('key rotation: a cookie signed with an older app key is read and its .sig re-signed with the first key', async () => {
    const jar = new Jar(await start(compat()));
    await jar.get('/set?k=a&v=1');
    const oldSig = jar.cookies.get('koa.sess.sig');
    const rotated = jar.clone(
      await start(compat(), (app) => {
        app.keys = ['a newer key, first in the list', ...KEYS];
      }),
    );
    const r = await rotated.get('/get');
    expect(JSON.parse(r.body)).toEqual({ a: '1' });
    expect(r.setCookies.map((c) => c.split('=')[0])).toEqual(['koa.sess.sig']);
    expect(rotated.cookies.get('koa.sess.sig')).not.toBe(oldSig);
    // Only the new key left: the re-signed cookie still reads; the old one no longer does.
    const onlyNew = await start(compat(), (app) => {
      app.keys = ['a newer key, first in the list'];
    });
    expect(JSON.parse((await rotated.clone(onlyNew).get('/get')).body)).toEqual({ a: '1' });
    expect(JSON.parse((await jar.clone(onlyNew).get('/get')).body)).toEqual({});
  });

  it('app.keys changed at runtime: a cookie that verified before is checked again with the new keys', async () => {
    let app: Koa | undefined;
    const base = await start(compat(), (a) => {
      a.keys = [...KEYS];
      app = a;
    });
    const jar = new Jar(base);
    await jar.get('/set?k=a&v=1');
    expect(JSON.parse((await jar.clone().get('/get')).body)).toEqual({ a: '1' }); // verified once more
    app!.keys = ['another key altogether'];
    expect(JSON.parse((await jar.clone().get('/get')).body)).toEqual({});
    app!.keys = [...KEYS];
    expect(JSON.parse((await jar.clone().get('/get')).body)).toEqual({ a: '1' });
    (app!.keys as string[])[0] = 'the first key changed in place';
    expect(JSON.parse((await jar.clone().get('/get')).body)).toEqual({});
  });

  it('an untouched new session is not saved; rolling re-sends the cookie', async () => {
    const jar = new Jar(await start(compat()));
    expect((await jar.get('/nothing')).setCookies).toEqual([]);
    await jar.get('/set?k=a&v=1');
    expect((await jar.get('/get')).setCookies).toEqual([]);
    const rolling = new Jar(await start(compat({ rolling: true })));
    await rolling.get('/set?k=a&v=1');
    expect((await rolling.get('/get')).setCookies).toHaveLength(2);
  });

  it('ctx.session = null destroys; ctx.session = {...} replaces; isNew and populated', async () => {
    const base = await start(compat(), (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/destroy') {
          (ctx as unknown as { session: unknown }).session = null;
          ctx.body = 'ok';
        } else if (ctx.path === '/replace') {
          (ctx as unknown as { session: unknown }).session = { only: 'this' };
          ctx.body = 'ok';
        } else if (ctx.path === '/flags') {
          ctx.body = { isNew: sessionOf(ctx).isNew, populated: sessionOf(ctx).populated };
        } else await next();
      });
    });
    const jar = new Jar(base);
    expect(JSON.parse((await jar.get('/flags')).body)).toEqual({ isNew: true, populated: false });
    await jar.get('/set?k=a&v=1');
    await jar.get('/set?k=b&v=2');
    expect(JSON.parse((await jar.get('/flags')).body)).toEqual({ isNew: false, populated: true });
    await jar.get('/replace');
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({ only: 'this' });
    const key = jar.cookies.get('koa.sess')!;
    await jar.get('/destroy');
    expect(await client.exists(key)).toBe(0);
    expect(jar.cookies.has('koa.sess')).toBe(false);
  });

  it('ctx.session.maxAge per session is stored as _maxAge and restored; "session" gives no Expires', async () => {
    const base = await start(compat(), (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/remember') {
          sessionOf(ctx).maxAge = 7 * 86_400_000;
          ctx.body = String(sessionOf(ctx).maxAge);
        } else await next();
      });
    });
    const jar = new Jar(base);
    await jar.get('/set?k=a&v=1');
    const r = await jar.get('/remember');
    const expires = Date.parse(/expires=([^;]+)/.exec(r.setCookies[0]!)![1]!);
    expect(expires).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    const key = jar.cookies.get('koa.sess')!;
    expect(JSON.parse((await client.get(key))!)._maxAge).toBe(7 * 86_400_000);
    // The store keeps it a week (plus koa-session's 10 s), also after a read-only request.
    expect(await client.pTTL(key)).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({ a: '1' });
    expect(await client.pTTL(key)).toBeGreaterThan(7 * 86_400_000 - 60_000);
    const again = await jar.get('/set?k=b&v=2');
    expect(Date.parse(/expires=([^;]+)/.exec(again.setCookies[0]!)![1]!)).toBeGreaterThan(
      Date.now() + 6 * 86_400_000,
    );

    const browser = new Jar(await start(compat({ maxAge: 'session' })));
    const s = await browser.get('/set?k=a&v=1');
    expect(s.setCookies[0]).not.toMatch(/expires/i);
    expect(JSON.parse((await client.get(browser.cookies.get('koa.sess')!))!)).toMatchObject({
      a: '1',
      _session: true,
    });
  });

  it('regenerate() moves the data to a new key and deletes the old; save() and manuallyCommit()', async () => {
    const base = await start(compat({ autoCommit: false }), (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/regen') {
          await sessionOf(ctx).regenerate();
          ctx.body = String(sessionOf(ctx).externalKey);
        } else if (ctx.path === '/save-cb') {
          sessionOf(ctx).n = 1;
          await new Promise<void>((resolve, reject) =>
            sessionOf(ctx).save((e) => (e ? reject(e) : resolve())),
          );
          ctx.body = 'ok';
        } else if (ctx.path === '/manual') {
          sessionOf(ctx).m = 2;
          await sessionOf(ctx).manuallyCommit();
          ctx.body = 'ok';
        } else await next();
      });
    });
    const jar = new Jar(base);
    // autoCommit false: a plain change is not saved.
    await jar.get('/set?k=a&v=1');
    expect(jar.cookies.has('koa.sess')).toBe(false);
    await jar.get('/save-cb');
    await jar.get('/manual');
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({ n: 1, m: 2 });
    const oldKey = jar.cookies.get('koa.sess')!;
    const newKey = (await jar.get('/regen')).body;
    expect(newKey).not.toBe(oldKey);
    expect(jar.cookies.get('koa.sess')).toBe(newKey);
    expect(await client.exists(oldKey)).toBe(0);
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({ n: 1, m: 2 });
  });

  it('an expired _expire starts a new session; genid(ctx) and prefix make the key', async () => {
    let n = 0;
    const jar = new Jar(
      await start(compat({ genid: () => `${PREFIX}custom-${String(++n).padStart(20, '0')}` })),
    );
    await jar.get('/set?k=a&v=1');
    const key = jar.cookies.get('koa.sess')!;
    expect(key).toBe(`${PREFIX}custom-${'1'.padStart(20, '0')}`);
    const stored = JSON.parse((await client.get(key))!) as Record<string, unknown>;
    await client.set(key, JSON.stringify({ ...stored, _expire: Date.now() - 1 }));
    expect(JSON.parse((await jar.get('/get')).body)).toEqual({});
  });

  it('refuses `store` and needs the app, as koa-session does', () => {
    const app = new Koa();
    expect(() => compatSession({ store: {} } as never, app)).toThrow(/store: not supported/);
    expect(() => compatSession({} as never, undefined as never)).toThrow('app instance required');
  });
});

describe('@kv-session/koa/compat: what kv-session keeps', () => {
  it('50 concurrent requests setting different properties keep 50/50 (peer measured alongside)', async () => {
    const ours = await concurrentWrites(new Jar(await start(compat())));
    const theirs = await concurrentWrites(new Jar(await start(peer())));
    console.log(`[compat lost-update] koa compat kept ${ours}/50; koa-session + koa-redis kept ${theirs}/50`);
    expect(ours).toBe(50);
    // The peer's figure depends on scheduling (it can keep all 50 on a quiet run): reported, not asserted.
  });

  it('a session set to null by one request is not revived by a concurrent request that changed it', async () => {
    const held = gate();
    const base = await start(compat(), (app) => {
      app.use(async (ctx, next) => {
        if (ctx.path === '/slow') {
          sessionOf(ctx).late = 'after the destroy';
          await held.wait;
          ctx.body = 'ok';
        } else if (ctx.path === '/destroy') {
          (ctx as unknown as { session: unknown }).session = null;
          ctx.body = 'ok';
        } else await next();
      });
    });
    const jar = new Jar(base);
    await jar.get('/set?k=a&v=1');
    const key = jar.cookies.get('koa.sess')!;
    const slow = jar.clone().get('/slow');
    await sleep(50); // let /slow load the session first
    await jar.clone().get('/destroy');
    held.open();
    expect((await slow).status).toBe(200);
    expect(await client.exists(key)).toBe(0);
  });

  it('a storage outage is a 503 through Koa error handling (load and save)', async () => {
    const errors: unknown[] = [];
    const base = await start(compat({ storage: unavailableStorage(), onError: () => {} }), (app) => {
      app.on('error', (e) => errors.push(e));
    });
    const save = await new Jar(base).get('/set?k=a&v=1');
    expect(save.status).toBe(503);
    const working = new Jar(await start(compat()));
    await working.get('/set?k=a&v=1');
    const load = await working.clone(base).get('/get');
    expect(load.status).toBe(503);
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof StorageUnavailableError)).toBe(true);
  });
});

/** koa-passport with a local strategy (password 'pw'); login at /login?username=..&password=.. */
function withPassport(app: Koa): void {
  const passport = new KoaPassport();
  passport.use(
    new LocalStrategy((username, password, done) => done(null, password === 'pw' ? { id: username } : false)),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, { id }));
  app.use(passport.initialize());
  app.use(passport.session());
  const login = passport.authenticate('local', { successRedirect: '/me', failureRedirect: '/failed' });
  app.use(async (ctx, next) => {
    const c = ctx as unknown as {
      isAuthenticated(): boolean;
      logout(): Promise<void>;
      state: { user?: unknown };
    };
    if (ctx.path === '/login') return login(ctx, next);
    if (ctx.path === '/me') {
      if (c.isAuthenticated()) ctx.body = { user: c.state.user };
      else ctx.status = 401;
      return;
    }
    if (ctx.path === '/logout') {
      await c.logout();
      ctx.body = 'bye';
      return;
    }
    await next();
  });
}

describe.each([
  ['@kv-session/koa/compat', () => compat()],
  ['koa-session + koa-redis (the peer, same test)', () => peer()],
])('with koa-passport: %s', (_name, use) => {
  it('local strategy: login regenerates, protected route, logout, no fixation', async () => {
    const jar = new Jar(await start(use(), withPassport));
    await jar.get('/set?k=visit&v=1');
    const anonymousKey = jar.cookies.get('koa.sess')!;
    const attacker = jar.clone();
    expect((await jar.get('/me')).status).toBe(401);
    expect((await jar.get('/login?username=ann&password=wrong')).location).toBe('/failed');

    const login = await jar.get('/login?username=ann&password=pw');
    expect(login.status).toBe(302);
    expect(login.location).toBe('/me');
    const loggedInKey = jar.cookies.get('koa.sess')!;
    expect(loggedInKey).not.toBe(anonymousKey);
    expect(await client.exists(anonymousKey)).toBe(0);
    expect(JSON.parse((await jar.get('/me')).body)).toEqual({ user: { id: 'ann' } });
    expect((await attacker.get('/me')).status).toBe(401);

    expect((await jar.get('/logout')).body).toBe('bye');
    expect((await jar.get('/me')).status).toBe(401);
    expect(jar.cookies.get('koa.sess')).not.toBe(loggedInKey);
  });
});

it('runs on Koa 2 too: data, koa-passport login and logout', async () => {
  const jar = new Jar(await start(compat(), withPassport, Koa2));
  await jar.get('/set?k=a&v=1');
  expect(JSON.parse((await jar.get('/get')).body)).toEqual({ a: '1' });
  expect((await jar.get('/login?username=ann&password=pw')).location).toBe('/me');
  expect(JSON.parse((await jar.get('/me')).body)).toEqual({ user: { id: 'ann' } });
  await jar.get('/logout');
  expect((await jar.get('/me')).status).toBe(401);
});

describe('switch-over from koa-session + koa-redis', () => {
  it('a site whose keys have no prefix switches with allowEmptyPrefix: the bare keys are read and written', async () => {
    const before = new Jar(await start(peer({ prefix: '' }), withPassport));
    expect((await before.get('/login?username=cy&password=pw')).status).toBe(302);
    await before.get('/set?k=cart&v=5');
    const key = before.cookies.get('koa.sess')!;
    // koa-session + koa-redis keep it under the bare external key: a UUID, no prefix.
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse((await client.get(key))!)).toMatchObject({ cart: '5', passport: { user: 'cy' } });

    const unprefixed = () => new StorageRedisKV({ client, prefix: '', allowEmptyPrefix: true });
    const after = before.clone(await start(compat({ prefix: '', storage: unprefixed() }), withPassport));
    expect(JSON.parse((await after.get('/me')).body)).toEqual({ user: { id: 'cy' } });
    expect((await after.get('/key')).body).toBe(key);
    await after.get('/set?k=more&v=6');
    expect(JSON.parse((await client.get(key))!)).toMatchObject({ cart: '5', more: '6' });

    const back = after.clone(await start(peer({ prefix: '' }), withPassport));
    expect(JSON.parse((await back.get('/me')).body)).toEqual({ user: { id: 'cy' } });
    expect(JSON.parse((await back.get('/get')).body)).toEqual({
      cart: '5',
      more: '6',
      passport: { user: 'cy' },
    });
  });

  it('a user logged in under the peer stays logged in, with its data, and can switch back', async () => {
    const before = new Jar(await start(peer(), withPassport));
    expect((await before.get('/login?username=bob&password=pw')).status).toBe(302);
    await before.get('/set?k=cart&v=3');
    const key = before.cookies.get('koa.sess')!;

    const after = before.clone(await start(compat(), withPassport));
    expect(JSON.parse((await after.get('/me')).body)).toEqual({ user: { id: 'bob' } });
    expect((await after.get('/key')).body).toBe(key);
    expect(JSON.parse((await after.get('/get')).body)).toEqual({ cart: '3', passport: { user: 'bob' } });
    await after.get('/set?k=more&v=4');

    const back = after.clone(await start(peer(), withPassport));
    expect(JSON.parse((await back.get('/me')).body)).toEqual({ user: { id: 'bob' } });
    expect(JSON.parse((await back.get('/get')).body)).toEqual({
      cart: '3',
      more: '4',
      passport: { user: 'bob' },
    });
  });
});
