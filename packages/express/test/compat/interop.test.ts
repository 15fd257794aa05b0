// Switching between the real express-session + connect-redis and @kv-session/express/compat on one
// Redis, same secret and prefix: no one is logged out either way. Also the lost-update figure (50
// concurrent requests, each setting its own property) and Redis commands per logged-in GET, for the
// drop-in, the native middleware and express-session, from INFO commandstats.
import { createHmac } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { session as nativeSession } from '@kv-session/express';
import session from '@kv-session/express/compat';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisStorageFixture, useRedisStorage } from '@kv-session/testing/adapters';
import { RedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import expressSession from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authApp } from './auth-app.js';
import { Browser, idOf, listen, SECRET } from './support.js';

const HOUR = 3_600_000;

/** `/put?k=v` sets properties, `/show` answers the session data, `/remember` gives it 30 days. */
function dataApp(sessions: RequestHandler): RequestListener {
  const app = express();
  app.use(sessions);
  app.get('/put', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    for (const [k, v] of new URL(req.url, 'http://x').searchParams) s[k] = v;
    res.send('ok');
  });
  app.get('/show', (req, res) => {
    const { cookie: _cookie, ...data } = req.session as unknown as Record<string, unknown>;
    res.json(data);
  });
  app.get('/remember', (req, res) => {
    (req.session as unknown as { cookie: { maxAge: number } }).cookie.maxAge = 30 * 24 * HOUR;
    res.send('ok');
  });
  return app as unknown as RequestListener;
}

