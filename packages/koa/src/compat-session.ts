import { inspect } from 'node:util';
import { callbackOrPromise, jsonSnapshot, type Session, type SessionData } from '@kv-session/core';
import type { SessionCallback } from './compat-types.js';

/** The core session behind a compat session. */
export type CoreSession = Session<SessionData>;

/** What koa-session keeps next to the data in the stored JSON (never shown as session properties). */
export const EXPIRE_KEY = '_expire';
export const MAX_AGE_KEY = '_maxAge';
export const SESSION_KEY = '_session';

/** A session's lifetime: milliseconds, or `'session'` (a browser-session cookie). */
export type MaxAge = number | 'session';

/** What a compat session needs from the middleware that made it. */
export interface SessionOwner {
  /** Commits now: `save` forces a save, `regenerate` moves the session to a new external key. */
  commit(options: { save?: boolean; regenerate?: boolean }): Promise<void>;
  /** This request's lifetime (`ctx.sessionOptions.maxAge`). */
  maxAge: MaxAge;
  /** The cookie / store key, `prefix + id`. */
  readonly externalKey: string | undefined;
}

interface Internals {
  owner: SessionOwner;
  /** Set by `maxAge =`: the next commit saves even if nothing else changed. */
  requireSave: boolean;
}

/** A session's internals (a private field: a WeakMap entry per request cost more, also in the GC). */
let inside: (s: KoaCompatSession) => Internals;

/**
 * `ctx.session` of `@kv-session/koa/compat`: koa-session's session object. Data are its own
 * enumerable properties; keys starting with `_` and function values are not stored (as in
 * koa-session).
 */
export class KoaCompatSession {
  [key: string]: unknown;
  /** True when the request brought no stored session. */
  declare isNew: boolean;
  readonly #i: Internals;

  static {
    inside = (s) => {
      if (!(#i in s)) throw new TypeError('not a session of @kv-session/koa/compat');
      return s.#i;
    };
  }

  /** @internal Made by the middleware. */
  constructor(owner: SessionOwner, data: Record<string, unknown> | undefined) {
    this.#i = { owner, requireSave: false };
    Object.defineProperty(this, 'isNew', { value: data === undefined, enumerable: false, writable: true });
    for (const key of Object.keys(data ?? {})) {
      if (key.startsWith('_')) continue;
      this[key] = data![key];
    }
  }

  /** The data as stored: own properties, without `_` keys and functions. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this)) {
      if (key.startsWith('_')) continue;
      const value = this[key];
      if (typeof value === 'function') continue;
      out[key] = value;
    }
    return out;
  }

  [inspect.custom](): Record<string, unknown> {
    return this.toJSON();
  }

  /** How many keys the session holds. */
  get length(): number {
    return Object.keys(this.toJSON()).length;
  }

  /** Whether the session holds anything. */
  get populated(): boolean {
    return this.length > 0;
  }

  /** This session's lifetime in milliseconds, or `'session'`. */
  get maxAge(): MaxAge {
    return inside(this).owner.maxAge;
  }

  /** Changes this session's lifetime (e.g. "remember me"); the session is saved with it. */
  set maxAge(value: MaxAge) {
    const i = inside(this);
    i.owner.maxAge = value;
    i.requireSave = true;
  }

  /** The key of the session in the cookie (`prefix + id`). */
  get externalKey(): string | undefined {
    return inside(this).owner.externalKey;
  }

  /** Saves now, whether or not anything changed. */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
  save(callback?: SessionCallback): Promise<void> | undefined {
    return callbackOrPromise(inside(this).owner.commit({ save: true }), callback);
  }

  /** Moves the session, with its data, to a new key now and deletes the old record. */
  regenerate(): Promise<void>;
  regenerate(callback: SessionCallback): void;
  regenerate(callback?: SessionCallback): Promise<void> | undefined {
    return callbackOrPromise(inside(this).owner.commit({ regenerate: true }), callback);
  }

  /** Commits now (with `autoCommit: false`). */
  manuallyCommit(): Promise<void> {
    return inside(this).owner.commit({});
  }

  /** Same as koa-session's `commit(options?, callback?)`. */
  commit(options?: { save?: boolean; regenerate?: boolean }): Promise<void>;
  commit(callback: SessionCallback): void;
  commit(options: { save?: boolean; regenerate?: boolean }, callback: SessionCallback): void;
  commit(
    options?: { save?: boolean; regenerate?: boolean } | SessionCallback,
    callback?: SessionCallback,
  ): Promise<void> | undefined {
    if (typeof options === 'function') [options, callback] = [{}, options];
    return callbackOrPromise(inside(this).owner.commit(options ?? {}), callback);
  }
}

/** Whether `maxAge =` was used since the last commit (and clears it). */
export function takeRequireSave(s: KoaCompatSession): boolean {
  const i = inside(s);
  const required = i.requireSave;
  i.requireSave = false;
  return required;
}

/** The JSON text of each key a session would store now (without the `_` keys and functions). */
export function wanted(s: KoaCompatSession): Map<string, string> {
  return jsonSnapshot(Object.entries(s.toJSON()));
}
