// An app that moved from @fastify/session to the drop-in and imports only it: request.session is
// typed without casts, and the app's data declarations (as written for @fastify/session) still apply.
// Type-checked in its own program by test/compat-types.test.ts; each @ts-expect-error must be an error.
import fastifySession, { type FastifySessionObject } from '@kv-session/fastify/compat';
import Fastify, { type FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface Session {
    userId?: string;
    visits: number;
  }
}

// The drop-in's own interface is open to declaration merging too.
declare module '@kv-session/fastify/compat' {
  interface FastifySessionObject {
    theme?: 'dark' | 'light';
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export async function build() {
  const app = Fastify();
  await app.register(fastifySession, { secret: 'a'.repeat(32), cookie: { secure: 'auto' } });
  app.get('/', async (request) => {
    const same: Equal<FastifyRequest['session'], FastifySessionObject> = true;
    request.session.userId = 'u1';
    request.session.set('visits', (request.session.get('visits') ?? 0) + 1);
    const visits: number | undefined = request.session.get('visits');
    // @ts-expect-error visits holds a number
    request.session.set('visits', '2');
    // @ts-expect-error userId holds a string
    request.session.userId = 5;
    request.session.theme = 'dark';
    // @ts-expect-error not a theme
    request.session.theme = 'blue';
    // Keys the app did not declare are unknown until narrowed.
    const other: unknown = request.session.get('cart');
    // @ts-expect-error unknown is not a string
    const name: string = request.session.cart;
    // @ts-expect-error the native API (setMany) is not on the compat object
    await request.session.setMany({ a: 1 });
    request.session.options({ maxAge: 60_000 });
    const left: number | null = request.session.cookie.maxAge;
    const ids: string[] = [request.session.sessionId, request.session.encryptedSessionId];
    await request.session.regenerate(['userId']);
    request.session.regenerate((error) => void error);
    await request.session.save();
    request.session.reload(() => undefined);
    const flags: boolean[] = [request.session.isModified(), request.session.isSaved()];
    await request.session.destroy();
    return { same, visits, other, name, left, ids, flags };
  });
  return app;
}
