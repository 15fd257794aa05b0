import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Key objects of the secrets in use: an HMAC keyed by a string imports the key on every call. */
const keys = new Map<string, KeyObject>();

/** HMAC-SHA256 of `value`, base64 with `+` and `/` and without `=` padding, as cookie-signature writes it. */
function mac(value: string, secret: string): string {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= 16) keys.clear(); // an app has a handful (rotation); stay bounded anyway
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    keys.set(secret, key);
  }
  return createHmac('sha256', key).update(value).digest('base64').replace(/=+$/, '');
}

/**
 * The session cookie's value as express-session writes it: `s:` + id + `.` + signature (cookie-signature's
 * format, which differs from kv-session's base64url one), so a site can switch both ways.
 */
export function signCompatId(id: string, secret: string): string {
  return `s:${id}.${mac(id, secret)}`;
}

/**
 * The id in an express-session cookie value (already URL-decoded), when one of `secrets` signed it;
 * `undefined` for unsigned, tampered or foreign values. Timing-safe comparison.
 */
export function unsignCompatId(raw: string, secrets: readonly string[]): string | undefined {
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
