import {
  type Session,
  type SessionData,
  type SessionError,
  SessionManager,
  type SessionOptions,
} from '@kv-session/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The shape of `req.session` data. Empty by default (any key, JSON values); augment it to type your
 * keys: `declare module '@kv-session/express' { interface AppSessionData { userId: string } }`.
 */
export interface AppSessionData extends SessionData {}

declare global {
  namespace Express {
    interface Request {
      /** The request's session, set by the `@kv-session/express` middleware. */
      session: Session<AppSessionData>;
    }
  }
}

/** The middleware returned by {@link session}, with its manager. */
export interface SessionMiddleware<Data extends SessionData = AppSessionData> extends RequestHandler {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /** Closes the storage. */
  close(): Promise<void>;
}

/**
 * Express (4 and 5) middleware giving `req.session`. The session is saved before the response is
 * delivered: `res.end` waits for the save, then `Set-Cookie` and the id header are added. When the
 * save fails, the request goes to `next(err)` with a `SessionError` (`status` 503 when storage is
 * unavailable). `cookie.secure: 'auto'` follows `req.secure` (enable `trust proxy` behind a proxy).
 */
export function session<Data extends SessionData = AppSessionData>(
  options: SessionOptions = {},
): SessionMiddleware<Data> {
  const manager = new SessionManager<Data>(options);
  const headerName = manager.options.header;

  function middleware(req: Request, res: Response, next: NextFunction): void {
    // Mounted twice (e.g. on a router and the app): keep the first session.
    if (req.session !== undefined) {
      next();
      return;
    }
    const s = manager.session({
      cookie: req.headers.cookie,
      header: headerName === undefined ? undefined : req.headers[headerName],
      secure: req.secure,
    });
    req.session = s as unknown as Session<AppSessionData>;

    const end = res.end;
    let ending = false;
    res.end = function (this: Response, ...args: unknown[]): Response {
      if (ending) return this;
      ending = true;
      manager.commit(s).then(
        ({ setCookie, headers }) => {
          if (!res.headersSent) {
            if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
            for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
          }
          res.end = end;
          (end as (...a: unknown[]) => Response).apply(res, args);
        },
        (error: SessionError) => {
          // The app's error handler answers (or Express's, which aborts a response already started).
          res.end = end;
          next(error);
        },
      );
      return this;
    } as Response['end'];
    next();
  }

  return Object.assign(middleware, {
    manager,
    close: () => manager.close(),
  });
}
