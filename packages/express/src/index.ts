import {
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  type SessionData,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { holdUntilSaved } from './hold-response.js';

/**
 * The shape of `req.session` data. Empty by default (any key, JSON values); augment it to type your
 * keys: `declare module '@kv-session/express' { interface AppSessionData { userId: string } }`.
 * For exact types (unknown keys rejected, non-JSON outputs of a schema) register core's
 * `SessionTypes` instead (docs/typed-sessions.md).
 */
export interface AppSessionData extends SessionData {}

/**
 * The data type of `req.session`: core's registered `SessionTypes['data']` when the app declared one
 * (unknown keys are then type errors), else {@link AppSessionData}.
 */
export type RequestSessionData = RegisteredSessionData<AppSessionData>;

export type { ExpressRequestSession } from './request-session.js';

declare global {
  namespace Express {
    interface KvSessionApis {
      /** `req.session` as the `@kv-session/express` middleware sets it (see docs/express.md on /compat). */
      native: Session<RequestSessionData>;
    }
  }
}

/** The middleware returned by {@link session}, with its manager. */
export interface SessionMiddleware<Data extends object = RequestSessionData> extends RequestHandler {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /**
   * `req.session` typed with this middleware's data type (the `schema`'s output when it has one).
   * Throws when the middleware has not run for `req`.
   */
  of(req: Request): Session<Data>;
  /** Closes the storage. */
  close(): Promise<void>;
}

/**
 * Express (4 and 5) middleware giving `req.session`. The session is saved before the response is
 * delivered: `res.end`, `res.write`, `res.writeHead` and `res.flushHeaders` wait for the save, then
 * `Set-Cookie` and the id header are added before the headers are written. When the
 * save fails, the request goes to `next(err)` with a `SessionError` (`status` 503 when storage is
 * unavailable). `cookie.secure: 'auto'` follows `req.secure` (enable `trust proxy` behind a proxy).
 * With a `schema` option the data type is inferred from it: `mw.of(req)` is the typed session.
 */
export function session<S extends SessionSchema>(
  options: SessionOptions<InferSessionData<S>> & { schema: S },
): SessionMiddleware<InferSessionData<S>>;
/** Express middleware giving `req.session`; `Data` types `mw.of(req)` and `mw.manager`. */
export function session<Data extends object = RequestSessionData>(
  options?: SessionOptions<NoInfer<Data>>,
): SessionMiddleware<Data>;
export function session(options: SessionOptions<object> = {}): SessionMiddleware<object> {
  const manager = new SessionManager<object>(options);

  function middleware(req: Request, res: Response, next: NextFunction): void {
    // Mounted twice (e.g. on a router and the app): keep the first session.
    if (req.session !== undefined) {
      next();
      return;
    }
    const s = manager.sessionFromHeaders(req.headers, { secure: req.secure });
    req.session = s as unknown as Session<RequestSessionData>;

    // The save runs before the first byte leaves (see holdUntilSaved); a failed save goes to the
    // app's error handler (or Express's, which aborts a response already started).
    holdUntilSaved(
      res,
      () =>
        manager.commit(s).then(({ setCookie, headers }) => {
          if (res.headersSent) return; // a second save after streaming began: nothing more to send
          if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
          for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        }),
      next,
    );
    next();
  }

  return Object.assign(middleware, {
    manager,
    of: (req: Request): Session<object> => {
      if (req.session === undefined) {
        throw new Error('kv-session: the session middleware has not run for this request');
      }
      return req.session as unknown as Session<object>;
    },
    close: () => manager.close(),
  });
}
