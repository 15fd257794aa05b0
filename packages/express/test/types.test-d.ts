import type { JsonValue, Session, SessionManager } from '@kv-session/core';
import { type AppSessionData, type SessionMiddleware, session } from '@kv-session/express';
import express, { type Request, type RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';

// Augmentation as a user would write it (a key no other test uses: augmentations are global).
declare module '@kv-session/express' {
  interface AppSessionData {
    expressTypeTestVisits?: number;
  }
}

type Cart = { items: string[]; total: number };

describe('@kv-session/express types', () => {
  it('types req.session without casts', () => {
    const app = express();
    app.use(session());
    app.get('/', async (req, res) => {
      expectTypeOf(req.session).toEqualTypeOf<Session<AppSessionData>>();
      expectTypeOf(await req.session.get('anything')).toEqualTypeOf<JsonValue | undefined>();
      expectTypeOf(await req.session.get('expressTypeTestVisits')).toEqualTypeOf<number | undefined>();
      expectTypeOf(req.session.id).toBeString();
      await req.session.set('anything', { nested: [1, 'two', null] });
      // @ts-expect-error functions are not JSON
      await req.session.set('anything', () => 1);
      // @ts-expect-error the augmented key holds a number
      await req.session.set('expressTypeTestVisits', 'many');
      // @ts-expect-error a JsonValue is not a string without narrowing
      const name: string = await req.session.get('name');
      res.send(name);
    });
  });

  it('session() is a RequestHandler with a typed manager', () => {
    const mw = session<Cart>({ cookie: { name: 'cart' } });
    expectTypeOf(mw).toExtend<RequestHandler>();
    expectTypeOf(mw).toEqualTypeOf<SessionMiddleware<Cart>>();
    expectTypeOf(mw.manager).toEqualTypeOf<SessionManager<Cart>>();
    expectTypeOf(mw.close).returns.resolves.toBeVoid();
    const s = mw.manager.sessionById('x');
    expectTypeOf(s.get('total')).resolves.toEqualTypeOf<number | undefined>();
    expectTypeOf(s.get('items')).resolves.toEqualTypeOf<string[] | undefined>();
    // @ts-expect-error total is a number
    void s.set('total', 'ten');
    // @ts-expect-error unknown key of a typed session
    void s.get('discount');
    // Never called: zod would reject it at run time too.
    const bad = () =>
      // @ts-expect-error options are checked
      session({ maxAge: '1h' });
    expectTypeOf(bad).toBeFunction();
  });

  it('the Request type itself carries session', () => {
    expectTypeOf<Request['session']>().toEqualTypeOf<Session<AppSessionData>>();
  });
});
