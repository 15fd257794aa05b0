import type {
  InferSessionData,
  RegisteredSessionData,
  Session,
  SessionManager,
  SessionSchema,
} from '@kv-session/core';
import { errorResponse, type FetchSessionOptions, FetchSessions } from '@kv-session/fetch';
import type { Context, MiddlewareHandler } from 'hono';

/** The context variable the middleware sets: `c.get('session')` / `c.var.session`. */
export interface SessionVariables<Data extends object = RegisteredSessionData> {
  session: Session<Data>;
}

/** A Hono `Env` carrying a typed session: `new Hono<SessionEnv<MyData>>()`. */
export interface SessionEnv<Data extends object = RegisteredSessionData> {
  Variables: SessionVariables<Data>;
}

declare module 'hono' {
  // Core's registered SessionTypes data (else any JSON) by default; `SessionEnv<MyData>` on the app
  // (or `app.use(session<MyData>())`) types it per app.
  interface ContextVariableMap extends SessionVariables {}
}

/** Options of {@link session}: every session option, plus `trustProxy` for `cookie.secure: 'auto'`. */
export type HonoSessionOptions<Data extends object = RegisteredSessionData> = FetchSessionOptions<Data>;

/** The middleware returned by {@link session}, with its manager. */
export type SessionMiddleware<Data extends object = RegisteredSessionData> = MiddlewareHandler<
  SessionEnv<Data>
> & {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /**
   * `c.get('session')` typed with this middleware's data type (the `schema`'s output when it has
   * one). Throws when the middleware has not run for `c`.
   */
  of(c: Context): Session<Data>;
  /** Closes the storage. */
  close(): Promise<void>;
};

/**
 * Hono middleware giving `c.get('session')`. After `await next()` it saves the session, then adds
 * `Set-Cookie` and the id header, so the save completes before the response leaves. When the save
 * fails it throws the `SessionError` into Hono's error path (`app.onError`; `err.status` is 503 when
 * storage is unavailable). When a handler failed, its writes are still saved and the cookie goes out
 * with the error response, like the other adapters; a save failure then is reported through
 * `onError` (the option) and the handler's error response stands.
 */
export function session<S extends SessionSchema>(
  options: HonoSessionOptions<InferSessionData<S>> & { schema: S },
): SessionMiddleware<InferSessionData<S>>;
/** Hono middleware giving `c.get('session')`; `Data` types the session. */
export function session<Data extends object = RegisteredSessionData>(
  options?: HonoSessionOptions<NoInfer<Data>>,
): SessionMiddleware<Data>;
export function session(options: HonoSessionOptions<object> = {}): SessionMiddleware<object> {
  const kv = new FetchSessions<object>(options);
  const middleware: MiddlewareHandler<SessionEnv<object>> = async (c, next) => {
    // Mounted twice (e.g. app-wide and on a route): keep the first session.
    if (c.get('session') !== undefined) return next();
    const s = kv.session(c.req.raw);
    c.set('session', s);
    await next();
    // Hono has already turned a handler's error into c.res (through onError) and set c.error:
    // that error response stands, and a failed save is then only reported.
    const result = c.error !== undefined ? await kv.manager.commitAfterError(s) : await kv.manager.commit(s);
    if (result === undefined) return;
    if (result.setCookie !== undefined) c.header('set-cookie', result.setCookie, { append: true });
    for (const [name, value] of Object.entries(result.headers)) c.header(name, value);
  };
  const of = (c: Context): Session<object> => {
    const session = c.get('session') as Session<object> | undefined;
    if (session === undefined) {
      throw new Error('kv-session: the session middleware has not run for this context');
    }
    return session;
  };
  return Object.assign(middleware, { manager: kv.manager, of, close: () => kv.close() });
}

export { errorResponse };
