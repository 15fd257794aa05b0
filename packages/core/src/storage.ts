import type { JsonValue, SessionData } from './json.js';

/** A session as a storage returns it from {@link Storage.load}. */
export interface StoredSession {
  /** The session data; a fresh object the caller may keep (never shared with another request). */
  data: SessionData;
  /**
   * Opaque token of the stored version (for example the raw stored string), handed back to
   * {@link Storage.apply} so that the storage can compare-and-set without reading again.
   */
  version?: unknown;
  /**
   * When the record expires, in epoch milliseconds, if known. A storage that refreshed the expiry
   * while loading reports `now + maxAgeMs`, and core then skips {@link Storage.touch}.
   */
  expiresAt?: number;
  /**
   * The UTF-8 byte length of the stored record as JSON text (`__kv` included), when the storage
   * knows it without work (it read the text). Optional: with it, the first write of a request
   * checks `maxSize` from this size and the sizes of the keys it changes, instead of serializing
   * every value of the session once more (at 100 KB, a `JSON.stringify` of the whole session).
   */
  size?: number;
}

/** What {@link Storage.loadSizes} returns: how big each stored key is, without the values. */
export interface StoredSizes {
  /**
   * For each key of the session, the UTF-8 byte length of its value's JSON text (as
   * `JSON.stringify` writes it). A fresh map the caller may keep.
   */
  sizes: Map<string, number>;
  /** As in {@link StoredSession}: a version token for {@link Storage.apply}, if the storage has one. */
  version?: unknown;
  /** As in {@link StoredSession}: the expiry in epoch milliseconds, when refreshed or known. */
  expiresAt?: number;
}

/**
 * A key-level change set: what one request did to a session. Applied in this order: `clear`
 * (drop every key), then `remove`, then `set`.
 */
export interface ChangeSet {
  /** Drop every stored key first. */
  readonly clear: boolean;
  /** Keys removed. */
  readonly remove: ReadonlySet<string>;
  /** Keys set, with their new values (already validated as JSON values). */
  readonly set: ReadonlyMap<string, JsonValue>;
}

/** How {@link Storage.apply} may treat a missing record. */
export interface ApplyOptions {
  /**
   * `'create'`: the id was just generated; create the record (merging into one if it exists).
   * `'update'`: apply only if the record still exists; a record removed meanwhile stays removed.
   */
  mode: 'create' | 'update';
  /** The `version` from {@link StoredSession}, when this request loaded the session. */
  version?: unknown;
  /**
   * Limit in bytes of the serialized result (UTF-8 JSON). Over it, throw `SessionTooLargeError`
   * and write nothing.
   */
  maxSize: number;
}

/** What {@link Storage.apply} did. */
export interface ApplyResult {
  /** Whether the record existed before the change set was applied. */
  existed: boolean;
  /** Whether anything was written (false when mode is `'update'` and the record was gone). */
  written: boolean;
  /**
   * True when, in `'update'` mode, the record was gone because {@link Storage.move} moved it to
   * another id (it was not removed): nothing was written, and core fails the request with
   * `SessionConflictError` instead of losing the write silently. Storages without `move` never set it.
   */
  moved?: boolean;
}

/** Options of {@link Storage.move}. */
export interface MoveOptions {
  /** Limit in bytes of the moved session (UTF-8 JSON); over it, throw `SessionTooLargeError` and change nothing. */
  maxSize: number;
  /** The `version` from {@link StoredSession}, when this request loaded the session (a hint; may be stale). */
  version?: unknown;
}

/** What {@link Storage.move} did. */
export interface MoveResult {
  /**
   * True when the old record existed and now lives under the new id. False when it did not exist
   * (missing, expired, removed or already moved): then nothing was written under either id.
   */
  moved: boolean;
}

/** One entry of an owner's index, as {@link Storage.listOwned} returns it. */
export interface OwnedSession {
  /** The session id. */
  id: string;
  /**
   * The expiry (epoch ms) given to {@link Storage.addOwned}: a hint only, since a session's expiry
   * moves with its use without the index being told. Core verifies every entry with {@link Storage.peek}.
   */
  expiresAt: number;
}

/** A record as {@link Storage.peek} reads it: the whole stored object and its expiry, nothing refreshed. */
export interface PeekedSession {
  /** The stored JSON object as is, reserved fields (`__kv`) included. */
  data: SessionData;
  /** When the record expires, in epoch milliseconds (undefined when the storage cannot tell). */
  expiresAt: number | undefined;
}

