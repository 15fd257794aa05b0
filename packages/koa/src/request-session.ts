import type { RequestSessionApi } from '@kv-session/core';

declare module 'koa' {
  /**
   * What `ctx.session` is: `@kv-session/koa` adds `native` (kv-session's async `Session`),
   * `@kv-session/koa/compat` adds `compat` (koa-session's object). A program that imports both gets
   * the native type unless it declares which one it uses:
   * `declare module 'koa' { interface KvSessionApis { use: 'compat' } }`.
   */
  interface KvSessionApis {}
  /** What `ctx.session = value` accepts, under the same keys as {@link KvSessionApis}. */
  interface KvSessionAssignable {}
  interface DefaultContext {
    /** The request's session: see {@link KvSessionApis} for which object it is. */
    get session(): RequestSessionApi<KvSessionApis>;
    set session(value: RequestSessionApi<
      KvSessionAssignable & Pick<KvSessionApis, Extract<'use', keyof KvSessionApis>>
    >);
  }
}

/** The type of `ctx.session` in this program (see `KvSessionApis` in `koa`). */
export type KoaContextSession = RequestSessionApi<import('koa').KvSessionApis>;
