import {
  type Session,
  type SessionData,
  type SessionError,
  SessionManager,
  type SessionOptions,
} from '@kv-session/core';
import type { Middleware } from 'koa';

/**
 * The shape of `ctx.session` data. Empty by default (any key, JSON values); augment it to type your
 * keys: `declare module '@kv-session/koa' { interface AppSessionData { userId: string } }`.
 */
export interface AppSessionData extends SessionData {}

declare module 'koa' {
  interface DefaultContext {
    /** The request's session, set by the `@kv-session/koa` middleware. */
    session: Session<AppSessionData>;
  }
}

/**
 * Koa's default error response removes the headers set so far and sends `err.headers` instead: put
 * the session's headers there too, so a session saved during a failing request keeps its cookie.
 */
function carryHeaders(error: unknown, setCookie: string | undefined, headers: Record<string, string>): void {
  if (!(error instanceof Error)) return;
  const target = error as Error & { headers?: Record<string, string | string[]> };
  const merged: Record<string, string | string[]> = { ...target.headers, ...headers };
  if (setCookie !== undefined) {
    const key = Object.keys(merged).find((k) => k.toLowerCase() === 'set-cookie') ?? 'set-cookie';
    merged[key] = [...[merged[key] ?? []].flat(), setCookie];
  }
  target.headers = merged;
}

/** The middleware returned by {@link session}, with its manager. */
export type SessionMiddleware<Data extends SessionData = AppSessionData> = Middleware & {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /** Closes the storage. */
  close(): Promise<void>;
};

/**
 * Koa (2 and 3) middleware giving `ctx.session`. Downstream middleware runs first; then the session
 * is saved and `Set-Cookie` / the id header are set, before Koa writes the response. A failed save
 * is thrown into Koa's error handling (`status` 503 when storage is unavailable). When downstream
 * throws, the session is still saved and the original error rethrown. `cookie.secure: 'auto'`
 * follows `ctx.secure` (set `app.proxy = true` behind a proxy).
 */
export function session<Data extends SessionData = AppSessionData>(
  options: SessionOptions = {},
): SessionMiddleware<Data> {
  const manager = new SessionManager<Data>(options);
  const headerName = manager.options.header;

  const middleware: Middleware = async (ctx, next) => {
    const s = manager.session({
      cookie: ctx.headers.cookie,
      header: headerName === undefined ? undefined : ctx.headers[headerName],
      secure: ctx.secure,
    });
    ctx.session = s as unknown as Session<AppSessionData>;
    let failed = false;
    let failure: unknown;
    try {
      await next();
    } catch (error) {
      failed = true;
      failure = error;
    }
    try {
      const { setCookie, headers } = await manager.commit(s);
      if (setCookie !== undefined) ctx.append('Set-Cookie', setCookie);
      ctx.set(headers);
      if (failed) carryHeaders(failure, setCookie, headers);
    } catch (error) {
      if (!failed) throw error;
      // The downstream error wins; the save failure is still reported.
      manager.options.onError(error as SessionError, { operation: 'commit' });
    }
    if (failed) throw failure;
  };

  return Object.assign(middleware, { manager, close: () => manager.close() });
}
