import type { CompatCookie, CompatCookieOptions } from './compat-cookie.js';

/** Node-style callback of the session methods. */
export type SessionCallback = (error?: unknown) => void;

declare module 'fastify' {
  /**
   * Your session data, as with @fastify/session (the same declaration keeps working):
   * `declare module 'fastify' { interface Session { userId: string } }` types `request.session.userId`,
   * `get('userId')` and `set('userId', value)`.
   */
  interface Session {}
  interface KvSessionApis {
    /** `request.session` as `@kv-session/fastify/compat` sets it. */
    compat: FastifySessionObject;
  }
}

/** The value type of `key` in the app's `Session` declaration, `unknown` for keys it does not declare. */
type ValueOf<K extends string> = K extends keyof import('fastify').Session
  ? import('fastify').Session[K]
  : unknown;

/**
 * `request.session` of `@kv-session/fastify/compat`, typed as @fastify/session types its
 * `FastifySessionObject`: the app's data (fastify's `Session` interface, or this one, both open to
 * declaration merging) plus @fastify/session's methods, each with its promise and callback form.
 * Keys the app did not declare read as `unknown`. `cookie` is left out of `Session` so that a
 * program that still loads @fastify/session's types (which declare `Session.cookie`) type-checks.
 */
export interface FastifySessionObject extends Omit<import('fastify').Session, 'cookie'> {
  [key: string]: unknown;
  /** The session id (unsigned). */
  readonly sessionId: string;
  /** The signed id, as the cookie carries it. */
  readonly encryptedSessionId: string;
  /** The session cookie's settings (`maxAge`, `expires`, `path`, ...). */
  cookie: CompatCookie;
  /** Reads a property. */
  get<K extends string>(key: K): ValueOf<K> | undefined;
  /** Sets a property (`undefined` removes it from storage). */
  set<K extends string>(key: K, value: ValueOf<K>): void;
  /** Whether a property differs from what was loaded or last saved. */
  isModified(): boolean;
  /** Whether `save()` (or `regenerate()`) stored this session during this request. */
  isSaved(): boolean;
  /** Extends the cookie's `expires` by its `originalMaxAge`. */
  touch(): void;
  /** Changes this session's cookie options (e.g. `{ maxAge }` for "remember me"). */
  options(options: CompatCookieOptions): void;
  /** Moves to a new id, keeping only the `keys` given (fixation protection). */
  regenerate(keys?: readonly string[]): Promise<void>;
  regenerate(callback: SessionCallback): void;
  regenerate(keys: readonly string[], callback: SessionCallback): void;
  /** Deletes the stored session; `request.session` becomes null and the cookie is expired. */
  destroy(): Promise<void>;
  destroy(callback: SessionCallback): void;
  /** Reads the session again from storage; unsaved changes are dropped. */
  reload(): Promise<void>;
  reload(callback: SessionCallback): void;
  /** Saves now (the response saves again if more changes follow). */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
}
