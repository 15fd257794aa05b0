// The expiry tests must fail only for a storage's own mistakes, not because the test process was
// paused (a busy CI machine, a GC pause). Here a correct storage answers its first two expiry-critical
// calls late, as a paused process would see them; the suite must rerun those scenarios and pass.
import {
  type ApplyOptions,
  type ApplyResult,
  type ChangeSet,
  type SessionData,
  type Storage,
  StorageMemory,
  type StoredSession,
} from '@kv-session/core';
import { runStorageTestSuite } from '@kv-session/test-suite';
import { expect, it } from 'vitest';

/** StorageMemory whose first `hiccups` touch/update calls on a short-lived session arrive late. */
class PausingStorage implements Storage {
  readonly inner = new StorageMemory();
  readonly shortLived = new Set<string>();
  hiccups = 2;
  late = 0;

  private async pause(id: string): Promise<void> {
    if (!this.shortLived.has(id) || this.hiccups === 0) return;
    this.hiccups--;
    this.late++;
    await new Promise((r) => setTimeout(r, 600)); // longer than the suite's 400 ms max age
  }
  load(id: string, _maxAgeMs: number): Promise<StoredSession | undefined> {
    return this.inner.load(id);
  }
  save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    if (maxAgeMs < 1000) this.shortLived.add(id);
    return this.inner.save(id, data, maxAgeMs);
  }
  async touch(id: string, maxAgeMs: number): Promise<void> {
    await this.pause(id);
    return this.inner.touch(id, maxAgeMs);
  }
  remove(id: string): Promise<void> {
    return this.inner.remove(id);
  }
  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    if (options.mode === 'update') await this.pause(id);
    return this.inner.apply(id, changes, maxAgeMs, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const storages: PausingStorage[] = [];
runStorageTestSuite('StorageMemory behind a pausing process', () => {
  const s = new PausingStorage();
  storages.push(s);
  return s;
});

it('the pauses happened (so the expiry scenarios above passed on a rerun)', () => {
  expect(storages.reduce((n, s) => n + s.late, 0)).toBe(2);
});
