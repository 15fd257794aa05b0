import { ConfigError, type Storage } from '@kv-session/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { SHORT_MS, type SuiteContext } from './context.js';
import { sleep } from './fixtures.js';
import { ownerIndexSuite } from './owner-index.js';
import { applySuite } from './suites/apply.js';
import { basicSuite } from './suites/basic.js';
import { closeSuite } from './suites/close.js';
import { copiesSuite } from './suites/copies.js';
import { expirySuite } from './suites/expiry.js';
import { idsSuite } from './suites/ids.js';
import { loadKeysSuite } from './suites/load-keys.js';
import { loadSizesSuite } from './suites/load-sizes.js';
import { moveSuite } from './suites/move.js';
import { regenerateSuite } from './suites/regenerate.js';
import { valuesSuite } from './suites/values.js';

export type { SuiteContext } from './context.js';

/** Options of {@link runStorageTestSuite} and {@link runStorageSuites}. */
export interface StorageTestSuiteOptions {
  /**
   * Releases what `factory` created (a client, a server). Called in `afterAll` for every storage the
   * factory returned, including the one whose `close()` the suite already called, so it must
   * tolerate a closed storage. @default calls `storage.close()` on storages not closed yet
   */
  teardown?: (storage: Storage) => Promise<void> | void;
  /**
   * Extra milliseconds to wait past a max age before expecting a session to be gone, for storages
   * whose expiry is coarse (rounded up to seconds, swept periodically). @default 0
   */
  expiryGrace?: number;
  /** @deprecated Use {@link expiryGrace} (the same milliseconds; durations carry no unit suffix). */
  expiryGraceMs?: number;
}

/** One concern of the conformance suite: registers its `describe` block for the storage in `t`. */
export type StorageSuite = (t: SuiteContext) => void;

/**
 * The conformance suite, one entry per concern, in the order {@link runStorageTestSuite} runs them.
 * Pick some to run them alone with {@link runStorageSuites} (while writing a storage, say). A suite
 * for an optional method reports its tests as skipped when the storage lacks the method.
 */
export const storageSuites = {
  /** load, save, remove, touch (the required methods) and `expiresAt`. */
  basic: basicSuite,
  /** Expiry in milliseconds, through `save`, `touch` and `apply`. */
  expiry: expirySuite,
  /** Loads return fresh copies; saved and applied values are copied. */
  copies: copiesSuite,
  /** `apply`: atomic change sets, modes, `clear`, concurrent writers, `maxSize`, versions. */
  apply: applySuite,
  /** `loadKeys`: reading single keys. */
  loadKeys: loadKeysSuite,
  /** `loadSizes`: the stored size of each key. */
  loadSizes: loadSizesSuite,
  /** Large and unicode values, awkward keys. */
  values: valuesSuite,
  /** Ids with unusual but valid characters. */
  ids: idsSuite,
  /** `move`: regenerate() atomic with the old record. */
  move: moveSuite,
  /** regenerate() racing other requests, through a SessionManager on the storage. */
  regenerate: regenerateSuite,
  /** Owner index (`addOwned`, `listOwned`, `removeOwned`) and `peek`: listSessions / destroySessions. */
  ownerIndex: ownerIndexSuite,
  /** `close()`. */
  close: closeSuite,
} as const satisfies Record<string, StorageSuite>;

/**
 * Registers the given per-concern suites for a {@link Storage} under one `describe` block,
 * `Storage conformance: <name>`. The factory is called once before the suites (and again by tests
 * that need a second storage, such as the `close()` one); every storage it returned is released
 * after them.
 *
 * ```ts
 * import { runStorageSuites, storageSuites } from '@kv-session/test-suite';
 * runStorageSuites('MyStorage', () => new MyStorage(), [storageSuites.basic, storageSuites.apply]);
 * ```
 */
export function runStorageSuites(
  name: string,
  factory: () => Storage | Promise<Storage>,
  suites: readonly StorageSuite[],
  options: StorageTestSuiteOptions = {},
): void {
  if (options.expiryGrace !== undefined && options.expiryGraceMs !== undefined) {
    throw new ConfigError(
      ['expiryGraceMs: deprecated name of expiryGrace; give only expiryGrace'],
      'storage test suite options',
    );
  }
  const grace = options.expiryGrace ?? options.expiryGraceMs ?? 0;
  const created: Storage[] = [];
  const closed = new Set<Storage>();
  let storage: Storage | undefined;

  const make = async (): Promise<Storage> => {
    const s = await factory();
    created.push(s);
    return s;
  };
  const t: SuiteContext = {
    get storage(): Storage {
      if (storage === undefined) throw new Error('the storage under test exists only inside tests and hooks');
      return storage;
    },
    make,
    closed,
    grace,
    pastExpiry: () => sleep(SHORT_MS + grace + 100),
  };

  describe(`Storage conformance: ${name}`, () => {
    beforeAll(async () => {
      storage = await make();
    });

    afterAll(async () => {
      for (const s of created) {
        if (options.teardown !== undefined) await options.teardown(s);
        else if (!closed.has(s)) await s.close?.();
      }
    });

    for (const suite of suites) suite(t);
  });
}

/**
 * Registers the whole kv-session conformance suite for a {@link Storage} implementation with
 * vitest: every suite of {@link storageSuites}. Call it at the top level of a test file:
 *
 * ```ts
 * import { runStorageTestSuite } from '@kv-session/test-suite';
 * runStorageTestSuite('MyStorage', () => new MyStorage());
 * ```
 *
 * It checks load/save/remove/touch, expiry in milliseconds, that loads return fresh copies, the
 * atomic `apply` (create/update modes, a removed session is not recreated, `clear`, 50 concurrent
 * writers, `maxSize`, versions), `loadKeys`, `loadSizes`, large and unicode values, unusual but
 * valid ids, `move` and regenerate() races, the owner index, and `close()`.
 * Tests of optional methods a storage lacks are reported as skipped. Every test uses fresh random
 * ids, so the suite can share a backend with other data.
 *
 * @param name Name of the `describe` block.
 * @param factory Creates the storage; called once for the suite, and once more for the `close()` test.
 * @param options Teardown hook and expiry grace for coarse storages.
 */
export function runStorageTestSuite(
  name: string,
  factory: () => Storage | Promise<Storage>,
  options: StorageTestSuiteOptions = {},
): void {
  runStorageSuites(name, factory, Object.values(storageSuites), options);
}
