import {
  type ApplyOptions,
  type ApplyResult,
  applyChangeSet,
  type ChangeSet,
  ConfigError,
  CorruptDataError,
  parseSessionData,
  type SessionData,
  type Storage,
  StorageMemory,
  type StoredSession,
  serializeSession,
} from '@kv-session/core';
import { expect } from 'vitest';

export type Operation = 'load' | 'save' | 'touch' | 'remove' | 'apply' | 'close';

/**
 * A real StorageMemory behind a wrapper that records every call, so tests can count storage round
 * trips. `failWith` makes the next calls of an operation throw.
 */
export class CountingStorage implements Storage {
  readonly inner: StorageMemory;
  readonly calls: { op: Operation; id?: string }[] = [];
  readonly failures = new Map<Operation, unknown>();

  constructor(inner = new StorageMemory()) {
    this.inner = inner;
  }

  count(op?: Operation): number {
    return op === undefined ? this.calls.length : this.calls.filter((c) => c.op === op).length;
  }

  reset(): void {
    this.calls.length = 0;
  }

  #record(op: Operation, id?: string): void {
    this.calls.push(id === undefined ? { op } : { op, id });
    const failure = this.failures.get(op);
    if (failure !== undefined) throw failure;
  }

  async load(id: string, _maxAgeMs: number): Promise<StoredSession | undefined> {
    this.#record('load', id);
    return this.inner.load(id);
  }
  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    this.#record('save', id);
    return this.inner.save(id, data, maxAgeMs);
  }
  async touch(id: string, maxAgeMs: number): Promise<void> {
    this.#record('touch', id);
    return this.inner.touch(id, maxAgeMs);
  }
  async remove(id: string): Promise<void> {
    this.#record('remove', id);
    return this.inner.remove(id);
  }
  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    this.#record('apply', id);
    return this.inner.apply(id, changes, maxAgeMs, options);
  }
  async close(): Promise<void> {
    this.#record('close');
    return this.inner.close();
  }
}

/** The same, without the optional atomic operation: core falls back to load, merge, save. */
export class NoApplyStorage implements Storage {
  readonly inner: StorageMemory;
  constructor(inner = new StorageMemory()) {
    this.inner = inner;
  }
  load(id: string, _maxAgeMs: number): Promise<StoredSession | undefined> {
    return this.inner.load(id);
  }
  save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    return this.inner.save(id, data, maxAgeMs);
  }
  touch(id: string, maxAgeMs: number): Promise<void> {
    return this.inner.touch(id, maxAgeMs);
  }
  remove(id: string): Promise<void> {
    return this.inner.remove(id);
  }
}

/** The `name=value` part of a Set-Cookie header, to send back as a Cookie header. */
export function cookieOf(setCookie: string | undefined): string {
  if (setCookie === undefined) throw new Error('expected a Set-Cookie header');
  return setCookie.split(';')[0]!;
}

/** The cookie value (the possibly signed id) of a Set-Cookie header. */
export function cookieValue(setCookie: string | undefined): string {
  return decodeURIComponent(cookieOf(setCookie).split('=')[1]!);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const SECRET = 'test-secret-0123456789abcdef';
export const OLD_SECRET = 'old-secret-0123456789abcdef';

/**
 * A storage holding raw JSON text per id, like a key-value store an operator can edit: `plant()`
 * puts arbitrary text in, and `load` throws CorruptDataError for text that is not a session object.
 * `apply` replaces a corrupt value (as Redis storages do). Expiry is ignored.
 */
export class RawStorage implements Storage {
  readonly texts = new Map<string, string>();

  plant(id: string, text: string): void {
    this.texts.set(id, text);
  }

  #parse(id: string): StoredSession | undefined {
    const text = this.texts.get(id);
    if (text === undefined) return undefined;
    const data = parseSessionData(text);
    if (data === undefined)
      throw new CorruptDataError('stored session is not a JSON object', { version: text });
    return { data, version: text };
  }

  async load(id: string): Promise<StoredSession | undefined> {
    return this.#parse(id);
  }
  async save(id: string, data: SessionData): Promise<void> {
    this.texts.set(id, JSON.stringify(data));
  }
  async touch(): Promise<void> {}
  async remove(id: string): Promise<void> {
    this.texts.delete(id);
  }
  async apply(
    id: string,
    changes: ChangeSet,
    _maxAgeMs: number,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    const text = this.texts.get(id);
    if (text === undefined && options.mode === 'update') return { existed: false, written: false };
    const base = text === undefined ? undefined : parseSessionData(text);
    this.texts.set(id, serializeSession(applyChangeSet(base, changes), options.maxSize));
    return { existed: text !== undefined, written: true };
  }
}

/** {@link RawStorage} without `apply`: core's load-merge-save fallback. */
export class RawStorageNoApply implements Storage {
  readonly raw = new RawStorage();
  plant(id: string, text: string): void {
    this.raw.plant(id, text);
  }
  load(id: string): Promise<StoredSession | undefined> {
    return this.raw.load(id);
  }
  save(id: string, data: SessionData): Promise<void> {
    return this.raw.save(id, data);
  }
  touch(): Promise<void> {
    return this.raw.touch();
  }
  remove(id: string): Promise<void> {
    return this.raw.remove(id);
  }
}

/** The ConfigError `make` throws (the test fails when it throws something else or nothing). */
export function thrownConfigError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
