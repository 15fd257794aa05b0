import { z } from 'zod';
import { applyChangeSet, serializeSession } from './change-set.js';
import { StorageError } from './errors.js';
import type { SessionData } from './json.js';
import { MovedMarks } from './moved-marks.js';
import { fn, parseOptions } from './option-schema.js';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeSet,
  MoveOptions,
  MoveResult,
  OwnedSession,
  PeekedSession,
  Storage,
  StoredSession,
} from './storage.js';

/** Options of {@link StorageMemory}. */
export interface StorageMemoryOptions {
  /**
   * Most sessions kept; past it sessions are evicted (expired ones first, then see the class).
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Most memory, in bytes, the stored sessions may take, counted as the UTF-16 size of their JSON
   * text and id plus a fixed overhead per entry (about what V8 holds for them). Past it sessions are
   * evicted as for `maxEntries`. The default keeps a flood of large anonymous sessions (400 of 1 MB
   * took a process from 77 to 659 MB) to a size a laptop survives. @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /** Clock in epoch milliseconds, for tests. @default Date.now */
  now?: () => number;
}

const memorySchema = z.strictObject({
  maxEntries: z.number().int().positive().default(10_000),
  maxBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  now: fn<() => number>('returning epoch milliseconds').optional(),
});

interface Entry {
  json: string;
  expiresAt: number;
  /** Bytes counted against `maxBytes`. */
  bytes: number;
}

const SWEEP_INTERVAL_MS = 1000;
/** Bytes counted per entry beyond its text: the map slot, the entry object, the string headers. */
const ENTRY_OVERHEAD = 160;
/** Share of `maxEntries` / `maxBytes` that sessions used more than once may fill. */
const PROTECTED_SHARE = 0.8;

/**
 * Sessions in this process's memory: the embedded default. Bounded by count (`maxEntries`) and
 * size (`maxBytes`), honours expiry, stores JSON text so no object is shared between requests, and
 * applies change sets atomically. Sessions do not survive a restart and are not shared between
 * processes.
 *
 * Eviction is a segmented LRU, so that a flood of new sessions (anonymous traffic, an attack)
 * cannot push out sessions in active use: a new session enters a probation segment; using it again
 * (a later load, touch or write) moves it to a protected segment. When full, expired sessions go
 * first, then the least recently used probation sessions, and protected ones only when no probation
 * session is left. The protected segment holds at most 80% of either bound; past that, its least
 * recently used session moves back to probation.
 */
export class StorageMemory implements Storage {
  /** Used once; Map order = least recently used first. */
  readonly #probation = new Map<string, Entry>();
  /** Used again after creation; Map order = least recently used first. */
  readonly #protected = new Map<string, Entry>();
  /**
   * Ids moved away by {@link move}, with when the mark expires (epoch ms): an update to one of them
   * answers `moved` instead of vanishing. Kept apart from the entries (a mark holds no data and
   * reads as missing); bounded like them, oldest first.
   */
  readonly #moved: MovedMarks;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /**
   * Owner index: owner → id → expiry hint (epoch ms). Not bounded by maxEntries: core prunes the
   * ids of sessions that are gone whenever an owner's sessions are listed or destroyed.
   */
  readonly #owners = new Map<string, Map<string, number>>();
  #bytes = 0;
  #protectedBytes = 0;
  #lastSweep = 0;

  constructor(options: StorageMemoryOptions = {}) {
    const { maxEntries, maxBytes, now } = parseOptions(memorySchema, options, 'StorageMemory options');
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#now = now ?? Date.now;
    this.#moved = new MovedMarks(maxEntries, this.#now);
  }

  /** Number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#probation.size + this.#protected.size;
  }

  /** Bytes counted against `maxBytes` for the entries held. */
  get bytes(): number {
    return this.#bytes;
  }

