import type { RequestSessionApi } from '@kv-session/core';

declare module 'fastify' {
  /**
   * What `request.session` is: `@kv-session/fastify` adds `native` (kv-session's async `Session`),
   * `@kv-session/fastify/compat` adds `compat` (@fastify/session's object). A program that imports
   * both gets the native type unless it declares which one it uses:
   * `declare module 'fastify' { interface KvSessionApis { use: 'compat' } }`.
   */
  interface KvSessionApis {}
  interface FastifyRequest {
    /** The request's session: see {@link KvSessionApis} for which object it is. */
    session: RequestSessionApi<KvSessionApis>;
  }
}

/** The type of `request.session` in this program (see `KvSessionApis` in `fastify`). */
export type FastifyRequestSession = RequestSessionApi<import('fastify').KvSessionApis>;
