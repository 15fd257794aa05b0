import {
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  type SessionData,
  type SessionError,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

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

declare global {
  namespace Express {
    interface Request {
      /** The request's session, set by the `@kv-session/express` middleware. */
      session: Session<RequestSessionData>;
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
 * The arguments of a deferred `writeHead`, with a `Set-Cookie` in its headers object merged with the
 * one the save set: Node lets the object's value replace the header set before.
 */
function keepCookies(res: Response, args: unknown[]): unknown[] {
  const i = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[i];
  const ours = res.getHeader('set-cookie');
  if (ours === undefined || typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return args;
  }
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'set-cookie');
  if (key === undefined) return args;
  const theirs = (headers as Record<string, unknown>)[key];
  const merged = [...[theirs].flat(), ...[ours].flat()].map(String);
  const copy = [...args];
  copy[i] = { ...headers, [key]: merged };
  return copy;
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

    // The save runs before the headers leave, however they are written: the first `write`
    // (streamed bodies), `writeHead` (a redirect or an SSE route written by hand), `flushHeaders`,
    // or `end`. Those calls are deferred until the save has finished and the cookie is set (Node
    // writes headers synchronously, the save is async), then replayed in order; a write or end made
    // meanwhile queues behind them. `res.headersSent` stays false until then.
    const { write, end, writeHead, flushHeaders } = res;
    type Raw = (...a: unknown[]) => unknown;
    let state: 'idle' | 'saving' | 'saved' = 'idle';
    const queued: (() => void)[] = [];
    const restoreHeaderWrites = (): void => {
      res.write = write;
      res.writeHead = writeHead;
      res.flushHeaders = flushHeaders;
    };
    const restore = (): void => {
      restoreHeaderWrites();
      res.end = end;
    };
    const save = (): Promise<void> =>
      manager.commit(s).then(({ setCookie, headers }) => {
        if (res.headersSent) return; // a second save after streaming began: nothing more to send
        if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      });
    const fail = (error: SessionError): void => {
      // The app's error handler answers (or Express's, which aborts a response already started).
      queued.length = 0;
      restore();
      next(error);
    };
    const afterSave = (op: () => void): void => {
      if (state === 'saved') {
        op();
        return;
      }
      queued.push(op);
      if (state === 'saving') return;
      state = 'saving';
      save().then(() => {
        state = 'saved';
        restoreHeaderWrites();
        for (const queuedOp of queued.splice(0)) queuedOp();
      }, fail);
    };
    res.write = function (this: Response, ...args: unknown[]): boolean {
      afterSave(() => (write as Raw).apply(res, args));
      return true;
    } as Response['write'];
    res.writeHead = function (this: Response, ...args: unknown[]): Response {
      afterSave(() => (writeHead as Raw).apply(res, keepCookies(res, args)));
      return this;
    } as Response['writeHead'];
    res.flushHeaders = function (this: Response): void {
      afterSave(() => flushHeaders.call(res));
    };
    res.end = function (this: Response, ...args: unknown[]): Response {
      const streamed = state !== 'idle';
      res.end = function (this: Response) {
        return this; // a second end() while saving
      } as Response['end'];
      afterSave(() => {
        const finish = (): void => {
          restore();
          (end as Raw).apply(res, args);
        };
        // Streamed: changes made after the first write still need saving before the end.
        if (streamed) save().then(finish, fail);
        else finish();
      });
      return this;
    } as Response['end'];
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
