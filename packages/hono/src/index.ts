import type { Session, SessionData } from '@kv-session/core';
import { createFetchSessions, errorResponse, type FetchSessionOptions } from '@kv-session/fetch';
import type { MiddlewareHandler } from 'hono';

/** The context variable the middleware sets: `c.get('session')` / `c.var.session`. */
export interface SessionVariables<Data extends SessionData = SessionData> {
  session: Session<Data>;
}

/** A Hono `Env` carrying a typed session: `new Hono<SessionEnv<MyData>>()`. */
export interface SessionEnv<Data extends SessionData = SessionData> {
  Variables: SessionVariables<Data>;
}

declare module 'hono' {
  // Untyped data by default; `SessionEnv<MyData>` on the app (or `app.use(session<MyData>())`) types it.
  interface ContextVariableMap extends SessionVariables {}
}

/** Options of {@link session}: every session option, plus `trustProxy` for `cookie.secure: 'auto'`. */
export type HonoSessionOptions = FetchSessionOptions;

/** The middleware returned by {@link session}, with a way to close its storage. */
export type SessionMiddleware<Data extends SessionData = SessionData> = MiddlewareHandler<
  SessionEnv<Data>
> & {
  /** Closes the storage. */
  close(): Promise<void>;
};

/**
 * Hono middleware giving `c.get('session')`. After `await next()` it saves the session, then adds
 * `Set-Cookie` and the id header, so the save completes before the response leaves. When the save
 * fails it throws the `SessionError` into Hono's error path (`app.onError`; `err.status` is 503 when
 * storage is unavailable). When the handler failed (`c.error` is set), nothing is saved.
 */
export function session<Data extends SessionData = SessionData>(
  options: HonoSessionOptions = {},
): SessionMiddleware<Data> {
  const kv = createFetchSessions<Data>(options);
  const middleware: MiddlewareHandler<SessionEnv<Data>> = async (c, next) => {
    // Mounted twice (e.g. app-wide and on a route): keep the first session.
    if (c.get('session') !== undefined) return next();
    const s = kv.session(c.req.raw);
    c.set('session', s);
    await next();
    if (c.error !== undefined) return;
    const { setCookie, headers } = await kv.manager.commit(s);
    if (setCookie !== undefined) c.header('set-cookie', setCookie, { append: true });
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
  };
  return Object.assign(middleware, { close: () => kv.close() });
}

export { errorResponse };