  #delete(id: string): Entry | undefined {
    const entry = this.#protected.get(id);
    if (entry !== undefined) {
      this.#protected.delete(id);
      this.#protectedBytes -= entry.bytes;
      this.#bytes -= entry.bytes;
      return entry;
    }
    const probation = this.#probation.get(id);
    if (probation !== undefined) {
      this.#probation.delete(id);
      this.#bytes -= probation.bytes;
    }
    return probation;
  }

  /** Inserts as most recently used of the protected segment (a session used again). */
  #protect(id: string, entry: Entry): void {
    this.#protected.set(id, entry);
    this.#protectedBytes += entry.bytes;
    this.#bytes += entry.bytes;
    while (
      this.#protected.size > 1 &&
      (this.#protected.size > this.#maxEntries * PROTECTED_SHARE ||
        this.#protectedBytes > this.#maxBytes * PROTECTED_SHARE)
    ) {
      const [oldId, old] = this.#protected.entries().next().value!;
      this.#protected.delete(oldId);
      this.#protectedBytes -= old.bytes;
      this.#probation.set(oldId, old); // bytes stay counted in #bytes
    }
  }

  /** The live entry, now counted as used again; `undefined` when missing or expired. */
  #live(id: string): Entry | undefined {
    const entry = this.#delete(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#protect(id, entry);
    return entry;
  }

  #put(id: string, json: string, maxAgeMs: number): void {
    const bytes = 2 * (json.length + id.length) + ENTRY_OVERHEAD;
    if (bytes > this.#maxBytes) {
      throw new StorageError(
        `StorageMemory: a session of ${bytes} bytes does not fit in maxBytes (${this.#maxBytes})`,
      );
    }
    const existing = this.#delete(id);
    const entry: Entry = { json, expiresAt: this.#now() + maxAgeMs, bytes };
    if (existing === undefined) {
      this.#probation.set(id, entry);
      this.#bytes += bytes;
    } else {
      this.#protect(id, entry);
    }
    this.#evict(id);
  }

  #full(): boolean {
    return this.size > this.#maxEntries || this.#bytes > this.#maxBytes;
  }

  /** Evicts until within bounds; `keep` (the entry just written) goes last. */
  #evict(keep: string): void {
    if (!this.#full()) return;
    const now = this.#now();
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      this.#lastSweep = now;
      for (const segment of [this.#probation, this.#protected]) {
        for (const [id, entry] of segment) if (entry.expiresAt <= now) this.#delete(id);
      }
    }
    for (const segment of [this.#probation, this.#protected]) {
      for (const id of segment.keys()) {
        if (!this.#full()) return;
        if (id !== keep) this.#delete(id);
      }
    }
  }

  async load(id: string): Promise<StoredSession | undefined> {
    const entry = this.#live(id);
    if (entry === undefined) return undefined;
    return { data: JSON.parse(entry.json) as SessionData, expiresAt: entry.expiresAt };
  }

  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    this.#put(id, JSON.stringify(data), maxAgeMs);
  }

  async touch(id: string, maxAgeMs: number): Promise<void> {
    const entry = this.#live(id);
    if (entry !== undefined) entry.expiresAt = this.#now() + maxAgeMs;
  }

  async remove(id: string): Promise<void> {
    this.#delete(id);
    this.#moved.delete(id);
  }

  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    // Synchronous from here on: nothing else runs in between, so the merge is atomic.
    const entry = this.#peek(id);
    if (entry === undefined && options.mode === 'update') {
      return this.#moved.has(id)
        ? { existed: false, written: false, moved: true }
        : { existed: false, written: false };
    }
    const base = entry === undefined ? undefined : (JSON.parse(entry.json) as SessionData);
    const json = serializeSession(applyChangeSet(base, changes), options.maxSize);
    this.#put(id, json, maxAgeMs);
    return { existed: entry !== undefined, written: true };
  }

  /** The live entry without counting a use (`#put` counts it); expired ones are dropped. */
  #peek(id: string): Entry | undefined {
    const entry = this.#protected.get(id) ?? this.#probation.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#now()) return entry;
    this.#delete(id);
    return undefined;
  }

  async move(
    fromId: string,
    toId: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: MoveOptions,
  ): Promise<MoveResult> {
    // Synchronous from here on, like apply: the old record's existence and the move are one step.
    const entry = this.#peek(fromId);
    if (entry === undefined) return { moved: false };
    // Serialized (and checked against maxSize) before anything changes.
    const json = serializeSession(
      applyChangeSet(JSON.parse(entry.json) as SessionData, changes),
      options.maxSize,
    );
    this.#delete(fromId);
    this.#put(toId, json, maxAgeMs);
    this.#moved.mark(fromId, this.#now() + maxAgeMs);
    return { moved: true };
  }

  async peek(id: string): Promise<PeekedSession | undefined> {
    const entry = this.#peek(id);
    if (entry === undefined) return undefined;
    return { data: JSON.parse(entry.json) as SessionData, expiresAt: entry.expiresAt };
  }

  async addOwned(owner: string, id: string, expiresAt: number): Promise<void> {
    const ids = this.#owners.get(owner) ?? new Map<string, number>();
    ids.set(id, expiresAt);
    this.#owners.set(owner, ids);
  }

  async listOwned(owner: string): Promise<OwnedSession[]> {
    return [...(this.#owners.get(owner) ?? [])].map(([id, expiresAt]) => ({ id, expiresAt }));
  }

  async removeOwned(owner: string, ids: readonly string[]): Promise<void> {
    const owned = this.#owners.get(owner);
    if (owned === undefined) return;
    for (const id of ids) owned.delete(id);
    if (owned.size === 0) this.#owners.delete(owner);
  }

  async close(): Promise<void> {
    this.#owners.clear();
    this.#probation.clear();
    this.#protected.clear();
    this.#bytes = 0;
    this.#protectedBytes = 0;
    this.#moved.clear();
  }
}
