import { applyChangeSet, serializeSession } from './change-set.js';
import { ConfigError } from './errors.js';
import type { SessionData } from './json.js';
import type { ApplyOptions, ApplyResult, ChangeSet, Storage, StoredSession } from './storage.js';

/** Options of {@link StorageMemory}. */
export interface StorageMemoryOptions {
  /**
   * Most sessions kept; past it the least recently used are evicted (after expired ones).
   * @default 10000
   */
  maxEntries?: number;
  /** Clock in epoch milliseconds, for tests. @default Date.now */
  now?: () => number;
}

interface Entry {
  json: string;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 1000;

/**
 * Sessions in this process's memory: the embedded default. Bounded (LRU over `maxEntries`), honours
 * expiry, stores JSON text so no object is shared between requests, and applies change sets
 * atomically. Sessions do not survive a restart and are not shared between processes.
 */
export class StorageMemory implements Storage {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(options: StorageMemoryOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigError(
        [`maxEntries: expected a positive integer, got ${String(maxEntries)}`],
        'StorageMemory options',
      );
    }
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** Number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  #live(id: string): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(id);
      return undefined;
    }
    // Re-insert to keep Map order = least recently used first.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry;
  }

  #put(id: string, json: string, maxAgeMs: number): void {
    this.#entries.delete(id);
    this.#entries.set(id, { json, expiresAt: this.#now() + maxAgeMs });
    if (this.#entries.size > this.#maxEntries) this.#evict();
  }

  #evict(): void {
    const now = this.#now();
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      this.#lastSweep = now;
      for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
    }
    for (const id of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(id);
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
    this.#entries.delete(id);
  }

  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    // Synchronous from here on: nothing else runs in between, so the merge is atomic.
    const entry = this.#live(id);
    if (entry === undefined && options.mode === 'update') return { existed: false, written: false };
    const base = entry === undefined ? undefined : (JSON.parse(entry.json) as SessionData);
    const json = serializeSession(applyChangeSet(base, changes), options.maxSize);
    this.#put(id, json, maxAgeMs);
    return { existed: entry !== undefined, written: true };
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
