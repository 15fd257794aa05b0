import { SessionDataError } from '@kv-session/core';
import { stringifySetCookie } from 'cookie';

/** `cookie` option of the express-session drop-in (express-session's, same defaults). */
export interface CompatCookieOptions {
  /** Milliseconds until the cookie expires (a persistent cookie); `null`: a browser-session cookie. @default null */
  maxAge?: number | null | undefined;
  /** Absolute expiry; prefer `maxAge`. @default undefined */
  expires?: Date | null | undefined;
  /** @default true */
  httpOnly?: boolean | undefined;
  /** `'auto'`: Secure when the request is HTTPS (see the `proxy` option). @default false */
  secure?: boolean | 'auto' | undefined;
  /** `true` means `'strict'`; `'auto'`: `'none'` over HTTPS, `'lax'` otherwise. @default undefined (not sent) */
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto' | undefined;
  /** @default undefined (host-only) */
  domain?: string | undefined;
  /** @default '/' */
  path?: string | undefined;
  /** @default undefined */
  partitioned?: boolean | undefined;
  /** @default undefined */
  priority?: 'low' | 'medium' | 'high' | undefined;
}

/** The JSON form of a cookie, stored in the session record under `cookie` (as express-session stores it). */
export interface StoredCookie {
  originalMaxAge: number | null;
  partitioned?: boolean | undefined;
  priority?: 'low' | 'medium' | 'high' | undefined;
  expires?: Date | string | null | undefined;
  secure?: boolean | undefined;
  httpOnly?: boolean | undefined;
  domain?: string | undefined;
  path?: string | undefined;
  sameSite?: boolean | 'lax' | 'strict' | 'none' | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `req.session.cookie`: express-session's cookie object. `maxAge` is the time left (ms) and setting
 * it moves `expires`; `originalMaxAge` is the lifetime it was last given, which `touch()` restores
 * on every request. Its JSON is what express-session stores in the session record.
 */
export class SessionCookie {
  path = '/';
  httpOnly = true;
  secure: boolean | undefined;
  sameSite: boolean | 'lax' | 'strict' | 'none' | undefined;
  domain: string | undefined;
  partitioned: boolean | undefined;
  priority: 'low' | 'medium' | 'high' | undefined;
  originalMaxAge: number | null = null;
  #expires: Date | null = null;

  /** A new session's cookie from the `cookie` option (`secure`/`sameSite` `'auto'` resolved by the caller). */
  static fromOptions(options: CompatCookieOptions, https: boolean): SessionCookie {
    const c = new SessionCookie();
    if (options.path !== undefined) c.path = options.path;
    if (options.httpOnly !== undefined) c.httpOnly = options.httpOnly;
    c.secure = options.secure === 'auto' ? https : options.secure;
    c.sameSite = options.sameSite === 'auto' ? (https ? 'none' : 'lax') : options.sameSite;
    c.domain = options.domain;
    c.partitioned = options.partitioned;
    c.priority = options.priority;
    if (options.expires != null) c.expires = options.expires;
    if (options.maxAge != null) c.maxAge = options.maxAge;
    return c;
  }

  /** The cookie of a loaded session, from its stored JSON (what express-session's createSession does). */
  static fromStored(stored: unknown, fallback: () => SessionCookie): SessionCookie {
    if (!isRecord(stored)) return fallback();
    const c = new SessionCookie();
    if (typeof stored.path === 'string') c.path = stored.path;
    if (typeof stored.httpOnly === 'boolean') c.httpOnly = stored.httpOnly;
    if (typeof stored.secure === 'boolean') c.secure = stored.secure;
    const sameSite = stored.sameSite;
    if (typeof sameSite === 'boolean' || sameSite === 'lax' || sameSite === 'strict' || sameSite === 'none') {
      c.sameSite = sameSite;
    }
    if (typeof stored.domain === 'string') c.domain = stored.domain;
    if (typeof stored.partitioned === 'boolean') c.partitioned = stored.partitioned;
    const priority = stored.priority;
    if (priority === 'low' || priority === 'medium' || priority === 'high') c.priority = priority;
    if (typeof stored.expires === 'string') {
      const date = new Date(stored.expires);
      if (!Number.isNaN(date.valueOf())) c.#expires = date;
    }
    c.originalMaxAge = typeof stored.originalMaxAge === 'number' ? stored.originalMaxAge : null;
    return c;
  }

  /** Absolute expiry, or `null` for a browser-session cookie. Setting it also sets `originalMaxAge`. */
  get expires(): Date | null {
    return this.#expires;
  }
  set expires(date: Date | null) {
    this.#expires = date;
    this.originalMaxAge = this.maxAge;
  }

  /** Milliseconds left until `expires` (`null` without one). Setting it moves `expires` to now + ms. */
  get maxAge(): number | null {
    return this.#expires instanceof Date ? this.#expires.valueOf() - Date.now() : this.#expires;
  }
  set maxAge(ms: number | Date | null) {
    if (ms instanceof Date) {
      this.expires = ms; // express-session's deprecated form
      return;
    }
    if (ms !== null && ms !== undefined && (typeof ms !== 'number' || Number.isNaN(ms))) {
      // express-session's own message, which apps may match on.
      throw new SessionDataError('maxAge must be a number or Date', { key: 'cookie', type: typeof ms });
    }
    if (typeof ms !== 'number') {
      this.expires = null;
      return;
    }
    // originalMaxAge is the number given, not read back from the clock: express-session recomputes
    // it as expires - Date.now(), which is one less when the millisecond turns in between, so a
    // session touched on every request can lose a millisecond of lifetime now and then.
    this.#expires = new Date(Date.now() + ms);
    this.originalMaxAge = ms;
  }

  /** The attributes, in express-session's order (also the stored JSON). */
  get data(): StoredCookie {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this.#expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  toJSON(): StoredCookie {
    return this.data;
  }

  /** The `Set-Cookie` value for `name=value` with these attributes (value URL-encoded, as express-session does). */
  serialize(name: string, value: string): string {
    return stringifySetCookie(
      {
        name,
        value,
        path: this.path,
        httpOnly: this.httpOnly,
        ...(this.domain === undefined ? {} : { domain: this.domain }),
        ...(this.#expires === null ? {} : { expires: this.#expires }),
        ...(this.secure === undefined ? {} : { secure: this.secure }),
        ...(this.sameSite === undefined ? {} : { sameSite: this.sameSite }),
        ...(this.partitioned === undefined ? {} : { partitioned: this.partitioned }),
        ...(this.priority === undefined ? {} : { priority: this.priority }),
      },
      { encode: encodeURIComponent },
    );
  }
}
