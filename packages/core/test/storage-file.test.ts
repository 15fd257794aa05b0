import { createHmac, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChangeSet,
  ConfigError,
  CorruptDataError,
  generateId,
  type JsonValue,
  type SessionError,
  SessionManager,
  SessionTooLargeError,
  StorageError,
  StorageFile,
  type StorageFileOptions,
} from '@kv-session/core';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'kv-session-file-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const open: StorageFile[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

let n = 0;
function make(options: Partial<StorageFileOptions> = {}): StorageFile {
  const storage = new StorageFile({ dir: join(root, `d${n++}`), sweepInterval: 0, ...options });
  open.push(storage);
  return storage;
}

/** The file name of a session: HMAC-SHA256 of the id under the directory's naming key. */
function nameOf(dir: string, id: string): string {
  const key = readFileSync(join(dir, '.kv-session-key'));
  return `${createHmac('sha256', key).update(id).digest('base64url')}.session`;
}

/** The directory's entries other than its naming key. */
function files(dir: string): string[] {
  return readdirSync(dir).filter((f) => f !== '.kv-session-key');
}

function changes(set: Record<string, JsonValue> = {}, remove: string[] = [], clear = false): ChangeSet {
  return { clear, remove: new Set(remove), set: new Map(Object.entries(set)) };
}

const MAX = 1_048_576;
const HOUR = 3_600_000;

