/**
 * What every per-concern suite gets: the storage under test and the suite's helpers. Internal to
 * the package except for the {@link SuiteContext} type (a suite is a function of it).
 */
import type { ApplyOptions, ApplyResult, ChangeSet, Storage, StoredSession } from '@kv-session/core';

/** What a per-concern suite (see `storageSuites`) receives from {@link runStorageSuites}. */
export interface SuiteContext {
  /** The storage under test: created in `beforeAll`, so read it inside tests and hooks only. */
  readonly storage: Storage;
  /** Creates one more storage with the factory (released by the teardown like the first). */
  make(): Promise<Storage>;
  /** Storages a test closed itself: the default teardown does not close them again. */
  readonly closed: Set<Storage>;
  /** The `expiryGrace` option: extra ms to wait past a max age (0 by default). */
  readonly grace: number;
  /** Waits until a record written with {@link SHORT_MS} is certainly past its max age (plus grace). */
  pastExpiry(): Promise<void>;
}

/** Short max age used by the expiry tests, in milliseconds. */
export const SHORT_MS = 400;
/** Max age for records that must outlive a test, in milliseconds. */
export const LONG_MS = 60_000;
/** maxSize passed to apply when a test does not care about it. */
export const NO_LIMIT = 16 * 1024 * 1024;

/** A timed step finished too late for its scenario to prove anything (the machine paused, not the storage). */
class TooLate extends Error {}

/**
 * Throws {@link TooLate} unless less than `windowMs` (minus a 50 ms margin) passed since `since`:
 * the check a timed scenario makes after each step that had to happen before a record expired.
 */
export function inTime(since: number, windowMs: number): void {
  const elapsed = Date.now() - since;
  if (elapsed > windowMs - 50)
    throw new TooLate(`a step came ${elapsed} ms after the start of its ${windowMs} ms window`);
}

/**
 * Runs an expiry scenario, again (at most three times in all) when one of its {@link inTime} checks
 * found that the test process itself was too slow (a busy machine, a GC pause), so that only a
 * storage's own mistakes fail the suite.
 */
export async function timed(scenario: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scenario();
    } catch (e) {
      if (!(e instanceof TooLate) || attempt === 3) throw e;
    }
  }
}

/** Apply options in update mode, carrying the version a load returned (when the storage gives one). */
export function updateWith(loaded: StoredSession | undefined): ApplyOptions {
  const options: ApplyOptions = { mode: 'update', maxSize: NO_LIMIT };
  if (loaded?.version !== undefined) options.version = loaded.version;
  return options;
}

/** `s.apply`, bound; for tests that skipped themselves unless the storage has it. */
export function apply(
  s: Storage,
): (id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions) => Promise<ApplyResult> {
  const fn = s.apply;
  if (fn === undefined) throw new Error('unreachable: apply tests run only when apply exists');
  return fn.bind(s);
}
