import { applyChangeSet, isEmptyChangeSet, serializeSession } from './change-set.js';
import {
  ConfigError,
  CorruptDataError,
  SessionConflictError,
  SessionDataError,
  SessionNotLoadedError,
  SessionTooLargeError,
  wrapStorageError,
} from './errors.js';
import { generateId, isValidId, redactId } from './id.js';
import {
  assertJsonValue,
  byteLength,
  entrySize,
  type JsonValue,
  MAX_VALUE_DEPTH,
  mayNestTooDeep,
  nestedDeeperThan,
  type SessionData,
  setOwn,
} from './json.js';
import {
  assertOwner,
  deadline,
  META_KEY,
  metaValue,
  ownerIndex,
  readMeta,
  reservedKeyError,
  type SessionMeta,
  splitMeta,
} from './lifecycle.js';
import type { ResolvedOptions } from './options.js';
import {
  entrySizes,
  MISSING,
  readKey,
  readMetaKey,
  readSizes,
  readsKeys,
  writesBySize,
} from './partial-load.js';
import { decodeStored, type EncodedValue, encodeValue, storedDataError } from './schema.js';
import type { ApplyOptions, ApplyResult, ChangeSet, MoveOptions, Storage, StoredSession } from './storage.js';

/**
 * What a commit did, for the edge to turn into headers: the HTTP adapters' manager turns it into
 * `Set-Cookie` and the id header; a compat layer with its own cookie format writes its own.
 */
export interface CommitOutcome {
  /** The id the session is stored under after the commit; undefined when nothing is stored. */
  id: string | undefined;
  /** A stored session exists under `id` (the client should keep or receive its cookie). */
  live: boolean;
  /**
   * The id is new to the client: created, or replaced by `regenerate()`, in this request (send the
   * cookie). Always false when not `live`.
   */
  issued: boolean;
  /** `destroy()` was called: when not `live`, expire the client's cookie. */
  destroyed: boolean;
  /**
   * This session's lifetime in ms from now: the `maxAge` option unless `setMaxAge()` changed it,
   * bounded by what is left of `absoluteTimeout`. A persistent cookie's Max-Age.
   */
  maxAge: number;
  /**
   * With `cookie.persistent`: send the cookie again although its id did not change (its lifetime
   * changed, or a refresh window passed since it was last sent).
   */
  refresh: boolean;
}

/** @internal Called by the manager at the end of a request. */
export const commitSession: unique symbol = Symbol('kv-session.commit');

/** @internal The field where the manager that made a session keeps its edge (see manager.ts). */
export const sessionEdge: unique symbol = Symbol('kv-session.edge');

/** @internal The field where that manager keeps what the session's request carried. */
export const sessionIncoming: unique symbol = Symbol('kv-session.incoming');

const EMPTY_SET: ReadonlySet<string> = new Set();

/** `load` for the fallback merge: a corrupt stored value counts as an existing, empty session. */
async function loadForMerge(
  storage: Storage,
  id: string,
  maxAge: number,
): Promise<StoredSession | undefined> {
  try {
    return await storage.load(id, maxAge);
  } catch (error) {
    // Already reported when this request loaded it; the save replaces it, as with apply().
    if (error instanceof CorruptDataError) return { data: {} };
    throw error;
  }
}

/**
 * One request's view of a session. Data methods are async because the first one loads the session
 * from storage (once per request; a request that never touches the session makes no storage call).
 * Writes change an in-memory copy and are recorded as a key-level change set that is saved
 * atomically before the response is sent.
 *
 * Values are copied on `set` (through JSON), so what `get` returns equals what a later request will
 * read. Objects returned by `get`/`data` belong to this request: mutating one changes nothing
 * stored unless it is passed to `set` again.
 */