describe('StorageFile basics', () => {
  it('round-trips JSON types, one 0600 file per session in a 0700 directory', async () => {
    const storage = make();
    const id = generateId();
    const data = { s: 'x', n: 1.5, b: false, z: null, a: [1, 'two'], o: { p: { q: 1 } } };
    await storage.save(id, data, HOUR);
    expect((await storage.load(id))?.data).toEqual(data);
    expect(files(storage.dir)).toEqual([nameOf(storage.dir, id)]);
    expect(statSync(storage.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(storage.dir, nameOf(storage.dir, id))).mode & 0o777).toBe(0o600);
    // Plain files are readable JSON for an operator.
    const file = JSON.parse(readFileSync(join(storage.dir, nameOf(storage.dir, id)), 'utf8'));
    expect(file.data).toEqual(data);
    expect(typeof file.expiresAt).toBe('number');
  });

  // Issue 14, item 6: files were named by the raw id, and an existing directory kept its mode, so
  // in a 0777 directory any local user could list every live id.
  it('names files by a keyed hash of the id (key 0600 in the directory), never by the id', async () => {
    const a = make();
    const b = make();
    const id = generateId();
    await a.save(id, { user: 'ada' }, HOUR);
    await b.save(id, { user: 'ada' }, HOUR);
    const [name] = files(a.dir);
    expect(name).toMatch(/^[A-Za-z0-9_-]{43}\.session$/);
    expect(name).not.toContain(id);
    expect(name).not.toContain(id.slice(0, 16));
    expect(files(b.dir)).not.toEqual(files(a.dir)); // another directory, another key
    expect(statSync(join(a.dir, '.kv-session-key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(a.dir, '.kv-session-key'))).toHaveLength(32);
    // The key persists: a new instance on the directory finds the session.
    const again = make({ dir: a.dir });
    expect((await again.load(id))?.data).toEqual({ user: 'ada' });
    expect(files(a.dir)).toEqual([name]);
  });

  it('refuses with ConfigError a directory that other users can read, write or list', () => {
    for (const mode of [0o777, 0o755, 0o750, 0o701]) {
      const dir = join(root, `open-${mode.toString(8)}`);
      mkdirSync(dir);
      chmodSync(dir, mode);
      expect(() => make({ dir }), mode.toString(8)).toThrow(ConfigError);
      expect(readdirSync(dir)).toEqual([]); // nothing written into it
    }
    const closed = join(root, 'closed');
    mkdirSync(closed);
    chmodSync(closed, 0o700);
    expect(() => make({ dir: closed })).not.toThrow();
  });

  it('sees an operator edit of the file on the next load', async () => {
    const storage = make();
    const id = generateId();
    await storage.save(id, { role: 'user' }, HOUR);
    const path = join(storage.dir, nameOf(storage.dir, id));
    const file = JSON.parse(readFileSync(path, 'utf8'));
    file.data.role = 'admin';
    writeFileSync(path, JSON.stringify(file));
    expect((await storage.load(id))?.data).toEqual({ role: 'admin' });
  });

  it('refuses ids that could escape the directory and writes nothing', async () => {
    const storage = make();
    for (const id of [
      '../../etc/passwd',
      `..${'/x'.repeat(20)}`,
      'a'.repeat(21),
      `${'a'.repeat(22)}/b`,
      '',
    ]) {
      await expect(storage.save(id, { a: 1 }, HOUR)).rejects.toBeInstanceOf(StorageError);
      await expect(
        storage.apply(id, changes({ a: 1 }), HOUR, { mode: 'create', maxSize: MAX }),
      ).rejects.toThrow(/malformed session id/);
      await expect(storage.load(id)).rejects.toBeInstanceOf(StorageError);
      await expect(storage.remove(id)).rejects.toBeInstanceOf(StorageError);
    }
    expect(files(storage.dir)).toEqual([]);
  });

  it('validates options with one ConfigError listing every problem', () => {
    let error: unknown;
    try {
      new StorageFile({ dir: '', encryptionKey: randomBytes(16), sweepInterval: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toHaveLength(3);
  });

  it('data survives a restart: a second instance on the same directory reads it', async () => {
    const dir = join(root, 'restart');
    const first = new StorageFile({ dir, sweepInterval: 0 });
    const m1 = new SessionManager({ storage: first });
    const s1 = m1.session();
    await s1.set('user', { name: 'ada' });
    const { setCookie } = await m1.commit(s1);
    await first.close();

    const second = make({ dir });
    const m2 = new SessionManager({ storage: second });
    const s2 = m2.session({ cookie: setCookie!.split(';')[0]! });
    expect(await s2.get('user')).toEqual({ name: 'ada' });
  });
});

describe('StorageFile apply', () => {
  it('creates, merges, and does not recreate a removed session in update mode', async () => {
    const storage = make();
    const id = generateId();
    expect(await storage.apply(id, changes({ a: 1, b: 2 }), HOUR, { mode: 'create', maxSize: MAX })).toEqual({
      existed: false,
      written: true,
    });
    expect(await storage.apply(id, changes({ c: 3 }, ['a']), HOUR, { mode: 'update', maxSize: MAX })).toEqual(
      {
        existed: true,
        written: true,
      },
    );
    expect((await storage.load(id))?.data).toEqual({ b: 2, c: 3 });
    await storage.remove(id);
    expect(await storage.apply(id, changes({ d: 4 }), HOUR, { mode: 'update', maxSize: MAX })).toEqual({
      existed: false,
      written: false,
    });
    expect(await storage.load(id)).toBeUndefined();
    expect(files(storage.dir)).toEqual([]);
  });

  it('keeps every change of concurrent writers of different keys', async () => {
    const storage = make();
    const id = generateId();
    await storage.save(id, { start: true }, HOUR);
    const writers = Array.from({ length: 40 }, (_, i) =>
      storage.apply(id, changes({ [`k${i}`]: i }), HOUR, { mode: 'update', maxSize: MAX }),
    );
    await Promise.all(writers);
    const data = (await storage.load(id))?.data;
    expect(Object.keys(data ?? {})).toHaveLength(41);
    for (let i = 0; i < 40; i++) expect(data?.[`k${i}`]).toBe(i);
    expect(files(storage.dir)).toEqual([nameOf(storage.dir, id)]); // no temporary file left
  });

  it('keeps all changes of concurrent requests through SessionManager', async () => {
    const storage = make();
    const manager = new SessionManager({ storage });
    const s0 = manager.session();
    await s0.set('n', 0);
    const cookie = (await manager.commit(s0)).setCookie!.split(';')[0]!;
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const s = manager.session({ cookie });
        await s.get('n');
        await s.set(`r${i}`, i);
        await manager.commit(s);
      }),
    );
    const data = await manager.session({ cookie }).data();
    expect(Object.keys(data).sort()).toEqual(['n', ...Array.from({ length: 20 }, (_, i) => `r${i}`)].sort());
  });

  it('a session destroyed by one request is not brought back by a concurrent save', async () => {
    const storage = make();
    const id = generateId();
    await storage.save(id, { a: 1 }, HOUR);
    const [, result] = await Promise.all([
      storage.remove(id),
      storage.apply(id, changes({ b: 2 }), HOUR, { mode: 'update', maxSize: MAX }),
    ]);
    expect(result.written).toBe(false);
    expect(await storage.load(id)).toBeUndefined();
  });

  it('rejects a result over maxSize and writes nothing', async () => {
    const storage = make();
    const id = generateId();
    await storage.save(id, { a: 'x'.repeat(50) }, HOUR);
    const before = readFileSync(join(storage.dir, nameOf(storage.dir, id)));
    await expect(
      storage.apply(id, changes({ b: 'y'.repeat(100) }), HOUR, { mode: 'update', maxSize: 120 }),
    ).rejects.toBeInstanceOf(SessionTooLargeError);
    expect(readFileSync(join(storage.dir, nameOf(storage.dir, id)))).toEqual(before);
    expect(files(storage.dir)).toEqual([nameOf(storage.dir, id)]);
  });

  it('readers never see a half-written file while writers replace it', async () => {
    const storage = make();
    const id = generateId();
    const big = 'z'.repeat(200_000);
    await storage.save(id, { v: 0, big }, HOUR);
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const loaded = await storage.load(id); // throws CorruptDataError on a torn file
        expect(loaded?.data['big']).toBe(big);
        reads++;
      }
    })();
    for (let i = 1; i <= 30; i++)
      await storage.apply(id, changes({ v: i }), HOUR, { mode: 'update', maxSize: MAX });
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await storage.load(id))?.data['v']).toBe(30);
  });

  it('recreates a directory removed at runtime on the next write', async () => {
    const storage = make();
    rmSync(storage.dir, { recursive: true });
    const id = generateId();
    await storage.save(id, { a: 1 }, HOUR);
    expect((await storage.load(id))?.data).toEqual({ a: 1 });
  });
});

