import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Key objects of the secrets in use (an app has a handful), so each HMAC skips importing the key. */
const keys = new Map<string, KeyObject>();

/**
 * The key object of an HMAC secret, imported once: `createHmac` keyed by a string imports the key
 * on every call. For compat layers that sign their own cookie format (core's `sign` uses it too).
 */
export function secretKey(secret: string): KeyObject {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= 16) keys.clear(); // never more than a few in real use; stay bounded anyway
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    keys.set(secret, key);
  }
  return key;
}

function mac(value: string, secret: string): string {
  return createHmac('sha256', secretKey(secret)).update(value).digest('base64url');
}

/** Signs `value` as `<value>.<base64url HMAC-SHA256>`. */
export function sign(value: string, secret: string): string {
  return `${value}.${mac(value, secret)}`;
}

/** Result of {@link unsign}: the value, and whether a secret other than the first one verified it. */
export interface Unsigned {
  value: string;
  /** True when an older secret verified it: re-issue the value signed with the current secret. */
  rotated: boolean;
}

/**
 * Verifies a value made by {@link sign} against each secret in turn (timing-safe comparison).
 * Returns `undefined` for anything unsigned, truncated, tampered with or signed by an unknown secret.
 */
export function unsign(signed: string, secrets: readonly string[]): Unsigned | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(mac(value, secrets[i]!));
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return { value, rotated: i > 0 };
    }
  }
  return undefined;
}
