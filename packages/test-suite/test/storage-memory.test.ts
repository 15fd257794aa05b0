import { StorageMemory } from '@kv-session/core';
import { runStorageTestSuite } from '@kv-session/test-suite';

runStorageTestSuite('StorageMemory', () => new StorageMemory());

// A bounded instance must pass too, as long as the suite's sessions fit.
runStorageTestSuite('StorageMemory (maxEntries 200)', () => new StorageMemory({ maxEntries: 200 }));
