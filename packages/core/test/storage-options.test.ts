// StorageMemory and StorageFile validate their options with zod, like SessionManager: one
// ConfigError at construction listing every problem as `path: message`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageFile, type StorageFileOptions, StorageMemory } from '@kv-session/core';
import { afterAll, describe, expect, it } from 'vitest';
import { thrownConfigError } from './helpers.js';

const parent = mkdtempSync(join(tmpdir(), 'kv-session-options-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const configError = thrownConfigError;

describe('StorageMemory options', () => {
  it('lists every bad option in one ConfigError', () => {
    const error = configError(() => new StorageMemory({ maxEntries: 0, maxBytes: 1.5 }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(
      'Invalid StorageMemory options:\n' +
        '  - maxEntries: Too small: expected number to be >0\n' +
        '  - maxBytes: Invalid input: expected int, received number',
    );
  });

  it('refuses unknown options and a clock that is not a function', () => {
    const unknown = { maxEntrie: 5 } as unknown as ConstructorParameters<typeof StorageMemory>[0];
    expect(configError(() => new StorageMemory(unknown)).issues).toEqual([
      '(root): Unrecognized key: "maxEntrie"',
    ]);
    const clock = { now: 5 } as unknown as ConstructorParameters<typeof StorageMemory>[0];
    expect(configError(() => new StorageMemory(clock)).issues).toEqual([
      'now: must be a function (returning epoch milliseconds)',
    ]);
  });

  it('accepts its defaults and valid values', () => {
    expect(new StorageMemory()).toBeInstanceOf(StorageMemory);
    expect(new StorageMemory({ maxEntries: 1, maxBytes: 1024, now: () => 0 })).toBeInstanceOf(StorageMemory);
  });
});

describe('StorageFile options', () => {
  const bad = (options: unknown) => configError(() => new StorageFile(options as StorageFileOptions)).issues;

  it('lists every bad option in one ConfigError, and creates no directory', () => {
    const dir = join(parent, 'never-created');
    expect(bad({ dir, sweepInterval: -1, fsync: 'yes' })).toEqual([
      'sweepInterval: Too small: expected number to be >=0',
      'fsync: Invalid input: expected boolean, received string',
    ]);
    expect(existsSync(dir)).toBe(false);
    expect(bad({ dir: '' })).toEqual(['dir: expected a directory path']);
    expect(bad({})).toEqual(['dir: expected a directory path']);
  });

  it('checks encryption keys: 32 bytes each, at least one', () => {
    const dir = join(parent, 'keys');
    expect(bad({ dir, encryptionKey: new Uint8Array(3) })).toEqual([
      'encryptionKey: expected 32 bytes (a Buffer or Uint8Array)',
    ]);
    expect(bad({ dir, encryptionKey: [] })).toEqual(['encryptionKey: needs at least one key']);
    expect(bad({ dir, encryptionKey: [Buffer.alloc(32), Buffer.alloc(31)] })).toEqual([
      'encryptionKey.1: expected 32 bytes (a Buffer or Uint8Array)',
    ]);
    expect(bad({ dir, encryptionKey: 'a-string-key' })).toEqual([
      'encryptionKey: expected 32 bytes (a Buffer or Uint8Array), or a list of such keys',
    ]);
    expect(existsSync(dir)).toBe(false);
  });

  it('accepts one key or a list of keys', async () => {
    const one = new StorageFile({
      dir: join(parent, 'one'),
      encryptionKey: Buffer.alloc(32, 1),
      sweepInterval: 0,
    });
    await one.save('aaaaaaaaaaaaaaaaaaaaaa', { a: 1 }, 60_000);
    const rotated = new StorageFile({
      dir: join(parent, 'one'),
      encryptionKey: [Buffer.alloc(32, 2), Buffer.alloc(32, 1)],
      sweepInterval: 0,
    });
    expect((await rotated.load('aaaaaaaaaaaaaaaaaaaaaa'))?.data).toEqual({ a: 1 });
    await one.close();
    await rotated.close();
  });
});
