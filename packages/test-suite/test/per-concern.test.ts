import { ConfigError, StorageMemory } from '@kv-session/core';
import { runStorageSuites, type StorageSuite, storageSuites } from '@kv-session/test-suite';
import { describe, expect, it } from 'vitest';

// A storage author's use: some concerns alone, plus an extra check in the same shape.
const extra: StorageSuite = (t) => {
  describe('extra (the author’s own)', () => {
    it('sees the storage the other suites test', async () => {
      await t.storage.save('extra-check-id-0123456789', { a: 1 }, 60_000);
      expect((await t.storage.load('extra-check-id-0123456789', 60_000))?.data).toEqual({ a: 1 });
    });
  });
};
runStorageSuites('StorageMemory (basic, apply, loadKeys, extra)', () => new StorageMemory(), [
  storageSuites.basic,
  storageSuites.apply,
  storageSuites.loadKeys,
  extra,
]);

it('storageSuites holds every concern runStorageTestSuite runs, once', () => {
  const suites = Object.values(storageSuites);
  expect(new Set(suites).size).toBe(suites.length);
  expect(Object.keys(storageSuites)).toEqual([
    'basic',
    'expiry',
    'copies',
    'apply',
    'loadKeys',
    'loadSizes',
    'values',
    'ids',
    'move',
    'regenerate',
    'ownerIndex',
    'close',
  ]);
});

// expiryGrace (ms), and its deprecated alias expiryGraceMs: what the suites see as t.grace.
const graceIs =
  (ms: number): StorageSuite =>
  (t) => {
    it(`sees an expiry grace of ${ms} ms`, () => {
      expect(t.grace).toBe(ms);
    });
  };
runStorageSuites('grace: default', () => new StorageMemory(), [graceIs(0)]);
runStorageSuites('grace: expiryGrace', () => new StorageMemory(), [graceIs(250)], { expiryGrace: 250 });
runStorageSuites('grace: expiryGraceMs', () => new StorageMemory(), [graceIs(300)], { expiryGraceMs: 300 });

it('expiryGrace and its deprecated alias expiryGraceMs at once is a ConfigError', () => {
  const both = () =>
    runStorageSuites('both', () => new StorageMemory(), [], { expiryGrace: 1, expiryGraceMs: 1 });
  expect(both).toThrow(ConfigError);
  expect(both).toThrow(
    'Invalid storage test suite options:\n  - expiryGraceMs: deprecated name of expiryGrace; give only expiryGrace',
  );
});