describe('switch-over between express-session + connect-redis and the drop-in', () => {
  const fx: RedisStorageFixture = useRedisStorage();
  const closers: (() => Promise<void>)[] = [];
  const url = { es: '', compat: '', esAuth: '', compatAuth: '' };
  const compatOptions = () => ({
    secret: [SECRET, 'an-older-secret-still-verifying'],
    storage: new StorageRedisKV({ client: fx.client, prefix: 'sess:' }),
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: HOUR },
  });
  const esOptions = () => ({
    secret: [SECRET, 'an-older-secret-still-verifying'],
    store: new RedisStore({ client: fx.client }),
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: HOUR },
  });

  beforeAll(async () => {
    const serve = async (app: RequestListener) => {
      const s = await listen(app);
      closers.push(s.close);
      return s.url;
    };
    url.es = await serve(dataApp(expressSession(esOptions())));
    url.compat = await serve(dataApp(session(compatOptions()) as unknown as RequestHandler));
    url.esAuth = await serve(authApp(express, expressSession(esOptions())));
    url.compatAuth = await serve(authApp(express, session(compatOptions()) as unknown as RequestHandler));
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  /** The same browser (cookie jar) pointed at another server. */
  const on = (b: Browser, base: string) => {
    const other = new Browser(base);
    for (const [k, v] of b.cookies) other.cookies.set(k, v);
    return other;
  };

  it('a session made by express-session is read and changed by the drop-in, then read again by express-session', async () => {
    const es = new Browser(url.es);
    await es.get('/put?plan=basic&lang=en');
    const cookie = es.cookie()!;
    const id = idOf(cookie);

    const compat = on(es, url.compat);
    expect(JSON.parse((await compat.get('/show')).body)).toEqual({ plan: 'basic', lang: 'en' });
    const put = await compat.get('/put?plan=pro');
    // Persistent cookie and a modified session: express-session re-sends it too, with the same id.
    expect(idOf(compat.cookie())).toBe(id);
    expect(put.setCookies).toHaveLength(1);

    const record = JSON.parse((await fx.client.get(`sess:${id}`))!) as Record<string, unknown>;
    expect(record).toMatchObject({
      plan: 'pro',
      lang: 'en',
      cookie: { originalMaxAge: HOUR, httpOnly: true, path: '/' },
    });
    const ttl = await fx.client.pTTL(`sess:${id}`);
    expect(ttl).toBeGreaterThan(HOUR - 60_000);
    expect(ttl).toBeLessThanOrEqual(HOUR);

    const back = on(compat, url.es);
    expect(JSON.parse((await back.get('/show')).body)).toEqual({ plan: 'pro', lang: 'en' });
  });

  it('a session made by the drop-in is read by express-session (cookie and record in its format)', async () => {
    const compat = new Browser(url.compat);
    const put = await compat.get('/put?cart=3');
    const id = idOf(compat.cookie());
    // The same Set-Cookie express-session writes: s:<id>.<base64 HMAC-SHA256, no padding>, URL-encoded.
    const mac = createHmac('sha256', SECRET).update(id).digest('base64').replace(/=+$/, '');
    expect(compat.cookie()).toBe(encodeURIComponent(`s:${id}.${mac}`));
    expect(put.setCookies[0]).toMatch(
      new RegExp(
        `^connect\\.sid=${compat.cookie()!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; Path=/; Expires=[^;]+ GMT; HttpOnly$`,
      ),
    );
    const es = new Browser(url.es);
    const esPut = await es.get('/put?cart=1');
    // Same attributes, in the same order, as express-session's own cookie.
    expect(esPut.setCookies[0]!.replace(/=[^;]*/g, '=')).toBe(put.setCookies[0]!.replace(/=[^;]*/g, '='));

    const back = on(compat, url.es);
    expect(JSON.parse((await back.get('/show')).body)).toEqual({ cart: '3' });
    await back.get('/put?cart=4');
    expect(JSON.parse((await on(back, url.compat).get('/show')).body)).toEqual({ cart: '4' });
  });

  it('a user logged in through express-session + Passport stays logged in on the drop-in, logs out there, and back', async () => {
    const es = new Browser(url.esAuth);
    await es.post('/login', { username: 'ada', password: 'lovelace' });
    const compat = on(es, url.compatAuth);
    expect((await compat.get('/private')).body).toBe('hello ada');
    // Logged in on the drop-in, back on express-session.
    const again = new Browser(url.compatAuth);
    await again.post('/login', { username: 'ada', password: 'lovelace' });
    expect((await on(again, url.esAuth).get('/private')).body).toBe('hello ada');
    await again.post('/logout');
    expect((await on(again, url.esAuth).get('/private')).status).toBe(401);
  });

  it('a cookie signed with an older secret is accepted (every secret verifies)', async () => {
    const b = new Browser(url.compat);
    const id = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'; // express-session's id shape: 32 base64url characters
    await fx.client.set(`sess:${id}`, JSON.stringify({ cookie: { originalMaxAge: HOUR, path: '/' }, n: 1 }));
    const mac = createHmac('sha256', 'an-older-secret-still-verifying')
      .update(id)
      .digest('base64')
      .replace(/=+$/, '');
    b.cookies.set('connect.sid', encodeURIComponent(`s:${id}.${mac}`));
    expect(JSON.parse((await b.get('/show')).body)).toEqual({ n: 1 });
    // Forged: no storage key is read for it, and the visitor gets an empty session.
    b.cookies.set('connect.sid', encodeURIComponent(`s:${id}.${mac.slice(1)}x`));
    expect(JSON.parse((await b.get('/show')).body)).toEqual({});
  });

  it('a verified cookie is remembered per secrets list: a drop-in without its secret does not take it', async () => {
    const b = new Browser(url.compat);
    await b.get('/put?user=ada');
    expect(JSON.parse((await b.get('/show')).body)).toEqual({ user: 'ada' }); // verified, remembered
    const other = await listen(
      dataApp(
        session({
          ...compatOptions(),
          secret: 'a-different-secret-of-enough-length',
        }) as unknown as RequestHandler,
      ),
    );
    closers.push(other.close);
    expect(JSON.parse((await on(b, other.url).get('/show')).body)).toEqual({});
    expect(JSON.parse((await b.get('/show')).body)).toEqual({ user: 'ada' });
  });

  it('"remember me": cookie.maxAge set on one session gives it its own stored expiry, kept on later requests', async () => {
    const b = new Browser(url.compat);
    await b.get('/put?user=ada');
    const id = idOf(b.cookie());
    await b.get('/remember');
    const month = 30 * 24 * HOUR;
    expect(await fx.client.pTTL(`sess:${id}`)).toBeGreaterThan(month - 60_000);
    // A read-only request later keeps the 30 days (the lifetime is read back from the stored cookie).
    await b.get('/show');
    expect(await fx.client.pTTL(`sess:${id}`)).toBeGreaterThan(month - 60_000);
    const record = JSON.parse((await fx.client.get(`sess:${id}`))!) as { cookie: { originalMaxAge: number } };
    expect(record.cookie.originalMaxAge).toBe(month);
    // express-session reads the same lifetime back.
    expect(JSON.parse((await on(b, url.es).get('/show')).body)).toEqual({ user: 'ada' });
    // Another session of the same app keeps the configured hour.
    const other = new Browser(url.compat);
    await other.get('/put?user=bob');
    expect(await fx.client.pTTL(`sess:${idOf(other.cookie())}`)).toBeLessThanOrEqual(HOUR);
  });
});

