import type { Session } from '@kv-session/core';
import type { AppSessionData } from '@kv-session/fastify';
import type { CompatSession, FastifySessionObject } from '@kv-session/fastify/compat';
import type { FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';

// @fastify/session's way of typing data; the key is unique to this file (augmentations are global).
declare module 'fastify' {
  interface Session {
    fastifyCompatTypeTestUser?: string;
  }
}

describe('@kv-session/fastify/compat types (the repo program imports both entry points)', () => {
  it('request.session keeps the native type when both are imported and no KvSessionApis.use is declared', () => {
    expectTypeOf<FastifyRequest['session']>().toEqualTypeOf<Session<AppSessionData>>();
  });

  it("FastifySessionObject: the app's Session keys typed, promise and callback forms", () => {
    // Never called: only its types are checked.
    const check = (s: FastifySessionObject) => {
      expectTypeOf(s.get('fastifyCompatTypeTestUser')).toEqualTypeOf<string | undefined>();
      expectTypeOf(s.get('undeclared')).toEqualTypeOf<unknown>();
      expectTypeOf(s.save()).toEqualTypeOf<Promise<void>>();
      expectTypeOf(s.save(() => undefined)).toEqualTypeOf<void>();
      expectTypeOf(s.regenerate(['fastifyCompatTypeTestUser'])).toEqualTypeOf<Promise<void>>();
      // @ts-expect-error the declared key holds a string
      s.set('fastifyCompatTypeTestUser', 1);
      // @ts-expect-error sessionId is read-only
      s.sessionId = 'x';
    };
    expectTypeOf(check).toBeFunction();
    // The runtime class offers the same methods.
    expectTypeOf<CompatSession['save']>().toEqualTypeOf<FastifySessionObject['save']>();
  });
});
