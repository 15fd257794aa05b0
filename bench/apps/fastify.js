import Fastify from 'fastify';
import { MAX_AGE_MS, nextWrite, SECRET, SEED, withoutCookie } from './common.js';
import { kvStorage } from './storage.js';

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
  } else if (kind === 'peer') {
    const { default: fastifyCookie } = await import('@fastify/cookie');
    const { default: fastifySession } = await import('@fastify/session');
    const { RedisStore } = await import('connect-redis');
    const { createClient } = await import('redis');
    const client = createClient({ url: redisUrl });
    client.on('error', (err) => console.error('[bench redis]', err));
    await client.connect();
    closers.push(() => client.close());
    await app.register(fastifyCookie);
    await app.register(fastifySession, {
      secret: SECRET,
      store: new RedisStore({ client }),
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
