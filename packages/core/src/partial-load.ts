/**
 * Reading part of a session before (or instead of) the whole of it, for storages with the optional
 * `loadKeys` / `loadSizes` methods (of the storages we ship, only StorageRedisHash has them): a
 * `get` of one key reads that key alone, and a write reads only the size of each stored key
 * (enough to enforce `maxSize`; `apply` then changes single keys).
 *
 * Internal to core (not exported from index.ts): `Session` keeps the state and calls these for the
 * storage round trips. Each returns `undefined` when the caller must load the whole session instead
 * (the whole-session load is the one that reports corrupt or off-schema data, once).
 */
import { CorruptDataError, wrapStorageError } from './errors.js';
import { entrySize, type JsonValue, MAX_VALUE_DEPTH, nestedDeeperThan } from './json.js';
import { META_KEY } from './lifecycle.js';
import type { ResolvedOptions } from './options.js';
import { decodeKey } from './schema.js';
import type { Storage } from './storage.js';

/** Nothing is stored under the id. */
export const MISSING: unique symbol = Symbol('kv-session.missing');

/**
 * One key read through `loadKeys`: the record exists; `value` is the key's value as `get` returns
 * it (undefined: not set), unless `usable` is false (too deep or off the schema: the caller loads
 * the whole session, which reports it).
 */
export interface KeyRead {
  usable: boolean;
  value: unknown;
  expiresAt: number | undefined;
  /** The stored `__kv` value, when asked for with the key (undefined: none). */
  meta: unknown;
}

/** Per-key sizes as `maxSize` counts them (see json.ts `entrySize`), and their sum. */
export interface EntrySizes {
  sizes: Map<string, number>;
  sum: number;
}

/** What `loadSizes` found under an id. */
export interface SizesRead extends EntrySizes {
  version: unknown;
  expiresAt: number | undefined;
}

/** The storage can read single keys. */
export function readsKeys(storage: Storage): boolean {
  return storage.loadKeys !== undefined;
}

/** A write can start from the stored sizes alone: the storage has `loadSizes` and `apply`. */
export function writesBySize(storage: Storage): boolean {
  return storage.loadSizes !== undefined && storage.apply !== undefined;
}

/** Sizes and their sum from the JSON byte length of each key's value. */
export function entrySizes(valueBytes: ReadonlyMap<string, number>): EntrySizes {
  const sizes = new Map<string, number>();
  let sum = 0;
  for (const [key, bytes] of valueBytes) {
    const size = entrySize(key, bytes);
    sizes.set(key, size);
    sum += size;
  }
  return { sizes, sum };
}

/**
 * Reads one key through `storage.loadKeys` (the caller checked {@link readsKeys}), with the
 * session's `__kv` metadata in the same call when `withMeta`. Undefined when the caller must load
 * the whole session (corrupt data).
 */
export async function readKey(
  o: ResolvedOptions,
  id: string,
  key: string,
  maxAge: number,
  withMeta = false,
): Promise<KeyRead | typeof MISSING | undefined> {
  const read = await partialRead(() => o.storage.loadKeys!(id, withMeta ? [key, META_KEY] : [key], maxAge));
  if (read === undefined) return undefined;
  const stored = read.stored;
  if (stored === undefined) return MISSING;
  const expiresAt = stored.expiresAt;
  const meta = withMeta ? stored.data[META_KEY] : undefined;
  let value: unknown;
  if (Object.hasOwn(stored.data, key)) {
    value = stored.data[key];
    // Too deep: the whole-session load reports it as corrupt.
    if (nestedDeeperThan(value, MAX_VALUE_DEPTH)) return { usable: false, value: undefined, expiresAt, meta };
    if (o.schema !== undefined) {
      const decoded = decodeKey(o.schema, key, value as JsonValue);
      // Off the schema: the whole-session load applies invalidStoredData and reports it, once.
      if (!decoded.ok) return { usable: false, value: undefined, expiresAt, meta };
      value = decoded.value;
    }
  }
  return { usable: true, value, expiresAt, meta };
}

/**
 * Reads only the session's `__kv` metadata through `storage.loadKeys` (the caller checked
 * {@link readsKeys}): the raw value, or undefined when the caller must load the whole session.
 */
export async function readMetaKey(
  storage: Storage,
  id: string,
  maxAge: number,
): Promise<{ meta: unknown } | typeof MISSING | undefined> {
  const read = await partialRead(() => storage.loadKeys!(id, [META_KEY], maxAge));
  if (read === undefined) return undefined;
  return read.stored === undefined ? MISSING : { meta: read.stored.data[META_KEY] };
}

/**
 * Reads the size of each stored key through `storage.loadSizes` (the caller checked
 * {@link writesBySize}). Undefined when the caller must load the whole session (corrupt data).
 */
export async function readSizes(
  storage: Storage,
  id: string,
  maxAge: number,
): Promise<SizesRead | typeof MISSING | undefined> {
  const read = await partialRead(() => storage.loadSizes!(id, maxAge));
  if (read === undefined) return undefined;
  const stored = read.stored;
  if (stored === undefined) return MISSING;
  return { ...entrySizes(stored.sizes), version: stored.version, expiresAt: stored.expiresAt };
}

/**
 * Runs one partial read. Corrupt data resolves undefined: the caller falls back to the
 * whole-session load, which reports it and reads it as empty. Other failures become SessionErrors.
 */
async function partialRead<T>(read: () => Promise<T>): Promise<{ stored: T } | undefined> {
  try {
    return { stored: await read() };
  } catch (error) {
    if (error instanceof CorruptDataError) return undefined;
    throw wrapStorageError(error, 'load');
  }
}
