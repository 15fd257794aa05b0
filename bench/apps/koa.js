import { createServer } from 'node:http';
import Koa from 'koa';
import { MAX_AGE_MS, nextWrite, SECRET, SEED } from './common.js';
import { kvStorage } from './storage.js';

/** A tiny router (no koa-router dependency): the same dispatch cost in every Koa stack. */
function routes(table) {
  return async (ctx, next) => {
    const handler = ctx.method === 'GET' ? table[ctx.path] : undefined;
    if (handler === undefined) return next();
    await handler(ctx);
  };
}

const json = (ctx, body) => {
  ctx.type = 'application/json';
  ctx.body = body;
};

/** Builds the Koa app of one stack kind and listens on 127.0.0.1:port. */
export async function start(kind, { port, redisUrl }) {
  const app = new Koa();
  const closers = [];

  if (kind === 'bare') {
    app.use(
      routes({
        '/ping': (ctx) => {
          ctx.body = 'pong';
        },
        '/get': (ctx) => json(ctx, JSON.stringify(SEED)),
        '/set': (ctx) => {
          ctx.body = 'ok';
        },
        '/login': (ctx) => {
          ctx.body = 'ok';
        },
      }),
    );
  } else if (kind === 'kv' || kind === 'kv-cache') {
    const { session } = await import('@kv-session/koa');
    const storage = await kvStorage(redisUrl, kind === 'kv-cache', closers);
    app.use(session({ storage, secret: SECRET, maxAge: MAX_AGE_MS }));
    app.use(
      routes({
        '/ping': (ctx) => {
          ctx.body = 'pong';
        },
        '/get': async (ctx) => json(ctx, JSON.stringify(await ctx.session.data())),
        '/set': async (ctx) => {
          await ctx.session.set('n', nextWrite());
          ctx.body = 'ok';
        },
        '/login': async (ctx) => {
          await ctx.session.set('user', SEED.user);
          ctx.body = 'ok';
        },
      }),
    );
  } else if (kind === 'floor') {
    const { floorStore } = await import('./floor.js');
    const store = await floorStore(redisUrl, closers);
    const write = async (ctx, key, value) => {
      const setCookie = await store.set(ctx.headers.cookie, key, value);
      if (setCookie !== undefined) ctx.append('Set-Cookie', setCookie);
      ctx.body = 'ok';
    };
    app.use(
      routes({
        '/ping': (ctx) => {
          ctx.body = 'pong';
        },
        '/get': async (ctx) => json(ctx, JSON.stringify(await store.read(ctx.headers.cookie))),
        '/set': (ctx) => write(ctx, 'n', nextWrite()),
        '/login': (ctx) => write(ctx, 'user', SEED.user),
      }),
    );
  } else if (kind === 'peer' || kind === 'compat') {
    app.keys = [SECRET];
    if (kind === 'peer') {
      const { default: session } = await import('koa-session');
      const { default: redisStore } = await import('koa-redis');
      const url = new URL(redisUrl);
      const store = redisStore({ host: url.hostname, port: Number(url.port) });
      closers.push(() => store.quit());
      app.use(session({ store, maxAge: MAX_AGE_MS }, app));
    } else {
      const { default: session } = await import('@kv-session/koa/compat');
      const { kvStorage } = await import('./storage.js');
      const storage = await kvStorage(redisUrl, false, closers);
      app.use(session({ storage, maxAge: MAX_AGE_MS }, app));
    }
    app.use(
      routes({
        '/ping': (ctx) => {
          ctx.body = 'pong';
        },
        '/get': (ctx) => json(ctx, JSON.stringify(ctx.session.toJSON())),
        '/set': (ctx) => {
          ctx.session.n = nextWrite();
          ctx.body = 'ok';
        },
        '/login': (ctx) => {
          ctx.session.user = SEED.user;
          ctx.body = 'ok';
        },
      }),
    );
  } else {
    throw new Error(`unknown kind ${kind}`);
  }

  app.on('error', (err) => console.error('[bench koa]', err));
  const server = createServer(app.callback());
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      for (const close of closers) await close();
    },
  };
}
