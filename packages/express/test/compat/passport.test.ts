// Passport 0.7 + passport-local + connect-flash on the express-session drop-in, over real HTTP and a
// private redis-server. Every flow also runs on the real express-session + connect-redis, so the
// assertions describe express-session's behaviour and the drop-in is held to it.
import session from '@kv-session/express/compat';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisStorageFixture, useRedisStorage } from '@kv-session/testing/adapters';
import { RedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import expressSession from 'express-session';
import express4 from 'express4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authApp } from './auth-app.js';
import { Browser, idOf, listen, SECRET } from './support.js';

type Impl = 'compat' | 'express-session';
const impls: Impl[] = ['compat', 'express-session'];
const frameworks = { 'express 5': express, 'express 4': express4 as typeof express };

describe.each(impls)('Passport 0.7 + connect-flash on %s', (impl) => {
  const fx: RedisStorageFixture = useRedisStorage();
  const servers: { close: () => Promise<void> }[] = [];
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    for (const [name, factory] of Object.entries(frameworks)) {
      const sessions =
        impl === 'compat'
          ? (session({
              secret: SECRET,
              storage: new StorageRedisKV({ client: fx.client, prefix: 'sess:' }),
              resave: false,
              saveUninitialized: false,
            }) as unknown as RequestHandler)
          : expressSession({
              secret: SECRET,
              store: new RedisStore({ client: fx.client }),
              resave: false,
              saveUninitialized: false,
            });
      const server = await listen(authApp(factory, sessions));
      servers.push(server);
      urls[name] = server.url;
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  const stored = async (id: string) => {
    const text = await fx.client.get(`sess:${id}`);
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  };

  describe.each(Object.keys(frameworks))('%s', (framework) => {
    it('login regenerates the session and stores passport.user; the restricted page needs it', async () => {
      const b = new Browser(urls[framework]!);
      expect((await b.get('/private')).status).toBe(401);
      const login = await b.post('/login', { username: 'ada', password: 'lovelace' });
      expect(login.status).toBe(302);
      expect(login.location).toBe('/private');
      const id = idOf(b.cookie());
      const record = await stored(id);
      expect(record?.passport).toEqual({ user: 'ada' });
      expect(record?.cookie).toMatchObject({ originalMaxAge: null, httpOnly: true, path: '/' });
      const page = await b.get('/private');
      expect(page.status).toBe(200);
      expect(page.body).toBe('hello ada');
    });

    it('session fixation: the id the visitor had before login is dead after login', async () => {
      const b = new Browser(urls[framework]!);
      expect((await b.get('/visit')).body).toBe('1');
      const before = b.cookie()!;
      expect(await stored(idOf(before))).toMatchObject({ visits: 1 });
      await b.post('/login', { username: 'ada', password: 'lovelace' });
      const after = b.cookie()!;
      expect(idOf(after)).not.toBe(idOf(before));
      expect(await stored(idOf(before))).toBeNull();
      // Passport 0.7 keeps nothing of the old session: regenerate gives a new, empty one.
      expect(await stored(idOf(after))).not.toHaveProperty('visits');
      // An attacker holding the pre-login cookie is not logged in.
      const attacker = new Browser(urls[framework]!);
      attacker.cookies.set('connect.sid', before);
      expect((await attacker.get('/private')).status).toBe(401);
    });

    it('logout regenerates: the logged-in id is dead, the page is closed again', async () => {
      const b = new Browser(urls[framework]!);
      await b.post('/login', { username: 'ada', password: 'lovelace' });
      const loggedIn = b.cookie()!;
      expect((await b.get('/private')).status).toBe(200);
      const out = await b.post('/logout');
      expect(out.status).toBe(302);
      expect(idOf(b.cookie())).not.toBe(idOf(loggedIn));
      expect(await stored(idOf(loggedIn))).toBeNull();
      expect((await b.get('/private')).status).toBe(401);
      const replay = new Browser(urls[framework]!);
      replay.cookies.set('connect.sid', loggedIn);
      expect((await replay.get('/private')).status).toBe(401);
    });

    it('a failed login flashes its message, shown once after the redirect', async () => {
      const b = new Browser(urls[framework]!);
      const login = await b.post('/login', { username: 'ada', password: 'wrong' });
      expect(login.location).toBe('/login');
      expect(JSON.parse((await b.get('/login')).body)).toEqual({ errors: ['Wrong username or password'] });
      expect(JSON.parse((await b.get('/login')).body)).toEqual({ errors: [] });
    });

    it('connect-flash: a message set before a redirect is shown once, then gone', async () => {
      const b = new Browser(urls[framework]!);
      const post = await b.post('/notes', { note: 'milk' });
      expect(post.status).toBe(302);
      const id = idOf(b.cookie());
      expect(await stored(id)).toMatchObject({ flash: { info: ['saved milk'] } });
      expect(JSON.parse((await b.get('/notes')).body)).toEqual({ info: ['saved milk'] });
      expect(JSON.parse((await b.get('/notes')).body)).toEqual({ info: [] });
      expect(await stored(id)).toMatchObject({ flash: {} });
    });
  });
});