describe('StorageFile expiry', () => {
  it('honours expiry on read, touch extends it, touch of a missing session creates nothing', async () => {
    let now = 1_000_000;
    const storage = make({ now: () => now });
    const id = generateId();
    await storage.save(id, { a: 1 }, 1000);
    expect((await storage.load(id))?.expiresAt).toBe(1_001_000);
    now += 900;
    await storage.touch(id, 1000);
    now += 900;
    expect((await storage.load(id))?.data).toEqual({ a: 1 });
    now += 200;
    expect(await storage.load(id)).toBeUndefined();
    await storage.touch(id, 1000);
    expect(await storage.load(id)).toBeUndefined();
    const other = generateId();
    await storage.touch(other, 1000);
    expect(files(storage.dir)).toEqual([nameOf(storage.dir, id)]);
    // An expired session counts as missing in update mode.
    expect((await storage.apply(id, changes({ b: 1 }), 1000, { mode: 'update', maxSize: MAX })).written).toBe(
      false,
    );
  });

  it('sweep() deletes expired files only', async () => {
    let now = Date.now();
    const storage = make({ now: () => now });
    const live = generateId();
    const dead = generateId();
    await storage.save(dead, { a: 1 }, 1000);
    await storage.save(live, { a: 2 }, 10 * HOUR);
    writeFileSync(join(storage.dir, 'not-a-session.txt'), 'keep');
    now += 2000;
    expect(await storage.sweep()).toBe(1);
    expect(files(storage.dir).sort()).toEqual([nameOf(storage.dir, live), 'not-a-session.txt'].sort());
  });

  it('sweep() keeps a freshly corrupt file (for the next request to report) but drops one untouched for an hour', async () => {
    let now = Date.now();
    const storage = make({ now: () => now });
    const id = generateId();
    const path = join(storage.dir, nameOf(storage.dir, id));
    writeFileSync(path, 'not json');
    expect(await storage.sweep()).toBe(0);
    expect(files(storage.dir)).toEqual([nameOf(storage.dir, id)]);
    now += 2 * HOUR;
    expect(await storage.sweep()).toBe(1);
    expect(files(storage.dir)).toEqual([]);
  });

  it('the periodic sweep deletes expired files by itself', async () => {
    const storage = make({ sweepInterval: 20 });
    const id = generateId();
    await storage.save(id, { a: 1 }, 1);
    await vi.waitFor(() => expect(files(storage.dir)).toEqual([]), { timeout: 5000, interval: 20 });
  });
});