describe('lost updates and cost, measured', () => {
  const fx: RedisStorageFixture = useRedisStorage();
  const closers: (() => Promise<void>)[] = [];
  const apps: Record<'compat' | 'express-session', string> = { compat: '', 'express-session': '' };

  beforeAll(async () => {
    const compat = await listen(
      dataApp(
        session({
          secret: SECRET,
          storage: new StorageRedisKV({ client: fx.client, prefix: 'sess:' }),
          resave: false,
          saveUninitialized: false,
        }) as unknown as RequestHandler,
      ),
    );
    const es = await listen(
      dataApp(
        expressSession({
          secret: SECRET,
          store: new RedisStore({ client: fx.client }),
          resave: false,
          saveUninitialized: false,
        }),
      ),
    );
    closers.push(compat.close, es.close);
    apps.compat = compat.url;
    apps['express-session'] = es.url;
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  async function concurrentKeys(base: string): Promise<number> {
    const b = new Browser(base);
    await b.get('/put?seed=1');
    await Promise.all(Array.from({ length: 50 }, (_, i) => b.get(`/put?k${i}=${i}`)));
    const data = JSON.parse((await b.get('/show')).body) as Record<string, unknown>;
    return Object.keys(data).filter((k) => /^k\d+$/.test(k)).length;
  }

  it('50 concurrent requests each setting a different property: the drop-in keeps 50 of 50', async () => {
    const kept = await concurrentKeys(apps.compat);
    const esKept = await concurrentKeys(apps['express-session']);
    console.log(`lost updates: compat kept ${kept}/50, express-session + connect-redis kept ${esKept}/50`);
    expect(kept).toBe(50);
    // express-session writes the whole session back, so concurrent writers usually overwrite each
    // other; how many it keeps depends on scheduling (it has kept all 50 on a quiet run), so its
    // figure is reported above, not asserted.
  });

  it('Redis commands per logged-in GET (INFO commandstats): drop-in, native, express-session', async () => {
    const perGet = async (base: string, login: (b: Browser) => Promise<void>, get: string) => {
      const b = new Browser(base);
      await login(b);
      await fx.redis.resetStats();
      for (let i = 0; i < 20; i++) await b.get(get);
      const stats = await fx.redis.commandStats();
      delete stats['config|resetstat'];
      const total = Object.values(stats).reduce((a, n) => a + n, 0);
      return { perRequest: total / 20, stats };
    };
    const compat = await perGet(apps.compat, (b) => b.get('/put?user=ada').then(() => undefined), '/show');
    const es = await perGet(
      apps['express-session'],
      (b) => b.get('/put?user=ada').then(() => undefined),
      '/show',
    );
    const nativeApp = express();
    nativeApp.use(
      nativeSession({ storage: new StorageRedisKV({ client: fx.client, prefix: 'sess:' }), secret: SECRET }),
    );
    nativeApp.get('/put', async (req, res) => {
      await req.session.set('user', 'ada');
      res.send('ok');
    });
    nativeApp.get('/show', async (req, res) => {
      res.json({ user: await req.session.get('user') });
    });
    const native = await listen(nativeApp as unknown as RequestListener);
    closers.push(native.close);
    const nat = await perGet(native.url, (b) => b.get('/put').then(() => undefined), '/show');
    console.log(
      `commands per logged-in GET: compat ${compat.perRequest} ${JSON.stringify(compat.stats)}, native ${nat.perRequest} ${JSON.stringify(nat.stats)}, express-session ${es.perRequest} ${JSON.stringify(es.stats)}`,
    );
    // One GETEX (load and expiry refresh together); express-session: GET + EXPIRE (touch).
    expect(compat.perRequest).toBe(1);
    expect(nat.perRequest).toBe(1);
    expect(es.perRequest).toBe(2);
  });
});
