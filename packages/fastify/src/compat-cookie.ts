import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { rememberVerified, secretKey } from '@kv-session/core';

/** Cookie options of the compat plugin, as @fastify/session takes them (`maxAge` in milliseconds). */
export interface CompatCookieOptions {
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /** @default true */
  httpOnly?: boolean;
  /**
   * `true` (the default, as in @fastify/session): the cookie is only set over HTTPS; over plain
   * HTTP the session is neither saved nor sent. `'auto'`: Secure when the request came over HTTPS.
   * @default true
   */
  secure?: boolean | 'auto';
  /** @default undefined (no SameSite attribute; `'lax'` over HTTP with `secure: 'auto'`) */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** Milliseconds until the cookie and the stored session expire. @default undefined (browser-session cookie, one day in storage) */
  maxAge?: number;
  /** A fixed expiry date of the cookie. @default undefined */
  expires?: Date;
  /** CHIPS partitioned cookie. @default undefined */
  partitioned?: boolean;
}

/** What a stored session's `cookie` key holds: {@link CompatCookie.toJSON}, as @fastify/session stores it. */
interface StoredCookie {
  originalMaxAge?: unknown;
  expires?: unknown;
}

/**
 * `request.session.cookie`: the session cookie's settings, with @fastify/session's fields and
 * semantics (`maxAge` sets `expires` relative to now and records `originalMaxAge`).
 */
export class CompatCookie {
  path: string;
  secure: boolean | null;
  sameSite: boolean | 'lax' | 'strict' | 'none' | null;
  domain: string | null;
  httpOnly: boolean;
  partitioned: boolean | undefined;
  /** When the cookie expires; `null` for a browser-session cookie. */
  expires: Date | null = null;
  /** The lifetime in milliseconds the cookie was given, if any. */
  originalMaxAge: number | null = null;

  constructor(options: CompatCookieOptions, https: boolean) {
    this.path = options.path ?? '/';
    this.secure = options.secure === 'auto' ? https : (options.secure ?? null);
    this.sameSite = options.sameSite ?? null;
    // As @fastify/session: with secure 'auto' over plain HTTP, SameSite=Lax.
    if (options.secure === 'auto' && !https) this.sameSite = 'lax';
    this.domain = options.domain ?? null;
    this.httpOnly = options.httpOnly ?? true;
    this.partitioned = options.partitioned;
    if (options.maxAge !== undefined && options.maxAge > 0) this.maxAge = options.maxAge;
    else if (options.expires !== undefined) this.expires = new Date(options.expires);
  }

  /** Milliseconds left until `expires`, or `null` for a browser-session cookie. */
  get maxAge(): number | null {
    return this.expires === null ? null : this.expires.getTime() - Date.now();
  }

  set maxAge(ms: number) {
    this.expires = new Date(Date.now() + ms);
    this.originalMaxAge = ms;
  }

  /** The fields stored with the session (under its `cookie` key) and used to write the cookie. */
  toJSON(): Record<string, unknown> {
    return {
      expires: this.expires,
      originalMaxAge: this.originalMaxAge,
      sameSite: this.sameSite,
      secure: this.secure,
      path: this.path,
      httpOnly: this.httpOnly,
      domain: this.domain,
      partitioned: this.partitioned,
    };
  }
}

/**
 * The per-session lifetime a stored `cookie` key records (`originalMaxAge`), when it is a positive
 * number: @fastify/session restores it on load, and so do we. Its `expires` is not trusted: the
 * storage's own expiry decides whether the session is alive.
 */
export function storedMaxAge(stored: unknown): number | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const ms = (stored as StoredCookie).originalMaxAge;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.round(ms) : undefined;
}

/** Signs and verifies cookie values; @fastify/session also takes such an object as `secret`. */
export interface CookieSigner {
  sign(value: string): string;
  unsign(signed: string): { valid: boolean; renew: boolean; value: string | null };
}

/** What `unsign` answers. */
type Unsigned = { valid: boolean; renew: boolean; value: string | null };

/**
 * The signature format of @fastify/cookie's signer (which @fastify/session uses): `value.` plus the
 * HMAC in standard base64 without `=` padding. Another format would log every user out on
 * switch-over. The first secret signs; all verify (rotation). As core's managers do, it remembers
 * the last 1,024 values that verified (core's `rememberVerified`), so a returning cookie costs a map
 * lookup instead of an HMAC; values that fail are checked every time and never remembered.
 */
export class HmacSigner implements CookieSigner {
  /** Key objects of the secrets: an HMAC keyed by a string imports the key on every call. */
  readonly #keys: readonly KeyObject[];
  readonly #algorithm: string;
  readonly #verified = new Map<string, Readonly<Unsigned>>();

  constructor(secrets: readonly string[], algorithm: string) {
    this.#keys = secrets.map(secretKey);
    this.#algorithm = algorithm;
  }

  #mac(value: string, key: KeyObject): string {
    return createHmac(this.#algorithm, key).update(value).digest('base64').replace(/=+$/, '');
  }

  sign(value: string): string {
    return `${value}.${this.#mac(value, this.#keys[0]!)}`;
  }

  unsign(signed: string): Unsigned {
    const known = this.#verified.get(signed);
    if (known !== undefined) return { ...known };
    const dot = signed.lastIndexOf('.');
    if (dot > 0 && dot < signed.length - 1) {
      const value = signed.slice(0, dot);
      const given = Buffer.from(signed.slice(dot + 1));
      for (let i = 0; i < this.#keys.length; i++) {
        const expected = Buffer.from(this.#mac(value, this.#keys[i]!));
        if (expected.length === given.length && timingSafeEqual(expected, given)) {
          const result = { valid: true, renew: i > 0, value };
          rememberVerified(this.#verified, signed, result);
          return { ...result };
        }
      }
    }
    return { valid: false, renew: false, value: null };
  }
}