describe('StorageFile corrupt data and encryption', () => {
  it('a corrupt file throws CorruptDataError with a version; the next save replaces it', async () => {
    const storage = make();
    const id = generateId();
    writeFileSync(join(storage.dir, nameOf(storage.dir, id)), '{"expiresAt": 1, "data": [');
    const error = await storage.load(id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).version).toMatch(/^sha256:/);

    const reported: SessionError[] = [];
    const manager = new SessionManager({ storage, onError: (e) => reported.push(e) });
    const session = manager.session({ cookie: `sid=${id}` });
    expect(await session.data()).toEqual({});
    expect(reported[0]).toBeInstanceOf(CorruptDataError);
    await session.set('fresh', 1);
    await manager.commit(session);
    expect((await storage.load(id))?.data).toEqual({ fresh: 1 });
  });

  it('encrypts with AES-256-GCM: no plaintext on disk, a new IV per write', async () => {
    const key = randomBytes(32);
    const storage = make({ encryptionKey: key });
    const id = generateId();
    await storage.save(id, { secret: 'hunter2-plaintext' }, HOUR);
    const path = join(storage.dir, nameOf(storage.dir, id));
    const first = readFileSync(path);
    expect(first.toString('latin1')).not.toContain('hunter2');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await storage.save(id, { secret: 'hunter2-plaintext' }, HOUR);
    const second = readFileSync(path);
    expect(second.subarray(4, 16)).not.toEqual(first.subarray(4, 16)); // IV
    expect((await storage.load(id))?.data).toEqual({ secret: 'hunter2-plaintext' });
    // Works through change sets and a restart with the same key.
    await storage.apply(id, changes({ more: [1] }), HOUR, { mode: 'update', maxSize: MAX });
    const again = make({ dir: storage.dir, encryptionKey: Buffer.from(key) });
    expect((await again.load(id))?.data).toEqual({ secret: 'hunter2-plaintext', more: [1] });
  });

  it('a wrong key, a tampered byte, a file moved to another id or a plain file: CorruptDataError', async () => {
    const key = randomBytes(32);
    const storage = make({ encryptionKey: key });
    const id = generateId();
    await storage.save(id, { a: 1 }, HOUR);
    const path = join(storage.dir, nameOf(storage.dir, id));
    const raw = readFileSync(path);

    const wrong = make({ dir: storage.dir, encryptionKey: randomBytes(32) });
    await expect(wrong.load(id)).rejects.toBeInstanceOf(CorruptDataError);
    const unkeyed = make({ dir: storage.dir });
    await expect(unkeyed.load(id)).rejects.toThrow(/no encryptionKey/);

    const tampered = Buffer.from(raw);
    tampered[tampered.length - 1]! ^= 1;
    writeFileSync(path, tampered);
    await expect(storage.load(id)).rejects.toBeInstanceOf(CorruptDataError);

    const moved = generateId();
    writeFileSync(join(storage.dir, nameOf(storage.dir, moved)), raw);
    await expect(storage.load(moved)).rejects.toBeInstanceOf(CorruptDataError);

    writeFileSync(path, JSON.stringify({ expiresAt: Date.now() + HOUR, data: { admin: true } }));
    const error = await storage.load(id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).version).toBeDefined();
  });

  it('key rotation: the first key encrypts, every key decrypts', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = make({ encryptionKey: oldKey });
    const id = generateId();
    await before.save(id, { a: 1 }, HOUR);
    const after = make({ dir: before.dir, encryptionKey: [newKey, oldKey] });
    expect((await after.load(id))?.data).toEqual({ a: 1 });
    await after.apply(id, changes({ b: 2 }), HOUR, { mode: 'update', maxSize: MAX });
    const onlyNew = make({ dir: before.dir, encryptionKey: newKey });
    expect((await onlyNew.load(id))?.data).toEqual({ a: 1, b: 2 });
  });
});