/**
 * Where sessions live. Small and promise-only; every duration is in milliseconds. Run
 * `@kv-session/test-suite` against an implementation to check it.
 *
 * Errors: throw `StorageUnavailableError` when the backend cannot be reached (adapters answer 503),
 * `CorruptDataError` from `load` when a stored value cannot be decoded; anything else is wrapped in
 * `StorageError` by core.
 */
export interface Storage {
  /**
   * Reads a session. Resolves `undefined` when there is none or it has expired. May refresh the
   * expiry to `maxAgeMs` in the same operation (then report `expiresAt`).
   */
  load(id: string, maxAgeMs: number): Promise<StoredSession | undefined>;
  /**
   * Reads only some keys of a session, for storages that can do so without transferring the rest
   * (one hash field per key, say). Same contract as {@link load}, except that `data` holds only the
   * requested keys that are set. Optional: core uses it for `get`/`has` before the first write or
   * `data()`, and loads the whole session otherwise.
   */
  loadKeys?(id: string, keys: readonly string[], maxAgeMs: number): Promise<StoredSession | undefined>;
  /**
   * Reads the byte size of each key of a session without transferring the values, for storages
   * whose {@link apply} changes single keys (one hash field per key, say). Same contract as
   * {@link load} otherwise (`undefined` when missing or expired; may refresh the expiry). Optional:
   * with it (and `apply`), a request that writes before it reads checks `maxSize` against these
   * sizes instead of loading the whole session.
   */
  loadSizes?(id: string, maxAgeMs: number): Promise<StoredSizes | undefined>;
  /** Replaces the whole session and sets it to expire `maxAgeMs` milliseconds from now. */
  save(id: string, data: SessionData, maxAgeMs: number): Promise<void>;
  /** Extends an existing session to expire `maxAgeMs` milliseconds from now; no-op when missing. */
  touch(id: string, maxAgeMs: number): Promise<void>;
  /** Deletes a session; no-op when missing. */
  remove(id: string): Promise<void>;
  /**
   * Applies a change set atomically, so that concurrent requests changing different keys of one
   * session all keep their changes, and sets the expiry to `maxAgeMs`. Optional: without it, core
   * falls back to `load`, merge, `save`, which can lose concurrent writes.
   */
  apply?(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult>;
  /**
   * Moves a session to a new id (what `regenerate()` does), atomically with the existence of the old
   * record: if `fromId` has no record, nothing is written and `moved` is false (a session destroyed
   * meanwhile is never revived under a new id). Otherwise `toId` gets the data stored under
   * `fromId` now (not as loaded earlier: concurrent writes move too) with `changes` applied on top,
   * expiring `maxAgeMs` from now, and `fromId`'s record is replaced by a "moved" mark that lives at
   * most `maxAgeMs`: `load`/`loadKeys`/`loadSizes` read it as missing, and `apply` in `'update'` mode
   * answers `{ existed: false, written: false, moved: true }`, so that a request that loaded the old
   * id before the move gets an error instead of losing its write. `remove(fromId)` deletes the mark.
   * A corrupt old record moves as an empty session. Over `maxSize`: throw `SessionTooLargeError` and
   * change nothing. Optional: without it, core loads the old record again, writes the new one and
   * removes the old, which narrows both races without closing them.
   */
  move?(
    fromId: string,
    toId: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: MoveOptions,
  ): Promise<MoveResult>;
  /**
   * Reads a record without refreshing its expiry, with the expiry: for operators
   * (`manager.getSession()`) and for verifying the owner index. `undefined` when missing, expired or
   * moved. Optional (needed by `manager.listSessions()`, `destroySessions()` and `getSession()`).
   */
  peek?(id: string): Promise<PeekedSession | undefined>;
  /**
   * Owner index (optional capability, all three or none, plus {@link peek}): records that session
   * `id` belongs to `owner` (a user id), with its expiry as known now (epoch ms). Adding an id
   * again updates its expiry. The index must never collide with a session record, and may be
   * eventually consistent: core verifies each listed id against the record (its `__kv.owner` and
   * expiry) and removes stale ones, so entries of sessions that expired or were removed by other
   * means may linger until the owner's sessions are next listed or destroyed.
   */
  addOwned?(owner: string, id: string, expiresAt: number): Promise<void>;
  /** Every id recorded for `owner` (stale ones included), in no particular order; `[]` for none. */
  listOwned?(owner: string): Promise<OwnedSession[]>;
  /** Removes ids from `owner`'s index; unknown ids are ignored. */
  removeOwned?(owner: string, ids: readonly string[]): Promise<void>;
  /** Releases resources (timers, pending refreshes). Optional. */
  close?(): Promise<void>;
}
