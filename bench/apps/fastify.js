import Fastify from 'fastify';
import { MAX_AGE_MS, nextWrite, SECRET, SEED, withoutCookie } from './common.js';
import { kvStorage, slowdownOptions } from './storage.js';

const json = (reply, body) => reply.type('application/json').send(body);

/** Builds the Fastify app of one stack kind and listens on 127.0.0.1:port. */
export async function start(kind, { port, redisUrl }) {
  const app = Fastify({ logger: false });
  const closers = [];

  if (kind === 'bare') {
    app.get('/ping', async () => 'pong');
    app.get('/get', (_req, reply) => json(reply, JSON.stringify(SEED)));
    app.get('/set', async () => 'ok');
    app.get('/login', async () => 'ok');
  } else if (kind === 'kv' || kind === 'kv-cache') {
    const { session } = await import('@kv-session/fastify');
    const storage = await kvStorage(redisUrl, kind === 'kv-cache', closers);
    await app.register(session, { storage, secret: SECRET, maxAge: MAX_AGE_MS });
    app.get('/ping', async () => 'pong');
    app.get('/get', async (req, reply) => json(reply, JSON.stringify(await req.session.data())));
    app.get('/set', async (req) => {
      await req.session.set('n', nextWrite());
      return 'ok';
    });
    app.get('/login', async (req) => {
      await req.session.set('user', SEED.user);
      return 'ok';
    });
  } else if (kind === 'floor') {
    const { floorStore } = await import('./floor.js');
    const store = await floorStore(redisUrl, closers);
    const write = async (req, reply, key, value) => {
      const setCookie = await store.set(req.headers.cookie, key, value);
      if (setCookie !== undefined) reply.header('set-cookie', setCookie);
      return 'ok';
    };
    app.get('/ping', async () => 'pong');
    app.get('/get', async (req, reply) => json(reply, JSON.stringify(await store.read(req.headers.cookie))));
    app.get('/set', (req, reply) => write(req, reply, 'n', nextWrite()));
    app.get('/login', (req, reply) => write(req, reply, 'user', SEED.user));
  } else if (kind === 'peer' || kind === 'compat') {
    const { default: fastifyCookie } = await import('@fastify/cookie');
    const { default: fastifySession } =
      kind === 'peer' ? await import('@fastify/session') : await import('@kv-session/fastify/compat');
    const { RedisStore } = await import('connect-redis');
    const { createClient } = await import('redis');
    const client = createClient({ url: redisUrl });
    client.on('error', (err) => console.error('[bench redis]', err));
    await client.connect();
    closers.push(() => client.close());
    if (kind === 'peer') await app.register(fastifyCookie); // the drop-in does not need it
    await app.register(fastifySession, {
      secret: SECRET,
      ...(kind === 'peer'
        ? { store: new RedisStore({ client }) }
        : {
            storage: new (await import('@kv-session/redis')).StorageRedisKV({
              client,
              prefix: 'sess:',
              ...slowdownOptions(),
            }),
          }),
      saveUninitialized: false,
      cookie: { secure: false, maxAge: MAX_AGE_MS },
    });
    app.get('/ping', async () => 'pong');
    app.get('/get', (req, reply) => json(reply, JSON.stringify(withoutCookie(req.session))));
    app.get('/set', async (req) => {
      req.session.set('n', nextWrite());
      return 'ok';
    });
    app.get('/login', async (req) => {
      req.session.set('user', SEED.user);
      return 'ok';
    });
  } else {
    throw new Error(`unknown kind ${kind}`);
  }

  await app.listen({ port, host: '127.0.0.1' });
  return {
    server: app.server,
    close: async () => {
      await app.close();
      for (const close of closers) await close();
    },
  };
}
