// An app that moved from koa-session to the drop-in and imports only it: ctx.session is typed
// without casts. Type-checked in its own program by test/compat-types.test.ts; every expected
// error below must be one.
import session, { type KoaSessionObject } from '@kv-session/koa/compat';
import Koa, { type ParameterizedContext } from 'koa';

declare module '@kv-session/koa/compat' {
  interface CompatSessionData {
    views: number;
    user: { id: string };
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const app = new Koa();
app.keys = ['k'.repeat(32)];
app.use(session({ key: 'koa.sess', maxAge: 86_400_000 }, app));
app.use(async (ctx) => {
  const same: Equal<ParameterizedContext['session'], KoaSessionObject> = true;
  ctx.session.views = (ctx.session.views ?? 0) + 1;
  // @ts-expect-error views holds a number
  ctx.session.views = 'many';
  // @ts-expect-error user holds an object with an id
  ctx.session.user = { name: 'x' };
  const other: unknown = ctx.session.cart;
  // @ts-expect-error unknown is not a string
  const name: string = ctx.session.cart;
  const flags: boolean[] = [ctx.session.isNew, ctx.session.populated];
  ctx.session.maxAge = 'session';
  ctx.sessionOptions.maxAge = 60_000;
  // @ts-expect-error a lifetime is milliseconds or 'session'
  ctx.session.maxAge = '1h';
  await ctx.session.save();
  ctx.session.regenerate((error) => void error);
  await ctx.session.manuallyCommit();
  ctx.session = { views: 1 };
  ctx.session = null;
  // @ts-expect-error a session is an object or null
  ctx.session = 'gone';
  // @ts-expect-error the native API (setMany) is not on the compat object
  await ctx.session.setMany({ a: 1 });
  ctx.body = { same, other, name, flags };
});

export { app };