export class Session<Data extends object = SessionData> {
  readonly #o: ResolvedOptions;
  /** The id the session was created with (a commit under another id issues a new one). */
  readonly #incomingId: string | undefined;
  #id: string | undefined;
  #loaded: boolean;
  #loading: Promise<void> | undefined;
  /** A stored record is known to exist under #id. */
  #exists = false;
  /** The data as `get` returns it: with a schema, what the schema made of the stored JSON. */
  #data = new Map<string, unknown>();
  /**
   * The data as stored (JSON values). Without a schema the very same map as #data, so that reads
   * cost nothing extra; with one, a separate map (a transformed value has another JSON form).
   */
  #raw: Map<string, JsonValue>;
  /** With invalidStoredData 'reset': the next write replaces the whole stored value. */
  #clearStored = false;
  /**
   * The stored value read as corrupt: this request's commit replaces it, even with no change (then
   * with an empty session). Without that, a storage whose writes do not read the whole value first
   * (StorageRedisHash after `loadSizes`) would keep a corrupt field forever, and every read would
   * answer `{}` while writes succeed (issue 14, item 4).
   */
  #repair = false;
  /**
   * Keys read one by one through `storage.loadKeys` before the whole session was needed
   * (undefined value: not set). Dropped once the whole session is loaded.
   */
  #partial: Map<string, unknown> | undefined;
  /**
   * Serialized size per key, computed on the first write only (reads never pay for it). Before the
   * session is loaded, it can come from `storage.loadSizes` instead (see #prepareWrite): the
   * session is then "sized", and #data / #raw hold only this request's own changes.
   */
  #sizes: Map<string, number> | undefined;
  #sizing: Promise<void> | undefined;
  #sizeSum = 0;
  /**
   * The stored record's byte size as the storage reported it on load (`StoredSession.size`), while
   * it still describes #raw (loaded whole, no schema, no change before the load). With it the first
   * write sizes the session from that total (see #ensureSizes) rather than stringifying every value.
   */
  #storedSize: { bytes: number; data: SessionData } | undefined;
  /** #sizes holds only the keys measured so far; the others are measured from #raw on demand. */
  #sizesLazy = false;
  #removed = new Set<string>();
  #changed = new Map<string, JsonValue>();
  #version: unknown;
  #expiresAt: number | undefined;
  #destroyed = false;
  #regenerated = false;
  /** The stored `__kv` metadata (see lifecycle.ts), with this request's changes. */
  #meta: SessionMeta = {};
  /** #meta is what the record holds (read with it, or no record yet); until then it is `{}`. */
  #metaKnown: boolean;
  /** #meta changed in this request: the next commit writes `__kv`. */
  #metaDirty = false;
  /** The owner the stored record had, to take the id out of its index when the owner changes. */
  #storedOwner: string | undefined;
  /** setMaxAge() changed the lifetime in this request (a persistent cookie is re-sent). */
  #lifetimeChanged = false;
  /** The id the request carried had no live record (expired, removed, or never there). */
  #vanished = false;
  /** This request's own lifetime (`setMaxAge(ms, { persist: false })`, the compat layers' way). */
  #maxAge: number | undefined;
  /**
   * @internal The HTTP edge of the manager that made this session, and what its request carried,
   * for the response headers after its commit: fields rather than WeakMap entries (a lookup and
   * an entry per request), read only by that manager.
   */
  [sessionEdge]: object | undefined = undefined;
  /** @internal See {@link sessionEdge}. */
  [sessionIncoming]: unknown = undefined;

  /**
   * Use {@link SessionManager.session} or {@link SessionManager.sessionById} rather than
   * constructing sessions directly. `id` must already be validated (it is never checked here).
   */
  constructor(options: ResolvedOptions, id?: string) {
    this.#o = options;
    this.#incomingId = id;
    this.#id = id;
    this.#loaded = id === undefined;
    this.#metaKnown = id === undefined;
    this.#raw = this.#sharedRaw();
  }

