import { SessionTooLargeError } from './errors.js';
import { byteLength, type SessionData, setOwn } from './json.js';
import type { ChangeSet } from './storage.js';

/** True when the change set changes nothing. */
export function isEmptyChangeSet(changes: ChangeSet): boolean {
  return !changes.clear && changes.remove.size === 0 && changes.set.size === 0;
}

/**
 * Returns a new object: `base` (or `{}`) with `changes` applied. For storage authors who merge in
 * JavaScript; `base` is not modified.
 */
export function applyChangeSet(base: SessionData | undefined, changes: ChangeSet): SessionData {
  const out: SessionData = {};
  if (base !== undefined && !changes.clear) {
    for (const key of Object.keys(base)) {
      if (!changes.remove.has(key)) setOwn(out, key, base[key]);
    }
  }
  for (const [key, value] of changes.set) setOwn(out, key, value);
  return out;
}

/**
 * Serializes session data for storage, throwing {@link SessionTooLargeError} when the UTF-8 JSON is
 * larger than `maxSize` bytes.
 */
export function serializeSession(data: SessionData, maxSize: number): string {
  const json = JSON.stringify(data);
  // UTF-8 takes 1 to 3 bytes per UTF-16 unit: compute the exact length only when it can matter.
  if (json.length > maxSize || (json.length * 3 > maxSize && byteLength(json) > maxSize)) {
    throw new SessionTooLargeError(byteLength(json), maxSize);
  }
  return json;
}
