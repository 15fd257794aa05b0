import { createServer } from 'node:http';
import express from 'express';
import { MAX_AGE_MS, nextWrite, SECRET, SEED, withoutCookie } from './common.js';
import { kvStorage, slowdownOptions } from './storage.js';

const json = (res, body) => res.type('application/json').send(body);

/** Builds the Express app of one stack kind and listens on 127.0.0.1:port. */
export async function start(kind, { port, redisUrl }) {
  const app = express();
  app.disable('x-powered-by');
  const closers = [];

  if (kind === 'bare') {
    app.get('/ping', (_req, res) => res.send('pong'));
    app.get('/get', (_req, res) => json(res, JSON.stringify(SEED)));
    app.get('/set', (_req, res) => res.send('ok'));
    app.get('/login', (_req, res) => res.send('ok'));
  } else if (kind === 'kv' || kind === 'kv-cache') {
    const { session } = await import('@kv-session/express');
    const storage = await kvStorage(redisUrl, kind === 'kv-cache', closers);
    app.use(session({ storage, secret: SECRET, maxAge: MAX_AGE_MS }));
    app.get('/ping', (_req, res) => res.send('pong'));
    app.get('/get', async (req, res) => json(res, JSON.stringify(await req.session.data())));
    app.get('/set', async (req, res) => {
      await req.session.set('n', nextWrite());
      res.send('ok');
    });
    app.get('/login', async (req, res) => {
      await req.session.set('user', SEED.user);
      res.send('ok');
    });
  } else if (kind === 'floor') {
    const { floorStore } = await import('./floor.js');
    const store = await floorStore(redisUrl, closers);
    const write = async (req, res, key, value) => {
      const setCookie = await store.set(req.headers.cookie, key, value);
      if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
      res.send('ok');
    };
    app.get('/ping', (_req, res) => res.send('pong'));
    app.get('/get', async (req, res) => json(res, JSON.stringify(await store.read(req.headers.cookie))));
    app.get('/set', (req, res) => write(req, res, 'n', nextWrite()));
    app.get('/login', (req, res) => write(req, res, 'user', SEED.user));
  } else if (kind === 'peer' || kind === 'compat') {
    const { default: session } =
      kind === 'peer' ? await import('express-session') : await import('@kv-session/express/compat');
    const { RedisStore } = await import('connect-redis');
    const { createClient } = await import('redis');
    const client = createClient({ url: redisUrl });
    client.on('error', (err) => console.error('[bench redis]', err));
    await client.connect();
    closers.push(() => client.close());
    app.use(
      session({
        ...(kind === 'peer'
          ? { store: new RedisStore({ client }) }
          : {
              storage: new (await import('@kv-session/redis')).StorageRedisKV({
                client,
                prefix: 'sess:',
                ...slowdownOptions(),
              }),
            }),
        secret: SECRET,
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: MAX_AGE_MS },
      }),
    );
    app.get('/ping', (_req, res) => res.send('pong'));
    app.get('/get', (req, res) => json(res, JSON.stringify(withoutCookie(req.session))));
    app.get('/set', (req, res) => {
      req.session.n = nextWrite();
      res.send('ok');
    });
    app.get('/login', (req, res) => {
      req.session.user = SEED.user;
      res.send('ok');
    });
  } else {
    throw new Error(`unknown kind ${kind}`);
  }

  app.use((err, _req, res, _next) => {
    console.error('[bench express]', err);
    res.status(err.status ?? 500).send('error');
  });
  const server = createServer(app);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, close: async () => closeAll(server, closers) };
}

async function closeAll(server, closers) {
  await new Promise((resolve) => server.close(resolve));
  for (const close of closers) await close();
}