  /**
   * The session id, only ever one known to be live: the stored session's, or a fresh one for a new
   * session (an unknown id the request carried is never adopted). Before the first data access the
   * id the request carried is not known to exist yet (it may be an attacker's choice), so reading
   * `id` then throws {@link SessionNotLoadedError}; use {@link getId} to load first.
   */
  get id(): string {
    if (!this.#idKnown()) throw new SessionNotLoadedError();
    this.#id ??= this.#generate();
    return this.#id;
  }

  /** The session id, loading the session first when needed (one storage read at most). */
  async getId(): Promise<string> {
    if (!this.#idKnown()) await this.#load();
    return this.id;
  }

  /** No id yet (a new session), or the stored record is known to exist (or known missing: #id reset). */
  #idKnown(): boolean {
    return this.#id === undefined || this.#loaded || this.#exists;
  }

  /**
   * This session's idle lifetime in milliseconds: the `maxAge` option unless {@link setMaxAge} set
   * another (kept in the record's `__kv.maxAge`, so it is known once the session is loaded).
   */
  get maxAge(): number {
    return this.#maxAge ?? this.#meta.maxAge ?? this.#o.maxAge;
  }

  /** The stored expiry to set now: {@link maxAge}, but never past `created + absoluteTimeout`. */
  #ttl(now = Date.now()): number {
    const dies = deadline(this.#meta, this.#o.absoluteTimeout);
    return dies === undefined ? this.maxAge : Math.max(1, Math.min(this.maxAge, dies - now));
  }

  /**
   * Sets this session's idle lifetime (ms) from now on, e.g. for a "keep me signed in" box. It is
   * kept with the session (`__kv.maxAge`, across requests and `regenerate()`): the stored expiry
   * follows it from this request's save (shorter or longer), and so does the cookie's `Max-Age`
   * with `cookie.persistent` (the cookie is re-sent now) or `rolling`. Never extends the session
   * past `absoluteTimeout`. Loads the session first when needed (to keep its other metadata).
   * With `{ persist: false }` the lifetime holds for this request only and nothing is stored for it
   * (the compat layers, which keep the lifetime in their own `cookie` field, call it so on every
   * request). Throws {@link SessionDataError} for anything but a positive integer; nothing changes then.
   */
  async setMaxAge(ms: number, options: { persist?: boolean } = {}): Promise<void> {
    if (!Number.isSafeInteger(ms) || ms <= 0) {
      throw new SessionDataError(`setMaxAge() takes a positive integer of milliseconds, got ${String(ms)}`, {
        type: typeof ms,
      });
    }
    if (options.persist === false) {
      this.#maxAge = ms;
      return;
    }
    await this.#load();
    this.#maxAge = undefined;
    const next = ms === this.#o.maxAge ? undefined : ms;
    if (next === this.#meta.maxAge) return;
    const meta: SessionMeta = { ...this.#meta };
    if (next === undefined) delete meta.maxAge;
    else meta.maxAge = next;
    this.#changeMeta(meta);
    this.#lifetimeChanged = true;
  }

  /** The session's owner (`setOwner()`), once loaded; undefined for none. */
  get owner(): string | undefined {
    return this.#meta.owner;
  }

  /**
   * Ties the session to an owner (a user id), so that `manager.listSessions(owner)` lists it and
   * `manager.destroySessions(owner)` ends it. Kept in the record's `__kv.owner` and in the storage's
   * owner index, written with this request's save (with the first data written, for a new session).
   * Throws {@link SessionDataError} for an owner that is not a string of 1 to 256 characters, and
   * `StorageCapabilityError` when the storage has no owner index; nothing changes then.
   */
  async setOwner(owner: string): Promise<void> {
    assertOwner(owner);
    ownerIndex(this.#o.storage, 'setOwner()');
    await this.#load();
    if (owner !== this.#meta.owner) this.#changeMeta({ ...this.#meta, owner });
  }

  #changeMeta(meta: SessionMeta): void {
    this.#meta = meta;
    this.#metaDirty = true;
  }

  /** Takes the metadata of a freshly read record. False when it is past `absoluteTimeout`. */
  #takeMeta(meta: SessionMeta): boolean {
    this.#meta = meta;
    this.#metaKnown = true;
    this.#metaDirty = false;
    this.#storedOwner = meta.owner;
    const dies = deadline(meta, this.#o.absoluteTimeout);
    return dies === undefined || dies > Date.now();
  }

  /**
   * The record under `id` outlived `absoluteTimeout`: it is deleted (and leaves its owner's index),
   * the session reads as empty, and the response expires the cookie.
   */
  async #expire(id: string): Promise<void> {
    const owner = this.#meta.owner;
    const storage = this.#o.storage;
    try {
      await storage.remove(id);
      if (owner !== undefined) await storage.removeOwned?.(owner, [id]);
    } catch (error) {
      throw wrapStorageError(error, 'remove');
    }
    this.#missing();
    this.#destroyed = true;
  }

  /**
   * How far the stored expiry may lag behind this session's maxAge before a read-only request
   * refreshes it: the `refreshWindow` option, but never more than 10% of a shorter per-session
   * maxAge (its default proportion), so a short "remember me off" lifetime is still kept fresh.
   */
  #refreshWindow(maxAge: number): number {
    return maxAge === this.#o.maxAge
      ? this.#o.refreshWindow
      : Math.min(this.#o.refreshWindow, Math.floor(maxAge / 10));
  }

  /** Reads one key. */
  async get<K extends keyof Data & string>(key: K): Promise<Data[K] | undefined> {
    if (key === META_KEY) return undefined;
    if (this.#changedHere(key)) return this.#data.get(key) as Data[K] | undefined;
    if (await this.#loadKey(key)) return this.#partial!.get(key) as Data[K] | undefined;
    await this.#load();
    return this.#data.get(key) as Data[K] | undefined;
  }

  /** True when the key is set. */
  async has(key: keyof Data & string): Promise<boolean> {
    if (key === META_KEY) return false;
    if (this.#changedHere(key)) return this.#data.has(key);
    if (await this.#loadKey(key)) return this.#partial!.get(key) !== undefined;
    await this.#load();
    return this.#data.has(key);
  }

  /** A copy of all data as a plain object (`{}` when there is none). */
  async data(): Promise<Partial<Data>> {
    await this.#load();
    const out: SessionData = {};
    for (const [k, v] of this.#data) setOwn(out, k, v);
    return out as Partial<Data>;
  }

  /**
   * Sets one key. Throws {@link SessionDataError} for values JSON cannot hold unchanged and
   * {@link SessionTooLargeError} when the session would exceed `maxSize`; nothing changes then.
   */
  async set<K extends keyof Data & string>(key: K, value: Data[K]): Promise<void> {
    await this.setMany({ [key]: value } as unknown as Partial<Data>);
  }

  /** Sets several keys at once; all or nothing. */
  async setMany(values: Partial<Data>): Promise<void> {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new SessionDataError('setMany() takes a plain object of key/value pairs', {
        type: typeof values,
      });
    }
    if (Object.getOwnPropertySymbols(values).length > 0) {
      // Object.keys() would skip them silently and the value would be lost.
      throw new SessionDataError('setMany() cannot store symbol keys', {
        type: 'an object with symbol keys',
      });
    }
    if (Object.hasOwn(values, META_KEY)) throw reservedKeyError('set');
    const schema = this.#o.schema;
    const entries: [string, string][] = [];
    // With a schema: what each key stores and reads back (validated before anything changes).
    const encoded = schema === undefined ? undefined : new Map<string, EncodedValue>();
    for (const key of Object.keys(values)) {
      const value: unknown = (values as Record<string, unknown>)[key];
      if (encoded === undefined) {
        assertJsonValue(key, value);
        entries.push([key, JSON.stringify(value)]);
      } else {
        const e = encodeValue(schema!, key, value);
        // What the schema produced is what is stored: it obeys the same depth bound.
        if (nestedDeeperThan(e.raw, MAX_VALUE_DEPTH)) assertJsonValue(key, e.raw);
        encoded.set(key, e);
        entries.push([key, e.json]);
      }
    }
    await this.#prepareWrite();
    const sizes = this.#ensureSizes();
    let sum = this.#sizeSum;
    let count = this.#sizesLazy ? this.#raw.size : sizes.size;
    const seen = new Map<string, number>();
    for (const [key, json] of entries) {
      const old = seen.get(key) ?? this.#sizeOf(key);
      if (old === undefined) count++;
      else sum -= old;
      const size = entrySize(key, byteLength(json));
      seen.set(key, size);
      sum += size;
    }
    const total = 2 + sum + Math.max(0, count - 1);
    if (total > this.#o.maxSize) throw new SessionTooLargeError(total, this.#o.maxSize, entries[0]?.[0]);
    for (const [key, json] of entries) {
      sizes.set(key, seen.get(key)!);
      const e = encoded?.get(key);
      const copy = e === undefined ? (JSON.parse(json) as JsonValue) : e.raw;
      this.#data.set(key, e === undefined ? copy : e.value);
      this.#raw.set(key, copy);
      this.#changed.set(key, copy);
      this.#removed.delete(key);
    }
    this.#sizeSum = sum;
  }

  /** Whether `key` is set in this request's view (the loaded or sized session plus its changes). */
  #present(key: string): boolean {
    if (this.#changed.has(key)) return true;
    if (this.#removed.has(key)) return false;
    return this.#loaded ? this.#raw.has(key) : (this.#sizes?.has(key) ?? true);
  }

  /** Removes keys. */
  async remove(...keys: (keyof Data & string)[]): Promise<void> {
    if ((keys as string[]).includes(META_KEY)) throw reservedKeyError('remove');
    await this.#prepareWrite();
    // The stored size describes #raw only until its first change: take it now (no serialization).
    if (this.#storedSize !== undefined) this.#ensureSizes();
    for (const key of keys) {
      // Not set in what this request read (nor by it): nothing to remove, so nothing is written.
      // A flash middleware removing its absent key on every request then costs no EVALSHA.
      if (!this.#present(key)) continue;
      // Measured before the value leaves #raw (sized lazily, it is measured from there).
      const size = this.#sizes === undefined ? undefined : this.#sizeOf(key);
      this.#data.delete(key);
      this.#raw.delete(key);
      this.#changed.delete(key);
      this.#removed.add(key);
      if (size !== undefined) {
        this.#sizeSum -= size;
        this.#sizes!.delete(key);
      }
    }
  }

  /**
   * Clears all data and deletes the stored record now. A later write in the same request starts a
   * new session under a fresh id. The cookie is left alone (see {@link destroy}).
   */
  async removeAll(): Promise<void> {
    if (this.#loading !== undefined) await this.#loading.catch(() => undefined);
    const id = this.#exists || !this.#loaded ? this.#id : undefined;
    if (id !== undefined) {
      const owner = this.#metaKnown ? this.#storedOwner : undefined;
      try {
        await this.#o.storage.remove(id);
        // A destroyed session leaves its owner's index (a stale entry would be pruned anyway).
        if (owner !== undefined) await this.#o.storage.removeOwned?.(owner, [id]);
      } catch (error) {
        throw wrapStorageError(error, 'remove');
      }
    }
    this.#reset();
  }

  /** Like {@link removeAll}, and the response expires the cookie (unless a new session is written). */
  async destroy(): Promise<void> {
    await this.removeAll();
    this.#destroyed = true;
  }

  /**
   * Moves the data to a new id and deletes the old record (session fixation protection: call it on
   * login). The new cookie is sent with the response.
   *
   * The move is atomic with the existence of the old record (with a storage that has `move`): if a
   * concurrent request destroyed the session meanwhile, its data is not brought back; the session
   * becomes empty under the new id instead (and nothing is stored until something is set). A
   * concurrent request that loaded the old id and saves after the move fails with
   * {@link SessionConflictError} (409) rather than losing its write silently.
   */
  async regenerate(): Promise<void> {
    await this.#load();
    const oldId = this.#exists ? this.#id : undefined;
    const newId = this.#generate();
    if (oldId !== undefined) {
      // What this request changed so far travels with the data (and is then saved).
      const clear = this.#clearStored;
      const changes: ChangeSet = { clear, remove: this.#removed, set: this.#withMeta(this.#changed, clear) };
      if (!(await this.#move(oldId, newId, changes))) {
        // Destroyed (or moved) by a concurrent request: its data stays gone, and so do this
        // request's earlier changes to it, as with any write to a removed session.
        this.#reset();
        this.#id = newId;
        this.#regenerated = true;
        return;
      }
      this.#exists = true;
      this.#version = undefined;
      this.#expiresAt = Date.now() + this.#ttl();
      this.#removed = new Set();
      this.#changed = new Map();
      this.#clearStored = false;
      this.#repair = false;
      this.#metaDirty = false;
      await this.#reindex(oldId, newId);
    } else if (this.#data.size > 0) {
      const set = this.#withMeta(this.#raw, true);
      await this.#reindex(undefined, newId);
      await this.#apply(
        newId,
        { clear: true, remove: EMPTY_SET, set },
        { mode: 'create', maxSize: this.#o.maxSize },
      );
      this.#exists = true;
      this.#version = undefined;
      this.#expiresAt = Date.now() + this.#ttl();
      this.#removed = new Set();
      this.#changed = new Map();
      this.#metaDirty = false;
    }
    this.#id = newId;
    this.#regenerated = true;
  }

  /**
   * Moves the stored record of `oldId` to `newId` with `changes` on top. False when the old record
   * was gone (nothing written). Uses `storage.move` when there is one; otherwise loads the old record
   * again, writes the new one and removes the old: the race with a concurrent destroy is then only
   * narrowed, and a concurrent write to the old id is lost (see docs/writing-a-storage.md).
   */
  async #move(oldId: string, newId: string, changes: ChangeSet): Promise<boolean> {
    const storage = this.#o.storage;
    const maxAge = this.#ttl();
    if (storage.move !== undefined) {
      const options: MoveOptions = { maxSize: this.#o.maxSize };
      if (this.#version !== undefined) options.version = this.#version;
      try {
        return (await storage.move(oldId, newId, changes, maxAge, options)).moved;
      } catch (error) {
        throw wrapStorageError(error, 'move');
      }
    }
    let current: StoredSession | undefined;
    try {
      current = await loadForMerge(storage, oldId, maxAge);
    } catch (error) {
      throw wrapStorageError(error, 'load');
    }
    if (current === undefined) return false;
    const set = new Map(Object.entries(applyChangeSet(current.data, changes)));
    await this.#apply(
      newId,
      { clear: true, remove: EMPTY_SET, set },
      { mode: 'create', maxSize: this.#o.maxSize },
    );
    try {
      await storage.remove(oldId);
    } catch (error) {
      throw wrapStorageError(error, 'remove');
    }
    return true;
  }

  /**
   * `set` with `__kv` added when the metadata must be written: it changed, a `clear` would wipe it,
   * or `force`. Stamps `created` first when the record has none (a new session, or one written
   * before `__kv` existed) and a lifecycle feature needs it; an app using none of them (no
   * `absoluteTimeout`, `setOwner`, `setMaxAge` or `cookie.persistent`) stores no `__kv` at all, so
   * its records stay exactly its data. Call it only for a write that is going to happen.
   */
  #withMeta(set: ReadonlyMap<string, JsonValue>, force: boolean): ReadonlyMap<string, JsonValue> {
    if (!this.#metaKnown) return set;
    if (this.#meta.created === undefined && (this.#metaDirty || this.#o.absoluteTimeout !== undefined)) {
      this.#changeMeta({ ...this.#meta, created: Date.now() });
    }
    if (!this.#metaDirty && !(force && Object.keys(this.#meta).length > 0)) return set;
    const out = new Map(set);
    out.set(META_KEY, metaValue(this.#meta));
    return out;
  }

  /**
   * Keeps the owner index in step with this session's owner: adds `id` under the current owner
   * before the record says so (the index may list more than is live, never less: core prunes the
   * rest), and takes `oldId` (or `id` under a previous owner) out of it.
   */
  async #reindex(oldId: string | undefined, id: string): Promise<void> {
    const storage = this.#o.storage;
    const owner = this.#meta.owner;
    const before = this.#storedOwner;
    if (owner === before && oldId === undefined) return;
    try {
      if (owner !== undefined) await storage.addOwned?.(owner, id, Date.now() + this.#ttl());
      if (before !== undefined && (before !== owner || oldId !== undefined)) {
        await storage.removeOwned?.(before, [oldId ?? id]);
      }
    } catch (error) {
      throw wrapStorageError(error, 'owner index');
    }
    this.#storedOwner = owner;
  }

  #generate(): string {
    const genid = this.#o.genid;
    if (genid === undefined) return generateId();
    const id = genid();
    if (!isValidId(id)) {
      throw new ConfigError(
        ['genid: returned an id that does not match ID_PATTERN (22-256 characters of A-Z a-z 0-9 _ -)'],
        'genid() result',
      );
    }
    return id;
  }

  #reset(): void {
    this.#id = undefined;
    this.#exists = false;
    this.#loaded = true;
    this.#loading = undefined;
    this.#data = new Map();
    this.#raw = this.#sharedRaw();
    this.#clearStored = false;
    this.#repair = false;
    this.#partial = undefined;
    this.#sizes = undefined;
    this.#sizing = undefined;
    this.#sizeSum = 0;
    this.#storedSize = undefined;
    this.#sizesLazy = false;
    this.#removed = new Set();
    this.#changed = new Map();
    this.#version = undefined;
    this.#expiresAt = undefined;
    this.#meta = {};
    this.#metaKnown = true;
    this.#metaDirty = false;
    this.#storedOwner = undefined;
  }

  /** Before the session is loaded: whether this request set or removed `key` (then #data knows). */
  #changedHere(key: string): boolean {
    return !this.#loaded && (this.#changed.has(key) || this.#removed.has(key));
  }

  /**
   * What a write needs first: the whole session, or, when the storage has `loadSizes` and `apply`,
   * only the size of each stored key (enough for `maxSize`; `apply` changes single keys).
   */
  async #prepareWrite(): Promise<void> {
    if (this.#loaded || this.#sizes !== undefined) return;
    if (!writesBySize(this.#o.storage) || this.#loading !== undefined) return this.#load();
    this.#sizing ??= this.#doLoadSizes();
    try {
      await this.#sizing;
    } catch (error) {
      this.#sizing = undefined;
      throw error;
    }
  }

  async #doLoadSizes(): Promise<void> {
    const id = this.#id!;
    const storage = this.#o.storage;
    const stored = await readSizes(storage, id, this.maxAge);
    // Corrupt (undefined), or loaded (or reset by removeAll) meanwhile: the whole-session load is
    // the truth from now on.
    if (stored === undefined || this.#loaded || this.#loading !== undefined || this.#id !== id) {
      return this.#load();
    }
    if (stored === MISSING) {
      this.#missing();
      return;
    }
    if (!this.#metaKnown) {
      if (!stored.sizes.has(META_KEY)) this.#takeMeta({});
      // Only a record that carries `__kv` (a lifecycle feature is in use) pays this second read:
      // its lifetime and creation decide the expiry the write sets.
      else if (!readsKeys(storage)) return this.#load();
      else {
        const read = await readMetaKey(storage, id, this.maxAge);
        if (read === undefined || this.#loaded || this.#loading !== undefined || this.#id !== id) {
          return this.#load();
        }
        if (read === MISSING) {
          this.#missing();
          return;
        }
        if (!this.#takeMeta(readMeta(read.meta))) {
          await this.#expire(id);
          return;
        }
      }
    }
    this.#exists = true;
    this.#version = stored.version;
    if (stored.expiresAt !== undefined) this.#expiresAt = stored.expiresAt;
    this.#sizes = stored.sizes;
    this.#sizeSum = stored.sum;
  }

  /** Nothing is stored under the id: the whole (empty) session is known. */
  #missing(): void {
    if (this.#id !== undefined) this.#vanished = true;
    this.#id = undefined;
    this.#exists = false;
    this.#meta = {};
    this.#metaKnown = true;
    this.#metaDirty = false;
    this.#storedOwner = undefined;
    this.#partial = undefined;
    // Sizes read earlier described the vanished record; recomputed from this request's data if needed.
    this.#sizes = undefined;
    this.#sizesLazy = false;
    this.#storedSize = undefined;
    this.#loaded = true;
  }

  #ensureSizes(): Map<string, number> {
    if (this.#sizes !== undefined) return this.#sizes;
    const stored = this.#storedSize;
    this.#storedSize = undefined;
    if (stored !== undefined) {
      // From the stored record's size: the data's entries are what is left once the braces, the
      // commas and the `__kv` entry are taken away (`{` + entries joined by `,` + `}`). Exact for a
      // record JSON.stringify wrote (this library, express-session); the storage's own check at the
      // write is exact anyway. Each key's own size is measured only when a write replaces or
      // removes it, so sizing a 100 KB session to set one small key costs no JSON.stringify of it.
      const { bytes, data } = stored;
      const keys = Object.keys(data).length;
      const meta = data[META_KEY];
      const metaEntry = meta === undefined ? 0 : entrySize(META_KEY, byteLength(JSON.stringify(meta)));
      this.#sizes = new Map();
      this.#sizesLazy = true;
      this.#sizeSum = keys === 0 ? 0 : bytes - 2 - (keys - 1) - metaEntry;
      return this.#sizes;
    }
    const valueBytes = new Map<string, number>();
    for (const [key, value] of this.#raw) valueBytes.set(key, byteLength(JSON.stringify(value)));
    const { sizes, sum } = entrySizes(valueBytes);
    this.#sizes = sizes;
    this.#sizeSum = sum;
    return sizes;
  }

  /** The size `maxSize` counts for `key` as the session holds it now (undefined: not set). */
  #sizeOf(key: string): number | undefined {
    const sizes = this.#sizes!;
    const known = sizes.get(key);
    if (known !== undefined || !this.#sizesLazy) return known;
    const value = this.#raw.get(key);
    if (value === undefined) return undefined;
    const size = entrySize(key, byteLength(JSON.stringify(value)));
    sizes.set(key, size);
    return size;
  }

  /** The map for #raw: #data itself without a schema, a separate one with. */
  #sharedRaw(): Map<string, JsonValue> {
    return this.#o.schema === undefined ? (this.#data as Map<string, JsonValue>) : new Map();
  }

  /**
   * Takes freshly loaded data (the stored record: its `__kv` entry is left out). Without a schema
   * the entries go straight into the session's map; with one they are validated against it and
   * `invalidStoredData` applies. Throws the mismatch error with 'fail' (nothing is kept, the next
   * access loads again).
   */
  #adopt(id: string, record: SessionData): void {
    const schema = this.#o.schema;
    if (schema === undefined) {
      const data = new Map<string, unknown>();
      for (const key of Object.keys(record)) if (key !== META_KEY) data.set(key, record[key]);
      this.#data = data;
      this.#raw = data as Map<string, JsonValue>;
      return;
    }
    const decoded = decodeStored(schema, splitMeta(record).data);
    if (decoded.issues.length > 0) {
      const policy = this.#o.invalidStoredData;
      const error = storedDataError(decoded, policy);
      if (policy === 'fail') throw error;
      this.#o.onError(error, { id: redactId(id), operation: 'load' });
      if (policy === 'reset') {
        this.#data = new Map();
        this.#raw = new Map();
        this.#clearStored = true;
        return;
      }
    }
    this.#data = decoded.values;
    this.#raw = decoded.raw;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loading ??= this.#doLoad();
    try {
      await this.#loading;
    } catch (error) {
      this.#loading = undefined;
      throw error;
    }
  }

  async #doLoad(): Promise<void> {
    const id = this.#id!;
    try {
      const stored = await this.#o.storage.load(id, this.maxAge);
      if (stored === undefined) {
        this.#missing();
      } else if (!this.#takeMeta(readMeta(stored.data[META_KEY]))) {
        await this.#expire(id);
      } else if (mayNestTooDeep(stored.size) && nestedDeeperThan(stored.data, MAX_VALUE_DEPTH + 1)) {
        // Written around this library (set() refuses such values): merging into it or serializing
        // it would overflow the stack, so it is corrupt data. Reported, read as empty, and the next
        // write replaces the whole record (a storage merging into it would overflow the stack).
        this.#o.onError(
          new CorruptDataError(
            `Stored session nests values deeper than ${MAX_VALUE_DEPTH} levels (MAX_VALUE_DEPTH); the session reads as empty`,
          ),
          { id: redactId(id), operation: 'load' },
        );
        this.#partial = undefined;
        this.#exists = true;
        this.#version = stored.version;
        this.#expiresAt = stored.expiresAt;
        this.#clearStored = true;
        this.#repair = true;
      } else {
        const sizable =
          stored.size !== undefined &&
          this.#o.schema === undefined &&
          this.#changed.size === 0 &&
          this.#removed.size === 0;
        this.#adoptUnderChanges(id, stored.data);
        this.#partial = undefined;
        this.#exists = true;
        this.#version = stored.version;
        this.#expiresAt = stored.expiresAt;
        // Kept as is: counted only if this request writes (a read pays nothing for it).
        if (sizable) this.#storedSize = { bytes: stored.size!, data: stored.data };
      }
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw wrapStorageError(error, 'load');
      // Reported, then read as empty; the next save replaces exactly the corrupt value.
      this.#o.onError(error, { id: redactId(id), operation: 'load' });
      this.#takeMeta({});
      this.#exists = true;
      this.#version = error.version;
      this.#clearStored = true;
      this.#repair = true;
    }
    // Sizes read by loadSizes described the stored record alone: recomputed from the data if needed.
    this.#sizes = undefined;
    this.#sizesLazy = false;
    this.#loaded = true;
  }

  /**
   * {@link #adopt}, keeping what this request already changed on top (a sized session is written
   * before it is loaded).
   */
  #adoptUnderChanges(id: string, data: SessionData): void {
    if (this.#changed.size === 0 && this.#removed.size === 0) {
      this.#adopt(id, data);
      return;
    }
    const changed = [...this.#changed.keys()].map((key) => [key, this.#data.get(key)] as const);
    this.#adopt(id, data);
    for (const key of this.#removed) {
      this.#data.delete(key);
      this.#raw.delete(key);
    }
    for (const [key, value] of changed) {
      this.#data.set(key, value);
      this.#raw.set(key, this.#changed.get(key)!);
    }
  }

  /**
   * Reads one key through `storage.loadKeys` when the storage has it and the whole session is not
   * loaded yet. True when the key is now in #partial; false when the caller must use #load().
   */
  async #loadKey(key: string): Promise<boolean> {
    if (this.#loaded || this.#loading !== undefined || !readsKeys(this.#o.storage)) return false;
    if (this.#partial?.has(key)) return true;
    const id = this.#id!;
    // The metadata comes along the first time (same round trip): the lifetime and absoluteTimeout.
    const withMeta = !this.#metaKnown;
    const read = await readKey(this.#o, id, key, this.maxAge, withMeta);
    // Corrupt (undefined), or the whole session was loaded (or written) meanwhile: the
    // whole-session load is the truth from now on.
    if (read === undefined || this.#loaded || this.#loading !== undefined || this.#id !== id) return false;
    if (read === MISSING) {
      this.#missing();
      return false;
    }
    if (withMeta && !this.#takeMeta(readMeta(read.meta))) {
      await this.#expire(id);
      return false;
    }
    this.#exists = true;
    if (read.expiresAt !== undefined) this.#expiresAt = read.expiresAt;
    if (!read.usable) return false;
    this.#partial ??= new Map();
    this.#partial.set(key, read.value);
    return true;
  }

  async #apply(id: string, changes: ChangeSet, options: ApplyOptions): Promise<ApplyResult> {
    const storage = this.#o.storage;
    const maxAge = this.#ttl();
    try {
      if (storage.apply !== undefined) return await storage.apply(id, changes, maxAge, options);
      // Fallback for storages without an atomic operation: load, merge, save. Can lose concurrent writes.
      const current = options.mode === 'update' ? await loadForMerge(storage, id, maxAge) : undefined;
      if (current === undefined && options.mode === 'update') return { existed: false, written: false };
      const merged = applyChangeSet(current?.data, changes);
      serializeSession(merged, options.maxSize);
      await storage.save(id, merged, maxAge);
      return { existed: current !== undefined, written: true };
    } catch (error) {
      throw wrapStorageError(error, 'save');
    }
  }

  /**
   * @internal Saves or refreshes the session and says what happened. Synchronous (a value, no
   * promise) when there is nothing to store: a session never read or changed, or a read-only one
   * whose stored expiry needs no refresh; a promise otherwise.
   */
  [commitSession](): CommitOutcome | Promise<CommitOutcome> {
    const o = this.#o;
    // After a 'reset' of off-schema stored data, the first write replaces the whole stored value.
    const clear = this.#repair || (this.#clearStored && (this.#removed.size > 0 || this.#changed.size > 0));
    const now = Date.now();
    let refresh = false;
    if (this.#metaKnown && this.#exists) {
      // A record from before `__kv` under absoluteTimeout: its clock starts now (written once).
      if (o.absoluteTimeout !== undefined && this.#meta.created === undefined) this.#metaDirty = true;
      // A persistent cookie is re-sent once per refresh window of use (and when its lifetime changed).
      if (o.cookie.persistent) {
        const seen = this.#meta.seen;
        if (this.#lifetimeChanged || seen === undefined || now - seen >= this.#refreshWindow(this.maxAge)) {
          this.#changeMeta({ ...this.#meta, seen: now });
          refresh = true;
        }
      }
    } else if (this.#metaKnown && o.cookie.persistent && this.#changed.size > 0) {
      this.#changeMeta({ ...this.#meta, seen: now });
    }
    const changes: ChangeSet = { clear, remove: this.#removed, set: this.#changed };
    // Removing keys from a session that was never stored writes nothing (no empty record, no cookie).
    if (!this.#exists && this.#changed.size === 0) this.#removed = new Set();
    else if (!isEmptyChangeSet(changes) || this.#metaDirty) return this.#write(changes, clear, refresh);
    else if (
      (this.#loaded || this.#partial !== undefined || this.#sizes !== undefined) &&
      this.#exists &&
      this.#id !== undefined
    ) {
      const expiresAt = this.#expiresAt;
      const maxAge = this.#ttl(now);
      const left = expiresAt === undefined ? undefined : expiresAt - now;
      // Behind by more than the window, or beyond maxAge (loaded with a longer lifetime than the
      // one setMaxAge gave this session, or than absoluteTimeout leaves; 1 s of slack for storages
      // that round to seconds): the stored expiry is set to exactly that lifetime from now.
      if (left === undefined || left < maxAge - this.#refreshWindow(maxAge) || left > maxAge + 1000) {
        return this.#touch(this.#id, maxAge, refresh);
      }
    }
    return this.#outcome(false, refresh);
  }

  /** The commit's write of this request's changes (and metadata): see {@link commitSession}. */
  async #write(changes: ChangeSet, clear: boolean, refresh: boolean): Promise<CommitOutcome> {
    const o = this.#o;
    const id = this.id;
    const set = this.#withMeta(changes.set, clear);
    const write: ChangeSet = set === changes.set ? changes : { clear, remove: changes.remove, set };
    // Into the index before the record names its owner: the index may hold more, never less.
    await this.#reindex(undefined, id);
    const options: ApplyOptions = { mode: this.#exists ? 'update' : 'create', maxSize: o.maxSize };
    if (this.#version !== undefined) options.version = this.#version;
    // Writes made while this save is in flight (a streamed response) start a fresh change set.
    const removed = this.#removed;
    const changed = this.#changed;
    this.#removed = new Set();
    this.#changed = new Map();
    let result: ApplyResult;
    try {
      result = await this.#apply(id, write, options);
      // Moved to a new id by a concurrent regenerate(): fail loudly rather than lose the write.
      if (result.moved === true) throw new SessionConflictError();
    } catch (error) {
      // Nothing was written: keep every change for a later commit, the newer ones on top.
      for (const key of this.#removed) {
        changed.delete(key);
        removed.add(key);
      }
      for (const [key, value] of this.#changed) {
        removed.delete(key);
        changed.set(key, value);
      }
      this.#removed = removed;
      this.#changed = changed;
      throw error;
    }
    const written = result.written;
    if (written) {
      this.#metaDirty = false;
      this.#lifetimeChanged = false;
    }
    if (clear) {
      this.#clearStored = false;
      this.#repair = false;
    }
    // Not written in update mode: another request removed the session; it stays removed.
    this.#exists = written;
    return this.#outcome(written, refresh);
  }

  /** The commit's refresh of the stored expiry of a read-only session: see {@link commitSession}. */
  async #touch(id: string, maxAge: number, refresh: boolean): Promise<CommitOutcome> {
    try {
      await this.#o.storage.touch(id, maxAge);
    } catch (error) {
      throw wrapStorageError(error, 'touch');
    }
    return this.#outcome(false, refresh);
  }

  /** What a commit did, once its storage call (if any) is done. */
  #outcome(written: boolean, refresh: boolean): CommitOutcome {
    const live = this.#exists && this.#id !== undefined;
    return {
      id: live ? this.#id : undefined,
      live,
      issued: live && (this.#regenerated || (written && this.#id !== this.#incomingId)),
      // Under absoluteTimeout a cookie whose session is gone is expired too: the record may have
      // reached its capped expiry before this read, and the cookie must end with it.
      destroyed: this.#destroyed || (this.#o.absoluteTimeout !== undefined && this.#vanished),
      maxAge: this.#ttl(),
      refresh: live && refresh,
    };
  }
}
