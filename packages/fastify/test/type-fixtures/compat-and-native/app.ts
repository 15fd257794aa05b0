// A program that imports both @kv-session/fastify and its /compat (a migration under way): the
// native type applies unless the app declares which one it uses, as this one does.
// Type-checked in its own program by test/compat-types.test.ts.
import { sessionPlugin } from '@kv-session/fastify';
import fastifySession, { type FastifySessionObject } from '@kv-session/fastify/compat';
import Fastify, { type FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface KvSessionApis {
    use: 'compat';
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export async function build() {
  const app = Fastify();
  await app.register(fastifySession, { secret: 'a'.repeat(32) });
  // The native plugin in a sibling context: its session is reached through kv.of(request).
  const kv = sessionPlugin({ secret: 'b'.repeat(32) });
  app.register(async (child) => {
    await child.register(kv);
    child.get('/native', async (request) => {
      await kv.of(request).set('visits', 1);
      return 'ok';
    });
  });
  app.get('/', async (request) => {
    const same: Equal<FastifyRequest['session'], FastifySessionObject> = true;
    request.session.visits = 1;
    // @ts-expect-error get() is synchronous here: no promise to await on the compat object
    const pending: Promise<unknown> = request.session.get('visits');
    return { same, pending };
  });
  return app;
}
