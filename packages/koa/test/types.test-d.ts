import type { JsonValue, Session, SessionManager } from '@kv-session/core';
import { type AppSessionData, type SessionMiddleware, session } from '@kv-session/koa';
import Koa, { type Middleware, type ParameterizedContext } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';

// Augmentation as a user would write it (a key no other test uses: augmentations are global).
declare module '@kv-session/koa' {
  interface AppSessionData {
    koaTypeTestVisits?: number;
  }
}

type Cart = { items: string[]; total: number };

describe('@kv-session/koa types', () => {
  it('types ctx.session without casts', () => {
    const app = new Koa();
    app.use(session());
    app.use(async (ctx) => {
      expectTypeOf(ctx.session).toEqualTypeOf<Session<AppSessionData>>();
      expectTypeOf(await ctx.session.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      expectTypeOf(await ctx.session.get('koaTypeTestVisits')).toEqualTypeOf<number | undefined>();
      // @ts-expect-error the augmented key holds a number
      await ctx.session.set('koaTypeTestVisits', true);
      // @ts-expect-error functions are not JSON
      await ctx.session.set('anything', () => 1);
      // @ts-expect-error a JsonValue is not a string without narrowing
      const name: string = await ctx.session.get('name');
      ctx.body = name;
    });
    expectTypeOf<ParameterizedContext['session']>().toEqualTypeOf<Session<AppSessionData>>();
  });

  it('session() is a Middleware with a typed manager', () => {
    const mw = session<Cart>();
    expectTypeOf(mw).toExtend<Middleware>();
    expectTypeOf(mw).toEqualTypeOf<SessionMiddleware<Cart>>();
    expectTypeOf(mw.manager).toEqualTypeOf<SessionManager<Cart>>();
    const s = mw.manager.sessionById('x');
    expectTypeOf(s.get('items')).resolves.toEqualTypeOf<string[] | undefined>();
    // @ts-expect-error total is a number
    void s.set('total', 'ten');
  });
});
