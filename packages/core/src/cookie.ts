import { parseCookie, stringifySetCookie } from 'cookie';
import type { ResolvedOptions } from './options.js';

/** Reads one cookie from a `Cookie` request header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header === '' || !header.includes(name)) return undefined;
  return parseCookie(header)[name];
}

/**
 * Builds the `Set-Cookie` value for a session cookie. `value === undefined` expires the cookie.
 * `maxAgeMs`, when given, makes it persistent (`rolling`, `cookie.persistent`); otherwise it is a browser-session
 * cookie and the server-side `maxAge` alone decides expiry.
 */
export function sessionCookie(
  cookie: ResolvedOptions['cookie'],
  value: string | undefined,
  secure: boolean,
  maxAgeMs?: number,
): string {
  return stringifySetCookie({
    name: cookie.name,
    value: value ?? '',
    path: cookie.path,
    ...(cookie.domain === undefined ? {} : { domain: cookie.domain }),
    httpOnly: cookie.httpOnly,
    secure,
    ...(cookie.sameSite === false ? {} : { sameSite: cookie.sameSite }),
    partitioned: cookie.partitioned,
    ...(value === undefined
      ? { expires: new Date(0), maxAge: 0 }
      : maxAgeMs === undefined
        ? {}
        : // Rounded up: a sub-second maxAge must not become Max-Age=0 (which deletes the cookie).
          { maxAge: Math.ceil(maxAgeMs / 1000) }),
  });
}

/**
 * Reads an `X-Forwarded-Proto` value for `cookie.secure: 'auto'` behind a trusted proxy: whether its
 * first entry is `https`, or `undefined` when the header is absent or empty (use the socket's own
 * protocol then). Only call it when a proxy you run sets the header.
 */
export function forwardedHttps(value: string | null | undefined): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return value.split(',')[0]!.trim().toLowerCase() === 'https';
}
