import { createHmac, timingSafeEqual } from 'node:crypto';
import { rememberVerified, secretKey } from '@kv-session/core';

/** HMAC-SHA256 of `value`, base64 with `+` and `/` and without `=` padding, as cookie-signature writes it. */
function mac(value: string, secret: string): string {
  return createHmac('sha256', secretKey(secret)).update(value).digest('base64').replace(/=+$/, '');
}

/**
 * The session cookie's value as express-session writes it: `s:` + id + `.` + signature (cookie-signature's
 * format, which differs from kv-session's base64url one), so a site can switch both ways.
 */
export function signCompatId(id: string, secret: string): string {
  return `s:${id}.${mac(id, secret)}`;
}

/** Cookie values that verified lately: their id, and the secrets list (by identity) that verified it. */
const verified = new Map<string, { id: string; secrets: readonly string[] }>();

/**
 * The id in an express-session cookie value (already URL-decoded), when one of `secrets` signed it;
 * `undefined` for unsigned, tampered or foreign values. Timing-safe comparison. As core's managers
 * do, the last 1,024 values that verified are remembered (core's `rememberVerified`) with the secrets list
 * that verified them, so a returning cookie costs a map lookup instead of an HMAC under the same
 * list; values that fail are checked every time and never remembered.
 */
export function unsignCompatId(raw: string, secrets: readonly string[]): string | undefined {
  const known = verified.get(raw);
  if (known !== undefined && known.secrets === secrets) return known.id;
  const id = verify(raw, secrets);
  if (id !== undefined) rememberVerified(verified, raw, { id, secrets });
  return id;
}

function verify(raw: string, secrets: readonly string[]): string | undefined {
  if (!raw.startsWith('s:')) return undefined;
  const dot = raw.lastIndexOf('.');
  if (dot <= 2) return undefined;
  const id = raw.slice(2, dot);
  const given = Buffer.from(raw.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(mac(id, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return id;
  }
  return undefined;
}
