// Session lifecycle: the reserved `__kv` metadata field of a stored session, and the operator's
// view of sessions (by owner, or one by id) that the manager offers on top of a storage's optional
// owner index. A `Session` reads and writes the metadata; this module knows its shape.
import { CorruptDataError, SessionDataError, StorageCapabilityError } from './errors.js';
import { isValidId, redactId } from './id.js';
import type { JsonValue, SessionData } from './json.js';
import type { ResolvedOptions } from './options.js';
import type { PeekedSession, Storage } from './storage.js';

/**
 * The reserved top-level field of a stored session that holds its metadata, a plain JSON object
 * (`{"created": 1764670000000, "owner": "user-42", "maxAge": 2592000000}`): editable like the rest
 * of the record. Never shown to the app (`get`, `has`, `data()`, schemas, the compat layers'
 * session objects) and refused by `set`/`remove`.
 */
export const META_KEY = '__kv';

/** Longest owner accepted by `session.setOwner()`, in UTF-16 code units. */
export const MAX_OWNER_LENGTH = 256;

/** What `__kv` holds. Every field is optional: records written before it existed have none. */
export interface SessionMeta {
  /** When the session was created (epoch ms); for a record older than `__kv`, its first write since. */
  created?: number;
  /** Who the session belongs to (`session.setOwner()`), as listed by `manager.listSessions()`. */
  owner?: string;
  /** This session's idle lifetime in ms, when `session.setMaxAge()` set one other than the `maxAge` option. */
  maxAge?: number;
  /** With `cookie.persistent`: when the cookie was last sent (epoch ms), so it is re-sent once per refresh window. */
  seen?: number;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** The metadata of a stored `__kv` value; fields of the wrong type (an operator's typo) are ignored. */
export function readMeta(value: unknown): SessionMeta {
  const meta: SessionMeta = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return meta;
  const v = value as Record<string, unknown>;
  const created = positive(v.created);
  if (created !== undefined) meta.created = created;
  if (typeof v.owner === 'string' && v.owner !== '') meta.owner = v.owner;
  const maxAge = positive(v.maxAge);
  if (maxAge !== undefined) meta.maxAge = Math.floor(maxAge);
  const seen = positive(v.seen);
  if (seen !== undefined) meta.seen = seen;
  return meta;
}

/** The stored JSON of metadata (only the fields that are set). */
export function metaValue(meta: SessionMeta): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  if (meta.created !== undefined) out.created = meta.created;
  if (meta.owner !== undefined) out.owner = meta.owner;
  if (meta.maxAge !== undefined) out.maxAge = meta.maxAge;
  if (meta.seen !== undefined) out.seen = meta.seen;
  return out;
}

/** Stored data without `__kv`, and the metadata it held. `data` is a new object only when `__kv` was there. */
export function splitMeta(data: SessionData): { data: SessionData; meta: SessionMeta } {
  if (!Object.hasOwn(data, META_KEY)) return { data, meta: {} };
  const rest: SessionData = { ...data };
  delete rest[META_KEY];
  return { data: rest, meta: readMeta(data[META_KEY]) };
}

/** Throws the typed error of an app touching the reserved field. */
export function reservedKeyError(method: string): SessionDataError {
  return new SessionDataError(
    `${method}(): "${META_KEY}" is reserved for session metadata (created, owner, maxAge); use setOwner()/setMaxAge()`,
    { key: META_KEY, type: 'a reserved key' },
  );
}

/** Validates an owner for `session.setOwner()`: a non-empty string of at most {@link MAX_OWNER_LENGTH}. */
export function assertOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_OWNER_LENGTH) {
    throw new SessionDataError(
      `setOwner() takes a non-empty string of at most ${MAX_OWNER_LENGTH} characters, got ${
        typeof owner === 'string' ? `a string of ${owner.length}` : typeof owner
      }`,
      { type: typeof owner },
    );
  }
}

/** When the session dies of `absoluteTimeout` (epoch ms), or undefined when it cannot. */
export function deadline(meta: SessionMeta, absoluteTimeout: number | undefined): number | undefined {
  return absoluteTimeout === undefined || meta.created === undefined
    ? undefined
    : meta.created + absoluteTimeout;
}

/** The owner-index methods of a storage, or a {@link StorageCapabilityError} naming what is missing. */
export function ownerIndex(storage: Storage, operation: string): Storage & Required<OwnerCapability> {
  const missing = (['addOwned', 'listOwned', 'removeOwned', 'peek'] as const).filter(
    (m) => typeof storage[m] !== 'function',
  );
  if (missing.length > 0) throw new StorageCapabilityError(operation, missing);
  return storage as Storage & Required<OwnerCapability>;
}

type OwnerCapability = Pick<Storage, 'addOwned' | 'listOwned' | 'removeOwned' | 'peek'>;

/** One live session of an owner, as `manager.listSessions()` returns it. */
export interface SessionInfo {
  /** The id, redacted: its first 6 characters and `…` (enough to tell sessions apart, useless to hijack one). */
  id: string;
  /** When it was created (epoch ms). */
  created: number;
  /**
   * When it was last used, as far as the stored expiry tells (epoch ms): `expiresAt` minus its
   * lifetime, never before `created`. Storages refresh the expiry lazily (at most once per
   * `refreshWindow`, or on every read for StorageRedisKV and StorageRedisHash), so it may lag by up
   * to that window. No write per request is made to know it.
   */
  lastActive: number;
  /** When it expires unless used again (epoch ms), `absoluteTimeout` included. */
  expiresAt: number;
  /** Whether it is the session given as `current` (the caller's own). */
  current: boolean;
}

