import { parseCookie, stringifySetCookie } from 'cookie';
import type { ResolvedOptions } from './options.js';

/** A space or a horizontal tab: what the `cookie` package trims around names and values. */
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Percent-decodes as the `cookie` package does: only when there is a `%`, keeping invalid escapes. */
function decode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Reads one cookie from a `Cookie` request header: exactly `parseCookie(header)[name]` of the
 * `cookie` package (pairs split at `;`, the name before a pair's first `=`, spaces and tabs trimmed
 * around name and value, pairs without `=` skipped, the first of duplicate names wins, the value
 * percent-decoded when it holds a `%` and kept as it came when that fails), without parsing the
 * other cookies: the name is searched for, and a match counts only where it is a whole pair's name.
 * A name no pair can have (holding `;` or `=`, or blank at either end) falls back to the parse.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  // parseCookie reads nothing from a header shorter than 2 characters.
  if (header === undefined || header.length < 2) return undefined;
  const length = name.length;
  if (
    length === 0 ||
    name.includes(';') ||
    name.includes('=') ||
    isBlank(name.charCodeAt(0)) ||
    isBlank(name.charCodeAt(length - 1))
  ) {
    return parseCookie(header)[name];
  }
  const end = header.length;
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    // A pair's name starts its pair (after `;` or the header's start, and blanks)...
    let before = at - 1;
    while (before >= 0 && isBlank(header.charCodeAt(before))) before--;
    if (before >= 0 && header.charCodeAt(before) !== 0x3b) continue;
    // ...and ends at the pair's first `=` (after blanks): `name` holds neither `;` nor `=`.
    let eq = at + length;
    while (eq < end && isBlank(header.charCodeAt(eq))) eq++;
    if (eq === end || header.charCodeAt(eq) !== 0x3d) continue;
    let start = eq + 1;
    let stop = header.indexOf(';', start);
    if (stop === -1) stop = end;
    while (start < stop && isBlank(header.charCodeAt(start))) start++;
    while (stop > start && isBlank(header.charCodeAt(stop - 1))) stop--;
    return decode(header.slice(start, stop));
  }
  return undefined;
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
