// A program that imports both @kv-session/koa and its /compat (a migration under way): the native
// type applies unless the app declares which one it uses, as this one does.
// Type-checked in its own program by test/compat-types.test.ts.
import { session } from '@kv-session/koa';
import compatSession, { type KoaSessionObject } from '@kv-session/koa/compat';
import Koa, { type ParameterizedContext } from 'koa';

declare module 'koa' {
  interface KvSessionApis {
    use: 'compat';
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const legacy = new Koa();
legacy.keys = ['k'.repeat(32)];
legacy.use(compatSession({}, legacy));
legacy.use(async (ctx) => {
  const same: Equal<ParameterizedContext['session'], KoaSessionObject> = true;
  ctx.session.visits = 1;
  ctx.session = null;
  // @ts-expect-error get() of the native API is not on the compat object
  await ctx.session.get('visits');
  ctx.body = same;
});

// The native middleware on another app of the same program: its session is reached through mw.of(ctx).
const mw = session();
const modern = new Koa();
modern.use(mw);
modern.use(async (ctx) => {
  await mw.of(ctx).set('visits', 1);
  ctx.body = 'ok';
});

export { legacy, modern };
