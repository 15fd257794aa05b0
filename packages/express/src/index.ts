import { IncomingMessage } from 'node:http';
import {
  type CommitResult,
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  type SessionData,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { dispatchHolds, holdUntilSaved, prototypeAbove } from './hold-response.js';

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
 * What the middleware leaves on a request for the `req.session` getter. `res` and `next` only
 * where Express did not set `req.res` and `req.next` to them (it always does): the getter takes
 * them from the request, `req.next` as it is at the first touch (the `next` of the router whose
 * route touched the session, so a failed save goes through that router's error handlers first,
 * then the app's). A state that pointed to them kept every finished request's whole object
 * graph (response, socket, router) alive through the next young-generation GC, since V8's
 * scavenger keeps the values of `WeakMap` entries whose keys just died for that collection: the
 * surviving copies were then promoted and cost full GCs. Measured with `--trace-gc` in the Express
 * bench servers (`/ping`): 25.5 ms of scavenges per 1000 requests with them, 14.7 without.
 */
interface LazyState {
  readonly manager: SessionManager<object>;
  readonly res: Response | undefined;
  readonly next: NextFunction | undefined;
  session: Session<object> | undefined;
}

/** What Express sets on each request: the response and the router's `next`. */
interface ExpressLinks {
  res?: Response;
  next?: NextFunction;
}

/**
 * Each request's state, from the middleware to the `req.session` getter. A `WeakMap`, not a
 * property of the request: Express sets every request's prototype per request, and a property
 * added to such a request made V8 build a new map (hidden class) for it every time, which
 * `bench/icount.js` counted at about 15 k instructions of a `/ping` that never reads the session
 * (express-kv /ping 613-621 k -> 601-603 k; bare Express 570-577 k). Registered under a global
 * symbol: two copies of this module in one process (two versions installed) share it, as the
 * getter one of them put on Express's request prototype serves the middleware of both.
 */
const STATES = Symbol.for('kv-session.express.states');
const registry = globalThis as { [STATES]?: WeakMap<object, LazyState> };
registry[STATES] ??= new WeakMap<object, LazyState>();
const states = registry[STATES];

interface LazyRequest extends ExpressLinks {
  headers: Request['headers'];
  secure: boolean;
}

/** The session of a request, made (and its save hooked into the response) on first use. */
function sessionOf(req: LazyRequest, state: LazyState): Session<object> {
  const manager = state.manager;
  const res = (state.res ?? req.res) as Response;
  const next = (state.next ?? req.next) as NextFunction;
  const s = manager.sessionFromHeaders(req.headers, { secure: req.secure });
  state.session = s;
  // The save runs before the first byte leaves (see holdUntilSaved); a failed save goes to the
  // app's error handler (or Express's, which aborts a response already started). Touched after
  // the headers left (a streamed response): still saved before the end, without a cookie.
  // A session with nothing to store commits synchronously (commitNow): the response is not delayed.
  holdUntilSaved(
    res,
    () => {
      const result = manager.commitNow(s);
      if (result instanceof Promise) return result.then((done) => sendCommit(res, done));
      sendCommit(res, result);
    },
    next,
  );
  return s;
}

/** Adds a commit's headers to the response, unless a streamed one sent its headers already. */
function sendCommit(res: Response, { setCookie, headers }: CommitResult): void {
  if (res.headersSent) return; // a second save after streaming began: nothing more to send
  if (setCookie !== undefined) res.append('Set-Cookie', setCookie);
  for (const name in headers) res.setHeader(name, headers[name] as string);
}

const accessor: PropertyDescriptor = {
  get(this: LazyRequest): Session<object> | undefined {
    const state = states.get(this);
    if (state === undefined) return undefined; // no kv-session middleware ran for this request
    return state.session ?? sessionOf(this, state);
  },
  // Another library (or the app) may assign req.session, as before; it then shadows the getter.
  set(this: object, value: unknown) {
    Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
  },
  configurable: true,
};

/** Express's shared request prototypes that have the `session` accessor. */
const extended = new WeakSet<object>();

/**
 * Set (true) on an app's request prototype (`app.request`) once {@link lazyRequest} extended it: a
 * property read through the prototype chain, which V8 caches per call site, where a `WeakSet` lookup
 * per request hashed the prototype every time.
 */
const EXTENDED = Symbol('kv-session.express.extended');

/**
 * Gives `req` the lazy `req.session` accessor. Express sets each request's prototype to its app's
 * `app.request`, whose own prototype is Express's `request` object, shared by every app (and
 * mounted sub-app) of that copy of Express: the accessor goes there, once, so a route that never
 * reads `req.session` pays for nothing but one field. A per-request `Object.defineProperty`
 * would cost a good part of a trivial route's throughput. Returns false when `req` is not an
 * Express request (a bare `node:http` one): the caller then does the work eagerly.
 */
function lazyRequest(req: Request, res: Response): boolean {
  if ((req as unknown as { [EXTENDED]?: true })[EXTENDED] === true) return true;
  const reqProto = prototypeAbove(req, IncomingMessage.prototype);
  // The response's held methods dispatch from Express's response prototype (see holdUntilSaved), so
  // that `res.end(await req.session.data())`, which reads `res.end` before the first
  // `req.session` installs the hold, still waits for the save.
  if (reqProto === undefined || !dispatchHolds(res)) return false;
  if (!extended.has(reqProto)) {
    Object.defineProperty(reqProto, 'session', accessor);
    extended.add(reqProto);
  }
  Object.defineProperty(Object.getPrototypeOf(req) as object, EXTENDED, { value: true });
  return true;
}

/**
 * Express (4 and 5) middleware giving `req.session`. The session is made on the first read of
 * `req.session` (cookie parsing and signature check included): a route that never touches it costs
 * nothing and its response is not held. A touched session is saved before the response is
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
    const lazy = req as unknown as LazyRequest;
    // Mounted twice (e.g. on a router and the app), or another library set req.session: keep it.
    if (states.has(req) || Object.hasOwn(req, 'session')) {
      next();
      return;
    }
    // Nothing is read, verified or built here, and the response is not held: the `req.session`
    // getter does all of that on first use (see lazyRequest).
    const links = req as ExpressLinks;
    const state: LazyState = {
      manager,
      res: links.res === res ? undefined : res,
      next: links.next === next ? undefined : next,
      session: undefined,
    };
    states.set(req, state);
    if (!lazyRequest(req, res)) {
      // Not an Express request (a bare node:http one): made and hooked now, as an own property.
      const s = sessionOf(lazy, state);
      Object.defineProperty(req, 'session', {
        value: s,
        writable: true,
        configurable: true,
        enumerable: true,
      });
    }
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
