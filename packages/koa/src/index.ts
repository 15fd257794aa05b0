import {
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  type SessionData,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import type { Middleware } from 'koa';

/**
 * The shape of `ctx.session` data. Empty by default (any key, JSON values); augment it to type your
 * keys: `declare module '@kv-session/koa' { interface AppSessionData { userId: string } }`.
 */
export interface AppSessionData extends SessionData {}

/**
 * The data type of `ctx.session`: core's registered `SessionTypes['data']` when the app declared one
 * (unknown keys are then type errors), else {@link AppSessionData}.
 */
export type RequestSessionData = RegisteredSessionData<AppSessionData>;

export type { KoaContextSession } from './request-session.js';

declare module 'koa' {
  interface KvSessionApis {
    /** `ctx.session` as the `@kv-session/koa` middleware sets it (see docs/koa.md on /compat). */
    native: Session<RequestSessionData>;
  }
  interface KvSessionAssignable {
    native: Session<RequestSessionData>;
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

/** The manager of the middleware that runs for a context. */
const MANAGER = Symbol.for('kv-session.koa.manager');
/** The context's session, once the handler touched `ctx.session`. */
const SESSION = Symbol.for('kv-session.koa.session');

interface LazyContext {
  [MANAGER]: SessionManager<object> | undefined;
  [SESSION]: Session<object> | undefined;
  headers: Record<string, string | string[] | undefined>;
  secure: boolean;
}

/**
 * Set (true) on a context prototype (`app.context`) that has the `session` accessor: a property
 * read through the prototype, which V8 caches per call site, where a `WeakSet` lookup per request
 * hashed the prototype every time.
 */
const EXTENDED = Symbol('kv-session.koa.extended');

/**
 * Puts the `ctx.session` accessor on the context's prototype (`app.context`), once per app: the
 * session is made on the first read, from the request's headers, by the manager the middleware
 * left on `ctx`. A per-request `Object.defineProperty` on `ctx` would cost about half of a trivial
 * route's throughput; an accessor on the prototype costs nothing until it is used.
 */
function lazyContext(ctx: object): void {
  if ((ctx as { [EXTENDED]?: true })[EXTENDED] === true) return;
  const proto = Object.getPrototypeOf(ctx) as object | null;
  if (proto === null || Object.hasOwn(proto, EXTENDED)) return;
  Object.defineProperties(proto, {
    [EXTENDED]: { value: true },
    [MANAGER]: { value: undefined, writable: true },
    [SESSION]: { value: undefined, writable: true },
    session: {
      get(this: LazyContext): Session<object> | undefined {
        let s = this[SESSION];
        if (s === undefined) {
          const manager = this[MANAGER];
          if (manager === undefined) return undefined; // the middleware has not run for this context
          s = manager.sessionFromHeaders(this.headers, { secure: this.secure });
          this[SESSION] = s;
        }
        return s;
      },
      // An app may still assign ctx.session (as before); the session the getter made is the one saved.
      set(this: object, value: unknown) {
        Object.defineProperty(this, 'session', {
          value,
          writable: true,
          configurable: true,
          enumerable: true,
        });
      },
      configurable: true,
    },
  });
}

/** The middleware returned by {@link session}, with its manager. */
export type SessionMiddleware<Data extends object = RequestSessionData> = Middleware & {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /**
   * `ctx.session` typed with this middleware's data type (the `schema`'s output when it has one).
   * Throws when the middleware has not run for `ctx`.
   */
  of(ctx: { session: unknown }): Session<Data>;
  /** Closes the storage. */
  close(): Promise<void>;
};

/**
 * Koa (2 and 3) middleware giving `ctx.session`. The session is made on the first read of
 * `ctx.session` (cookie parsing and signature check included): a route that never touches it costs
 * nothing and its response is not held. Downstream middleware runs first; then a touched session
 * is saved and `Set-Cookie` / the id header are set, before Koa writes the response. A failed save
 * is thrown into Koa's error handling (`status` 503 when storage is unavailable). When downstream
 * throws, the session is still saved and the original error rethrown. `cookie.secure: 'auto'`
 * follows `ctx.secure` (set `app.proxy = true` behind a proxy). With a `schema` option the data type
 * is inferred from it: `mw.of(ctx)` is the typed session.
 */
export function session<S extends SessionSchema>(
  options: SessionOptions<InferSessionData<S>> & { schema: S },
): SessionMiddleware<InferSessionData<S>>;
/** Koa middleware giving `ctx.session`; `Data` types `mw.of(ctx)` and `mw.manager`. */
export function session<Data extends object = RequestSessionData>(
  options?: SessionOptions<NoInfer<Data>>,
): SessionMiddleware<Data>;
export function session(options: SessionOptions<object> = {}): SessionMiddleware<object> {
  const manager = new SessionManager<object>(options);

  const middleware: Middleware = async (ctx, next) => {
    const lazy = ctx as unknown as LazyContext;
    // Nothing is read, verified or built here: the getter on the context prototype does that on
    // the first `ctx.session` (see lazyContext), so a route that never touches it costs two writes.
    lazyContext(ctx);
    // Mounted twice (e.g. in a composed router and the app): the first one owns ctx.session.
    if (lazy[MANAGER] !== undefined) return next();
    lazy[MANAGER] = manager;
    let failed = false;
    let failure: unknown;
    try {
      await next();
    } catch (error) {
      failed = true;
      failure = error;
    }
    const s = lazy[SESSION];
    // Untouched: nothing to save and no header to send (a commit of an unloaded session is a no-op).
    if (s === undefined) {
      if (failed) throw failure;
      return;
    }
    // The downstream error wins over a failed save, which is then only reported.
    // A session with nothing to store commits synchronously: no promise to wait for.
    let result = failed ? await manager.commitAfterError(s) : manager.commitNow(s);
    if (result instanceof Promise) result = await result;
    if (result !== undefined) {
      const { setCookie, headers } = result;
      if (setCookie !== undefined) ctx.append('Set-Cookie', setCookie);
      ctx.set(headers);
      if (failed) carryHeaders(failure, setCookie, headers);
    }
    if (failed) throw failure;
  };

  // `unknown`: in a program that also imports /compat and chose its type, ctx.session is not ours.
  const of = (ctx: { session: unknown }): Session<object> => {
    if (ctx.session === undefined) {
      throw new Error('kv-session: the session middleware has not run for this context');
    }
    return ctx.session as unknown as Session<object>;
  };
  return Object.assign(middleware, { manager, of, close: () => manager.close() });
}
