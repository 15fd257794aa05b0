import type { JsonValue, Session, SessionManager } from '@kv-session/core';
import { type AppSessionData, session } from '@kv-session/fastify';
import Fastify, { type FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';

// Augmentation as a user would write it (a key no other test uses: augmentations are global).
declare module '@kv-session/fastify' {
  interface AppSessionData {
    fastifyTypeTestVisits?: number;
  }
}

describe('@kv-session/fastify types', () => {
  it('types request.session without casts', async () => {
    const app = Fastify();
    await app.register(session, { secret: 'a'.repeat(32), header: 'x-session-id' });
    expectTypeOf(app.sessionManager).toEqualTypeOf<SessionManager<AppSessionData>>();
    app.get('/', async (request) => {
      expectTypeOf(request.session).toEqualTypeOf<Session<AppSessionData>>();
      expectTypeOf(await request.session.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      expectTypeOf(await request.session.get('fastifyTypeTestVisits')).toEqualTypeOf<number | undefined>();
      await request.session.set('fastifyTypeTestVisits', 2);
      // @ts-expect-error the augmented key holds a number
      await request.session.set('fastifyTypeTestVisits', '2');
      // @ts-expect-error functions are not JSON
      await request.session.set('anything', () => 1);
      // @ts-expect-error a JsonValue is not a string without narrowing
      const name: string = await request.session.get('name');
      return name;
    });
  });

  it('checks plugin options', () => {
    // Never called: zod would reject it at run time too.
    const bad = () =>
      // @ts-expect-error maxAge is milliseconds as a number
      Fastify().register(session, { maxAge: '1h' });
    expectTypeOf(bad).toBeFunction();
    expectTypeOf<FastifyRequest['session']>().toEqualTypeOf<Session<AppSessionData>>();
  });
});
