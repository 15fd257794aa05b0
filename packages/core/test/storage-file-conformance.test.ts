import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageFile } from '@kv-session/core';
import { runStorageTestSuite } from '@kv-session/test-suite';
import { afterAll } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'kv-session-file-suite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

runStorageTestSuite('StorageFile', () => new StorageFile({ dir: join(root, 'plain') }));

runStorageTestSuite(
  'StorageFile (AES-256-GCM)',
  () => new StorageFile({ dir: join(root, 'encrypted'), encryptionKey: Buffer.alloc(32, 7) }),
);
