import type { Session, SessionData } from '@kv-session/core';
import { type SessionEnv, session } from '@kv-session/hono';
import { Hono } from 'hono';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

interface Cart extends SessionData {
  userId: string;
  items: number[];
}

describe('c.get("session") typing', () => {
  it('is a Session everywhere through ContextVariableMap', () => {
    const app = new Hono();
    app.use(session());
    app.get('/', async (c) => {
      expectTypeOf(c.get('session')).toEqualTypeOf<Session<SessionData>>();
      expectTypeOf(c.var.session).toEqualTypeOf<Session<SessionData>>();
      return c.text('ok');
    });
  });

  it('is typed by SessionEnv<Data> on the app', () => {
    const app = new Hono<SessionEnv<Cart>>();
    app.use(session<Cart>());
    app.get('/', async (c) => {
      const s = c.get('session');
      expectTypeOf(s).toEqualTypeOf<Session<Cart>>();
      expectTypeOf(await s.get('userId')).toEqualTypeOf<string | undefined>();
      // @ts-expect-error: items holds numbers
      await s.set('items', ['a']);
      return c.text('ok');
    });
  });

  it('is typed by the middleware when chained with use()', () => {
    new Hono().use(session<Cart>()).get('/', async (c) => {
      expectTypeOf(c.get('session')).toEqualTypeOf<Session<Cart>>();
      return c.text('ok');
    });
  });
});

describe('the typing example of docs/hono.md', () => {
  it('accepts a type alias as session data', () => {
    type Data = { userId: string; cart: number[] };
    const app = new Hono<SessionEnv<Data>>();
    app.use(session<Data>());
    app.get('/', async (c) => {
      expectTypeOf(await c.get('session').get('cart')).toEqualTypeOf<number[] | undefined>();
      return c.text((await c.get('session').get('userId')) ?? 'anonymous');
    });
  });
});

describe('a schema option', () => {
  it('infers the data type of c.get("session") when chained with use()', () => {
    const schema = z.object({ userId: z.string(), visits: z.number().int() });
    new Hono().use(session({ schema })).get('/', async (c) => {
      expectTypeOf(c.get('session')).toEqualTypeOf<Session<{ userId: string; visits: number }>>();
      expectTypeOf(await c.get('session').get('visits')).toEqualTypeOf<number | undefined>();
      return c.text('ok');
    });
  });
});
