import type { JsonValue, Session, SessionManager } from '@kv-session/core';
import { type RequestSessionData, type SessionMiddleware, session } from '@kv-session/koa';
import Koa, { type Middleware } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const schema = z.object({
  userId: z.string(),
  visits: z.number().int(),
  lastSeen: z.coerce.date(),
});
type Data = z.output<typeof schema>;

describe('@kv-session/koa with a schema', () => {
  it('session({ schema }) infers the data type; mw.of(ctx) is the typed session', () => {
    const sessions = session({ schema, invalidStoredData: 'reset' });
    expectTypeOf(sessions).toEqualTypeOf<SessionMiddleware<Data>>();
    expectTypeOf(sessions).toExtend<Middleware>();
    expectTypeOf(sessions.manager).toEqualTypeOf<SessionManager<Data>>();
    const app = new Koa();
    app.use(sessions);
    app.use(async (ctx) => {
      const s = sessions.of(ctx);
      expectTypeOf(s).toEqualTypeOf<Session<Data>>();
      expectTypeOf(await s.get('lastSeen')).toEqualTypeOf<Date | undefined>();
      await s.set('visits', ((await s.get('visits')) ?? 0) + 1);
      // @ts-expect-error visits holds a number
      await s.set('visits', '1');
      // @ts-expect-error unknown keys are type errors with a schema
      await s.get('cart');
      // @ts-expect-error a Date, not a string
      const seen: string | undefined = await s.get('lastSeen');
      ctx.body = seen;
    });
  });

  it('rejects non-object schemas; without a schema ctx.session keeps its declaration-merged type', () => {
    const bad = () =>
      // @ts-expect-error a number schema does not describe a session
      session({ schema: z.number() });
    expectTypeOf(bad).toBeFunction();
    expectTypeOf(session()).toEqualTypeOf<SessionMiddleware<RequestSessionData>>();
    const app = new Koa();
    app.use(async (ctx) => {
      expectTypeOf(await ctx.session.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      // The augmentation in types.test-d.ts still types its key.
      expectTypeOf(await ctx.session.get('koaTypeTestVisits')).toEqualTypeOf<number | undefined>();
    });
  });
});
