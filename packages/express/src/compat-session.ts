import type { IncomingMessage } from 'node:http';
import type { SessionCookie } from './compat-cookie.js';

/** Node-style callback of the session methods. */
export type SessionCallback = (err?: unknown) => void;

/** What a session's methods ask of the request that owns it (the drop-in middleware's per-request state). */
export interface SessionHost {
  regenerate(session: CompatSession): Promise<void>;
  destroy(session: CompatSession): Promise<void>;
  reload(session: CompatSession): Promise<void>;
  save(session: CompatSession): Promise<void>;
  /** A callback given to a session method threw: the error goes to the app's error handling. */
  callbackThrew(error: unknown): void;
}

/**
 * Data an app keeps in its sessions. Augment it to type your properties, as with express-session's
 * `SessionData`: `declare module '@kv-session/express/compat' { interface CompatSessionData { user: string } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an augmentation point, empty by design
export interface CompatSessionData {}

/** `req.session` of the drop-in as the app sees it: express-session's methods and `cookie`, and its data. */
export type CompatSessionObject = CompatSession & Partial<CompatSessionData>;

declare global {
  namespace Express {
    interface KvSessionApis {
      /** `req.session` as `@kv-session/express/compat` sets it. */
      compat: CompatSessionObject;
    }
    interface Request {
      /** The session id (as express-session sets it; only the drop-in sets it). */
      sessionID: string;
    }
  }
}

/**
 * `req.session` of the express-session drop-in: a plain object whose own enumerable properties are
 * the session data (read, assign, `delete`, change nested objects in place), with `cookie`, and
 * express-session's methods on its prototype (not enumerable, so `JSON.stringify(req.session)` and
 * `Object.keys` see only data, as with express-session). At the end of the request the top-level
 * properties that changed are saved as a key-level change set.
 *
 * Each method takes an optional Node-style callback, called exactly once (with the storage error
 * when there is one), and returns a promise when called without one.
 */
export class CompatSession {
  /** The session id (also `req.sessionID`). */
  declare readonly id: string;
  /** The request this session belongs to. */
  declare readonly req: IncomingMessage;
  /** The session cookie's settings; `cookie.maxAge = ms` gives this session its own lifetime. */
  cookie: SessionCookie;
  /** Session data: any JSON-serializable value under any other key. */
  [key: string]: unknown;

  readonly #host: SessionHost;

  constructor(host: SessionHost, req: IncomingMessage, id: string, cookie: SessionCookie) {
    // Not enumerable, as in express-session: they are not session data.
    Object.defineProperty(this, 'id', { value: id });
    Object.defineProperty(this, 'req', { value: req });
    this.#host = host;
    this.cookie = cookie;
  }

  /**
   * Replaces the session with a new, empty one under a new id and deletes the old record (call it
   * on login: session fixation protection). `req.session` is the new object afterwards.
   */
  regenerate(): Promise<void>;
  regenerate(callback: SessionCallback): this;
  regenerate(callback?: SessionCallback): this | Promise<void> {
    return this.#settle(this.#host.regenerate(this), callback);
  }

  /** Deletes the session's record now and unsets `req.session`. */
  destroy(): Promise<void>;
  destroy(callback: SessionCallback): this;
  destroy(callback?: SessionCallback): this | Promise<void> {
    return this.#settle(this.#host.destroy(this), callback);
  }

  /**
   * Reads the session again from storage (`req.session` is the reloaded object afterwards). Fails
   * with `Error('failed to load session')` when it is not stored.
   */
  reload(): Promise<void>;
  reload(callback: SessionCallback): this;
  reload(callback?: SessionCallback): this | Promise<void> {
    return this.#settle(this.#host.reload(this), callback);
  }

  /** Saves the changes made so far now (the end of the request saves anything changed later). */
  save(): Promise<void>;
  save(callback: SessionCallback): this;
  save(callback?: SessionCallback): this | Promise<void> {
    return this.#settle(this.#host.save(this), callback);
  }

  /** Restarts the cookie's lifetime (`cookie.maxAge = cookie.originalMaxAge`); done on every request. */
  touch(): this {
    return this.resetMaxAge();
  }

  /** Same as {@link touch}. */
  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge;
    return this;
  }

  #settle(work: Promise<void>, callback: SessionCallback | undefined): this | Promise<void> {
    if (callback === undefined) {
      // Awaited by the caller, or not (express-session apps often call save() and move on): an
      // ignored failure must not crash the process; the unsaved changes fail the response instead.
      work.catch(() => undefined);
      return work;
    }
    work
      .then(
        () => callback(),
        (error: unknown) => callback(error),
      )
      .catch((error: unknown) => this.#host.callbackThrew(error));
    return this;
  }
}
