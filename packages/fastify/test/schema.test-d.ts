import type { Session, SessionManager } from '@kv-session/core';
import { type RequestSessionData, session, sessionPlugin } from '@kv-session/fastify';
import Fastify from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

// Fastify's register() cannot change the request type, so request.session is typed globally:
// through core's SessionTypes (docs/typed-sessions.md; packages/express/test/session-types.test.ts), or
// through the AppSessionData augmentation in types.test-d.ts as here.
const jsonSchema = z.object({ userId: z.string(), visits: z.number() });
const dateSchema = z.object({ lastSeen: z.coerce.date() });

describe('@kv-session/fastify with a schema', () => {
  it('register(session, { schema }) accepts object schemas whose output fits request.session', async () => {
    const app = Fastify();
    await app.register(session, { schema: jsonSchema, invalidStoredData: 'drop' });
    expectTypeOf(app.sessionManager).toEqualTypeOf<SessionManager<RequestSessionData>>();
    app.get('/', async (request) => {
      expectTypeOf(request.session).toEqualTypeOf<Session<RequestSessionData>>();
      // The augmentation in types.test-d.ts still types its key.
      expectTypeOf(await request.session.get('fastifyTypeTestVisits')).toEqualTypeOf<number | undefined>();
      // @ts-expect-error the augmented key holds a number
      await request.session.set('fastifyTypeTestVisits', 'x');
      return 'ok';
    });
  });

  it('rejects a non-object schema, and one whose output request.session cannot hold', () => {
    const bad = () => {
      // @ts-expect-error a string schema does not describe a session
      Fastify().register(session, { schema: z.string() });
      // @ts-expect-error Date output: register SessionTypes with z.output<typeof dateSchema> first
      Fastify().register(session, { schema: dateSchema });
      // @ts-expect-error no such policy
      Fastify().register(session, { schema: jsonSchema, invalidStoredData: 'ignore' });
    };
    expectTypeOf(bad).toBeFunction();
  });
});

describe('sessionPlugin({ schema }): kv.of(request) typed by the schema', () => {
  it('infers the data type from the schema', () => {
    const kv = sessionPlugin({ schema: jsonSchema });
    const app = Fastify();
    app.register(kv);
    app.get('/', async (request) => {
      expectTypeOf(await kv.of(request).get('userId')).toEqualTypeOf<string | undefined>();
      // @ts-expect-error visits holds a number
      await kv.of(request).set('visits', 'x');
      return 'ok';
    });
    expectTypeOf(kv.manager).toEqualTypeOf<SessionManager<{ userId: string; visits: number }>>();
  });
});
