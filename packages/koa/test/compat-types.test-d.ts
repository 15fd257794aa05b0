import type { Session } from '@kv-session/core';
import type { AppSessionData } from '@kv-session/koa';
import type { KoaCompatSession, KoaSessionObject } from '@kv-session/koa/compat';
import type { ParameterizedContext } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';

// The key is unique to this file (augmentations are global).
declare module '@kv-session/koa/compat' {
  interface CompatSessionData {
    koaCompatTypeTestViews: number;
  }
}

describe('@kv-session/koa/compat types (the repo program imports both entry points)', () => {
  it('ctx.session keeps the native type when both are imported and no KvSessionApis.use is declared', () => {
    expectTypeOf<ParameterizedContext['session']>().toEqualTypeOf<Session<AppSessionData>>();
  });

  it('KoaSessionObject: declared data optional and typed, promise and callback forms', () => {
    // Never called: only its types are checked.
    const check = (s: KoaSessionObject) => {
      expectTypeOf(s.koaCompatTypeTestViews).toEqualTypeOf<number | undefined>();
      expectTypeOf(s.undeclared).toEqualTypeOf<unknown>();
      expectTypeOf(s.save()).toEqualTypeOf<Promise<void>>();
      expectTypeOf(s.save(() => undefined)).toEqualTypeOf<void>();
      // @ts-expect-error the declared key holds a number
      s.koaCompatTypeTestViews = 'many';
      // @ts-expect-error populated is read-only
      s.populated = true;
    };
    expectTypeOf(check).toBeFunction();
    expectTypeOf<KoaCompatSession['regenerate']>().toEqualTypeOf<KoaSessionObject['regenerate']>();
  });
});
