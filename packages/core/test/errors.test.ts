import {
  CorruptDataError,
  type ErrorContext,
  generateId,
  SessionConflictError,
  type SessionError,
  SessionManager,
  StorageError,
  StorageUnavailableError,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { CountingStorage, cookieOf, RawStorage, RawStorageNoApply } from './helpers.js';

/** Runs a request that reaches storage operation `op` and returns what it rejected with. */
async function failureOf(op: 'load' | 'apply' | 'touch' | 'remove', manager: SessionManager, cookie: string) {
  const s = manager.session({ cookie });
  const run = async () => {
    if (op === 'remove') return s.removeAll();
    await s.get('a');
    if (op === 'apply') await s.set('b', 2);
    await new Promise((r) => setTimeout(r, 2));
    await manager.commit(s);
  };
  return run().then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('error classes', () => {
  it('carry name, code, status, statusCode, expose and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const unavailable = new StorageUnavailableError(undefined, { cause });
    expect(unavailable).toMatchObject({
      name: 'StorageUnavailableError',
      code: 'STORAGE_UNAVAILABLE',
      status: 503,
      statusCode: 503,
      expose: false,
      message: 'Session storage is unavailable',
    });
    expect(unavailable.cause).toBe(cause);
    expect(new StorageError('x')).toMatchObject({
      name: 'StorageError',
      code: 'STORAGE_FAILED',
      status: 500,
    });
    const corrupt = new CorruptDataError('bad', { version: 'v1' });
    expect(corrupt).toMatchObject({ name: 'CorruptDataError', code: 'DATA_CORRUPT', version: 'v1' });
    expect(corrupt.cause).toBeUndefined();
  });

  it('getResponse() answers the status with its status text, never the message (Hono default handler)', async () => {
    const unavailable = new StorageUnavailableError(
      'Redis did not answer load within 2000 ms (option commandTimeout)',
    );
    const res = unavailable.getResponse();
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('Service Unavailable');
    const conflict = new SessionConflictError('the session k9ZK… was moved by a concurrent regenerate()');
    expect(conflict.getResponse().status).toBe(409);
    expect(await conflict.getResponse().text()).toBe('Conflict');
    expect(await new StorageError('ERR Error running script: OOM').getResponse().text()).toBe(
      'Internal Server Error',
    );
  });
});

describe('storage failures reach the caller as typed errors', () => {
  const unavailable = () => new StorageUnavailableError('redis down', { cause: new Error('ECONNREFUSED') });

  async function setup() {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, refreshWindow: 0 });
    const s = manager.session();
    await s.set('a', 1);
    const cookie = cookieOf((await manager.commit(s)).setCookie);
    return { storage, manager, cookie };
  }

  it.each(['load', 'apply', 'touch', 'remove'] as const)(
    'StorageUnavailableError from %s passes through unchanged with status 503',
    async (op) => {
      const { storage, manager, cookie } = await setup();
      const error = unavailable();
      storage.failures.set(op, error);
      const caught = await failureOf(op, manager, cookie);
      expect(caught).toBe(error);
      expect((caught as SessionError).status).toBe(503);
    },
  );

  it.each(['load', 'apply', 'touch', 'remove'] as const)(
    'any other error from %s is wrapped in StorageError (500) with the original as cause',
    async (op) => {
      const { storage, manager, cookie } = await setup();
      const original = new TypeError(`${op} exploded`);
      storage.failures.set(op, original);
      const caught = await failureOf(op, manager, cookie);
      expect(caught).toBeInstanceOf(StorageError);
      expect(caught).toMatchObject({ code: 'STORAGE_FAILED', status: 500 });
      expect((caught as StorageError).cause).toBe(original);
      expect((caught as StorageError).message).toContain(`${op} exploded`);
    },
  );

  it('a thrown non-Error is wrapped too', async () => {
    const { storage, manager, cookie } = await setup();
    storage.failures.set('load', 'a string');
    await expect(manager.session({ cookie }).get('a')).rejects.toMatchObject({
      name: 'StorageError',
      cause: 'a string',
    });
  });

  it('a failed save leaves nothing half-written and can be retried', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    await s.set('b', 2);
    storage.failures.set('apply', unavailable());
    await expect(manager.commit(s)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect((await storage.inner.load(cookie.slice(4)))!.data).toEqual({ a: 1 });
    storage.failures.clear();
    await manager.commit(s);
    expect((await storage.inner.load(cookie.slice(4)))!.data).toEqual({ a: 1, b: 2 });
  });

  it('a regenerate whose write fails keeps the old id and the old record', async () => {
    const { storage, manager, cookie } = await setup();
    const s = manager.session({ cookie });
    await s.get('a');
    storage.failures.set('apply', unavailable());
    await expect(s.regenerate()).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(s.id).toBe(cookie.slice(4));
    expect((await storage.inner.load(cookie.slice(4)))!.data).toEqual({ a: 1 });
    storage.failures.set('apply', undefined);
    storage.failures.delete('apply');
    storage.failures.set('remove', new Error('remove failed'));
    await expect(s.regenerate()).rejects.toBeInstanceOf(StorageError);
  });
});

describe.each([
  ['with apply', () => new RawStorage()],
  ['without apply (fallback)', () => new RawStorageNoApply()],
])('corrupt stored data (%s)', (_, make) => {
  it.each([
    ['not JSON', '{"user": "ada"'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"x"'],
    ['null', 'null'],
  ])('%s: reported through onError, read as empty, replaced by the next save', async (_label, text) => {
    const storage = make();
    const reported: [SessionError, ErrorContext][] = [];
    const manager = new SessionManager({ storage, onError: (e, c) => reported.push([e, c]) });
    const id = generateId();
    storage.plant(id, text);

    const s = manager.session({ cookie: `sid=${id}` });
    expect(await s.data()).toEqual({});
    expect(await s.get('user')).toBeUndefined();
    expect(reported).toHaveLength(1);
    const [error, context] = reported[0]!;
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(error.code).toBe('DATA_CORRUPT');
    expect(context).toEqual({ id: `${id.slice(0, 6)}…`, operation: 'load' });

    await s.set('user', 'ada');
    const { setCookie } = await manager.commit(s);
    // The session keeps its id: it exists (corrupt), and the save replaced the bad value.
    expect(setCookie).toBeUndefined();
    expect(s.id).toBe(id);
    const next = manager.session({ cookie: `sid=${id}` });
    expect(await next.data()).toEqual({ user: 'ada' });
    expect(reported).toHaveLength(1);
  });
});

describe('default onError', () => {
  it('logs to console.error with a redacted id', async () => {
    const storage = new RawStorage();
    const manager = new SessionManager({ storage });
    const id = generateId();
    storage.plant(id, 'garbage');
    const lines: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args);
    try {
      await manager.session({ cookie: `sid=${id}` }).data();
    } finally {
      console.error = original;
    }
    expect(lines).toHaveLength(1);
    expect(String(lines[0]![0])).toContain(`load (session ${id.slice(0, 6)}…)`);
    expect(String(lines[0]![0])).not.toContain(id);
    expect(lines[0]![1]).toBeInstanceOf(CorruptDataError);
  });
});
