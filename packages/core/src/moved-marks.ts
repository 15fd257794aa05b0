// The "moved" marks StorageMemory and StorageFile keep for ids that regenerate() moved away (internal).

/**
 * Keys (ids or file names) moved away by a storage's `move`, each with when its mark expires (epoch
 * ms), so that an update to one of them answers `moved` instead of vanishing. A mark holds no data
 * and reads as missing. Bounded: past `max` marks the oldest go first (a mark lost early only makes
 * a racing write vanish, as before marks existed).
 */
export class MovedMarks {
  /** Map order = oldest mark first. */
  readonly #until = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(max: number, now: () => number) {
    this.#max = max;
    this.#now = now;
  }

  /** Marks `key` as moved until `until` (epoch ms), dropping the oldest marks past the bound. */
  mark(key: string, until: number): void {
    this.#until.delete(key); // re-inserted last: it is now the newest
    this.#until.set(key, until);
    for (const old of this.#until.keys()) {
      if (this.#until.size <= this.#max) break;
      this.#until.delete(old);
    }
  }

  /** Whether `key` carries a live mark; an expired one is dropped. */
  has(key: string): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#until.delete(key);
    return false;
  }

  delete(key: string): void {
    this.#until.delete(key);
  }

  clear(): void {
    this.#until.clear();
  }
}
