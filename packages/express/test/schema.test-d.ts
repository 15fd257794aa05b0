import type { JsonValue, Session, SessionManager } from '@kv-session/core';
import { type RequestSessionData, type SessionMiddleware, session } from '@kv-session/express';
import express, { type RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const schema = z.object({
  userId: z.string(),
  visits: z.number().int(),
  lastSeen: z.coerce.date(),
  cart: z.object({ items: z.array(z.string()), total: z.number() }).optional(),
});
type Data = z.output<typeof schema>;

describe('@kv-session/express with a schema', () => {
  it('session({ schema }) infers the data type; mw.of(req) is the typed session', () => {
    const sessions = session({ schema, maxAge: 60_000 });
    expectTypeOf(sessions).toEqualTypeOf<SessionMiddleware<Data>>();
    expectTypeOf(sessions).toExtend<RequestHandler>();
    expectTypeOf(sessions.manager).toEqualTypeOf<SessionManager<Data>>();
    const app = express();
    app.use(sessions);
    app.get('/', async (req, res) => {
      const s = sessions.of(req);
      expectTypeOf(s).toEqualTypeOf<Session<Data>>();
      expectTypeOf(await s.get('lastSeen')).toEqualTypeOf<Date | undefined>();
      expectTypeOf(await s.get('cart')).toEqualTypeOf<{ items: string[]; total: number } | undefined>();
      expectTypeOf(await s.data()).toEqualTypeOf<Partial<Data>>();
      await s.set('lastSeen', new Date());
      await s.setMany({ userId: 'u1', visits: 1 });
      // @ts-expect-error visits holds a number
      await s.set('visits', 'many');
      // @ts-expect-error set takes the schema's output type: a Date, not its ISO string
      await s.set('lastSeen', '2026-01-01T00:00:00.000Z');
      // @ts-expect-error unknown keys are type errors with a schema
      await s.get('role');
      // @ts-expect-error unknown keys are type errors in setMany too
      await s.setMany({ role: 'admin' });
      // @ts-expect-error and in remove
      await s.remove('role');
      // @ts-expect-error the value may be missing: a new session is empty
      const visits: number = await s.get('visits');
      res.json({ visits });
    });
  });

  it('the schema option only takes zod object schemas, and other options stay checked', () => {
    const bad = () => {
      // @ts-expect-error a string schema does not describe a session
      session({ schema: z.string() });
      // @ts-expect-error options are still checked with a schema
      session({ schema, maxAge: '1h' });
      // @ts-expect-error a policy that does not exist
      session({ schema, invalidStoredData: 'ignore' });
    };
    expectTypeOf(bad).toBeFunction();
    expectTypeOf(session({ schema, invalidStoredData: 'reset' })).toEqualTypeOf<SessionMiddleware<Data>>();
  });

  it('without a schema, typing is as before: req.session reads the declaration-merged type', () => {
    expectTypeOf(session()).toEqualTypeOf<SessionMiddleware<RequestSessionData>>();
    expectTypeOf(session({ maxAge: 1000 })).toEqualTypeOf<SessionMiddleware<RequestSessionData>>();
    expectTypeOf(session<{ n: number }>().of).returns.toEqualTypeOf<Session<{ n: number }>>();
    const app = express();
    app.get('/', async (req) => {
      expectTypeOf(await req.session.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      // The augmentation in types.test-d.ts (AppSessionData) still types its key.
      expectTypeOf(await req.session.get('expressTypeTestVisits')).toEqualTypeOf<number | undefined>();
    });
  });
});
