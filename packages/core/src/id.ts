import { randomBytes } from 'node:crypto';

/**
 * The only ids kv-session accepts: 22 to 256 URL-safe base64 characters (22 characters carry at
 * least 128 bits). Ids are checked against it before any storage call, so a key is never built from
 * an unchecked string.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{22,256}$/;

/** Generates a session id: 32 bytes (256 bits) from the CSPRNG, base64url (43 characters). */
export function generateId(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `id` has the format of {@link ID_PATTERN}. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** A shortened id for logs and error messages: never log a full session id. */
export function redactId(id: string): string {
  return id.length <= 6 ? '…' : `${id.slice(0, 6)}…`;
}
