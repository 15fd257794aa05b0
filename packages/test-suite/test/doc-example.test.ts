// The example of docs/writing-a-storage.md, verbatim (doc-example-sync.test.ts checks that they agree).
import {
  type ApplyOptions,
  type ApplyResult,
  applyChangeSet,
  type ChangeSet,
  CorruptDataError,
  parseSessionData,
  type SessionData,
  type Storage,
  type StoredSession,
  serializeSession,
} from '@kv-session/core';
import { runStorageTestSuite } from '@kv-session/test-suite';

/** The backend: any async key-value store with per-key expiry (a stand-in for a real client). */
class KeyValueClient {
  readonly #items = new Map<string, { text: string; expiresAt: number }>();
  async get(key: string): Promise<string | undefined> {
    const item = this.#items.get(key);
    if (item === undefined || item.expiresAt <= Date.now()) return undefined;
    return item.text;
  }
  async set(key: string, text: string, ttlMs: number): Promise<void> {
    this.#items.set(key, { text, expiresAt: Date.now() + ttlMs });
  }
  async expire(key: string, ttlMs: number): Promise<void> {
    const item = this.#items.get(key);
    if (item !== undefined && item.expiresAt > Date.now()) item.expiresAt = Date.now() + ttlMs;
  }
  async del(key: string): Promise<void> {
    this.#items.delete(key);
  }
}

/** A Storage over KeyValueClient. apply() is atomic per session through a per-id lock. */
export class StorageKeyValue implements Storage {
  readonly #client: KeyValueClient;
  readonly #prefix: string;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(client: KeyValueClient, prefix = 'sess:') {
    this.#client = client;
    this.#prefix = prefix;
  }

  async load(id: string): Promise<StoredSession | undefined> {
    const text = await this.#client.get(this.#prefix + id);
    if (text === undefined) return undefined;
    const data = parseSessionData(text); // a fresh object on every call: nothing shared
    if (data === undefined)
      throw new CorruptDataError('stored session is not a JSON object', { version: text });
    return { data, version: text };
  }

  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    await this.#client.set(this.#prefix + id, JSON.stringify(data), maxAgeMs);
  }

  async touch(id: string, maxAgeMs: number): Promise<void> {
    await this.#client.expire(this.#prefix + id, maxAgeMs);
  }

  async remove(id: string): Promise<void> {
    await this.#client.del(this.#prefix + id);
  }

  apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    // Read-merge-write under a lock, so concurrent change sets of one session queue up. (One
    // process only: a shared backend needs its own atomic operation, e.g. a Redis Lua script.)
    return this.#locked(id, async () => {
      const key = this.#prefix + id;
      const text = await this.#client.get(key);
      if (text === undefined && options.mode === 'update') return { existed: false, written: false };
      const base = text === undefined ? undefined : parseSessionData(text); // corrupt: replaced
      const json = serializeSession(applyChangeSet(base, changes), options.maxSize); // throws if too large
      await this.#client.set(key, json, maxAgeMs);
      return { existed: text !== undefined, written: true };
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#locks.values());
  }

  #locked<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.then(task);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(id, settled);
    void settled.then(() => {
      if (this.#locks.get(id) === settled) this.#locks.delete(id);
    });
    return next;
  }
}

runStorageTestSuite('StorageKeyValue (docs example)', () => new StorageKeyValue(new KeyValueClient()));
