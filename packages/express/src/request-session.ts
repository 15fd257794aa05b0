import type { RequestSessionApi } from '@kv-session/core';

declare global {
  namespace Express {
    /**
     * What `req.session` is: `@kv-session/express` adds `native` (kv-session's async `Session`),
     * `@kv-session/express/compat` adds `compat` (express-session's object). A program that imports
     * both gets the native type unless it declares which one it uses:
     * `declare global { namespace Express { interface KvSessionApis { use: 'compat' } } }`.
     */
    interface KvSessionApis {}
    interface Request {
      /** The request's session: see {@link KvSessionApis} for which object it is. */
      session: RequestSessionApi<KvSessionApis>;
    }
  }
}

/** The type of `req.session` in this program (see `Express.KvSessionApis`). */
export type ExpressRequestSession = RequestSessionApi<Express.KvSessionApis>;