/** A stored session as `manager.getSession()` reads it for operators (nothing refreshed). */
export interface SessionRecord {
  /** The full id. */
  id: string;
  /** The session data, without `__kv`. */
  data: SessionData;
  /** The metadata (`__kv`), `{}` for a record written before it existed. */
  meta: SessionMeta;
  /** When the record expires (epoch ms), `absoluteTimeout` included; undefined when the storage cannot tell. */
  expiresAt: number | undefined;
}

/** A peeked record's view, or undefined when it is dead for these options (absoluteTimeout). */
function recordOf(
  id: string,
  peeked: PeekedSession,
  o: ResolvedOptions,
  now: number,
): SessionRecord | undefined {
  const { data, meta } = splitMeta(peeked.data);
  const dies = deadline(meta, o.absoluteTimeout);
  if (dies !== undefined && dies <= now) return undefined;
  const expiresAt =
    peeked.expiresAt === undefined || dies === undefined
      ? (peeked.expiresAt ?? dies)
      : Math.min(peeked.expiresAt, dies);
  return { id, data, meta, expiresAt };
}

/** Reads one session for operators (see `SessionManager.getSession`). */
export async function getSession(o: ResolvedOptions, id: string): Promise<SessionRecord | undefined> {
  const storage = o.storage;
  if (typeof storage.peek !== 'function') throw new StorageCapabilityError('getSession()', ['peek']);
  if (!isValidId(id)) return undefined;
  const peeked = await storage.peek(id);
  return peeked === undefined ? undefined : recordOf(id, peeked, o, Date.now());
}

/**
 * The owner's sessions, each verified against its record: live ones, and the index entries that
 * are stale (the record is gone, expired, past absoluteTimeout, or now belongs to someone else),
 * which are removed from the index here.
 */
async function ownedRecords(o: ResolvedOptions, owner: string, operation: string): Promise<SessionRecord[]> {
  const storage = ownerIndex(o.storage, operation);
  const entries = await storage.listOwned(owner);
  const now = Date.now();
  // A corrupt record reads as an empty session (nobody is signed in with it): not listed, left in
  // the index. Any other failure is thrown: a sign-out-everywhere must not silently skip sessions.
  const peeked = await Promise.all(
    entries.map((e) =>
      storage.peek(e.id).catch((error: unknown) => {
        if (error instanceof CorruptDataError) return 'corrupt' as const;
        throw error;
      }),
    ),
  );
  const live: SessionRecord[] = [];
  const stale: string[] = [];
  peeked.forEach((p, i) => {
    const id = entries[i]!.id;
    if (p === 'corrupt') return;
    const record = p === undefined ? undefined : recordOf(id, p, o, now);
    if (record === undefined || record.meta.owner !== owner) stale.push(id);
    else live.push(record);
  });
  if (stale.length > 0) await storage.removeOwned(owner, stale);
  return live;
}

/** Options of `manager.listSessions()`. */
export interface ListSessionsOptions {
  /** The caller's own session id: its entry says `current: true`. */
  current?: string | undefined;
}

/** Lists an owner's live sessions (see `SessionManager.listSessions`). */
export async function listSessions(
  o: ResolvedOptions,
  owner: string,
  options: ListSessionsOptions = {},
): Promise<SessionInfo[]> {
  assertOwner(owner);
  const records = await ownedRecords(o, owner, 'listSessions()');
  return records
    .map((r) => {
      const maxAge = r.meta.maxAge ?? o.maxAge;
      const expiresAt = r.expiresAt ?? Date.now() + maxAge;
      const created = r.meta.created ?? expiresAt - maxAge;
      return {
        id: redactId(r.id),
        created,
        lastActive: Math.max(created, expiresAt - maxAge),
        expiresAt,
        current: r.id === options.current,
      };
    })
    .sort((a, b) => b.lastActive - a.lastActive);
}

/** Options of `manager.destroySessions()`. */
export interface DestroySessionsOptions {
  /** A session id to keep (the caller's own, for "sign out everywhere else"). */
  except?: string | undefined;
}

/** Destroys an owner's sessions (see `SessionManager.destroySessions`); the number of live sessions destroyed. */
export async function destroySessions(
  o: ResolvedOptions,
  owner: string,
  options: DestroySessionsOptions = {},
): Promise<number> {
  assertOwner(owner);
  const storage = ownerIndex(o.storage, 'destroySessions()');
  const victims = (await ownedRecords(o, owner, 'destroySessions()')).filter((r) => r.id !== options.except);
  await Promise.all(victims.map((r) => storage.remove(r.id)));
  if (victims.length > 0)
    await storage.removeOwned(
      owner,
      victims.map((r) => r.id),
    );
  return victims.length;
}

/** Destroys one session by id for operators; true when a live one was there. */
export async function destroySession(o: ResolvedOptions, id: string): Promise<boolean> {
  const record = await getSession(o, id);
  if (record === undefined) return false;
  await o.storage.remove(id);
  const owner = record.meta.owner;
  if (owner !== undefined && typeof o.storage.removeOwned === 'function')
    await o.storage.removeOwned(owner, [id]);
  return true;
}
