import { createRequire } from 'node:module';
import { ConfigError } from '@kv-session/core';
import { session as nativeSession } from '@kv-session/fastify';
import fastifySession, { type CompatSession } from '@kv-session/fastify/compat';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { afterEach, describe, expect, it } from 'vitest';
import { Jar, listen } from './support/compat.js';

// The peer is loaded without its types (its `request.session` declaration would clash).
const require = createRequire(import.meta.url);
const peerSession = require('@fastify/session') as FastifyPluginAsync<Record<string, unknown>>;
const peerCookie = require('@fastify/cookie') as FastifyPluginAsync;

const SECRET = 'a secret of at least thirty-two characters';
const compatOf = (request: FastifyRequest): CompatSession =>
  (request as unknown as { session: CompatSession }).session;

/** A plugin as some in the ecosystem are written: it declares that it needs @fastify/session. */
const needsSession = fp(
  async (app) => {
    app.get('/visits', async (request) => {
      const s = compatOf(request);
      const visits = (s.get<number>('visits') ?? 0) + 1;
      s.set('visits', visits);
      return { visits, hasPlugin: app.hasPlugin('@fastify/session') };
    });
  },
  { name: 'needs-session', fastify: '5.x', dependencies: ['@fastify/session'] },
);

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

function track(app: FastifyInstance): FastifyInstance {
  apps.push(app);
  return app;
}

describe('@kv-session/fastify/compat among other plugins', () => {
  it("a plugin declaring dependencies: ['@fastify/session'] registers after the drop-in and uses its session", async () => {
    const app = track(Fastify());
    await app.register(fastifySession, { secret: SECRET, cookie: { secure: false } });
    await app.register(needsSession);
    const jar = new Jar(await listen(app));
    expect(JSON.parse((await jar.get('/visits')).body)).toEqual({ visits: 1, hasPlugin: true });
    expect(JSON.parse((await jar.get('/visits')).body)).toEqual({ visits: 2, hasPlugin: true });
  });

  it('the same plugin registers after the real @fastify/session (the name is the peer’s)', async () => {
    const app = track(Fastify());
    await app.register(peerCookie);
    await app.register(peerSession, { secret: SECRET, cookie: { secure: false } });
    await app.register(needsSession);
    const jar = new Jar(await listen(app));
    expect(JSON.parse((await jar.get('/visits')).body)).toEqual({ visits: 1, hasPlugin: true });
  });

  it('without a session plugin the dependency check still fails, as it should', async () => {
    const app = track(Fastify());
    await expect(app.register(needsSession).ready()).rejects.toMatchObject({
      code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED',
    });
  });

  it('the native plugin and the drop-in in one context: a ConfigError naming the collision', async () => {
    const app = track(Fastify());
    await app.register(nativeSession, { secret: SECRET });
    const error = await app
      .register(fastifySession, { secret: SECRET })
      .ready()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/one session plugin per encapsulation context/);
  });

  it('the native plugin and the drop-in in sibling contexts each serve their own routes', async () => {
    const app = track(Fastify());
    await app.register(
      async (child) => {
        await child.register(nativeSession, { secret: SECRET, cookie: { name: 'native.sid' } });
        child.get('/count', async (request) => {
          const n = ((await request.session.get('n')) as number | undefined) ?? 0;
          await request.session.set('n', n + 1);
          return { n: n + 1 };
        });
      },
      { prefix: '/native' },
    );
    await app.register(
      async (child) => {
        await child.register(fastifySession, { secret: SECRET, cookie: { secure: false } });
        await child.register(needsSession);
      },
      { prefix: '/compat' },
    );
    const jar = new Jar(await listen(app));
    expect(JSON.parse((await jar.get('/native/count')).body)).toEqual({ n: 1 });
    expect(JSON.parse((await jar.get('/native/count')).body)).toEqual({ n: 2 });
    expect(JSON.parse((await jar.get('/compat/visits')).body)).toEqual({ visits: 1, hasPlugin: true });
    expect(JSON.parse((await jar.get('/compat/visits')).body)).toEqual({ visits: 2, hasPlugin: true });
    expect(JSON.parse((await jar.get('/native/count')).body)).toEqual({ n: 3 });
  });
});
