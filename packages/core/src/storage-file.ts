import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { applyChangeSet, serializeSession } from './change-set.js';
import { ConfigError, CorruptDataError, StorageError } from './errors.js';
import { isValidId, redactId } from './id.js';
import type { SessionData } from './json.js';
import { MovedMarks } from './moved-marks.js';
import { fn, parseOptions } from './option-schema.js';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeSet,
  MoveOptions,
  MoveResult,
  OwnedSession,
  PeekedSession,
  Storage,
  StoredSession,
} from './storage.js';

/** Options of {@link StorageFile}. */
export interface StorageFileOptions {
  /**
   * Directory holding one file per session; created with mode 0700 when missing. An existing
   * directory that other users can read, write or list (any group/other permission bit) is refused
   * with a `ConfigError`: its file names would not reveal ids (they are keyed hashes) but others
   * could read or replace sessions and the naming key.
   */
  dir: string;
  /**
   * 32-byte key(s) for AES-256-GCM. When given, files are encrypted and authenticated (a fresh
   * random 12-byte IV per write, the file name as associated data, so a file copied to another
   * session's name does not decrypt). With several keys the first
   * encrypts and all decrypt (rotation). @default undefined (plain JSON files)
   */
  encryptionKey?: Uint8Array | readonly Uint8Array[];
  /**
   * Milliseconds between background sweeps of expired files (an unref'd timer); 0 disables them
   * (call {@link StorageFile.sweep} yourself). @default 60000
   */
  sweepInterval?: number;
  /**
   * fsync each file before it replaces the old one, so that a write survives a machine crash, not
   * only a process restart. Costs a disk flush per save. @default false
   */
  fsync?: boolean;
  /** Receives errors of background sweeps (they have no caller to throw to). @default console.error */
  onError?: (error: unknown) => void;
  /** Clock in epoch milliseconds, for tests. @default Date.now */
  now?: () => number;
}

/** What a session file holds (as JSON, encrypted or not). */
interface Envelope {
  /** Epoch milliseconds. */
  expiresAt: number;
  data: SessionData;
}

const SUFFIX = '.session';
/** An owner's index file (never swept: core prunes its stale ids when the owner's sessions are listed). */
const OWNER_SUFFIX = '.owner';
const TMP_SUFFIX = '.tmp';
/** Leading bytes of an encrypted file; a plain file starts with `{`. */
const MAGIC = Buffer.from('KVE1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Temporary files older than this are leftovers of a crash; sweeps remove them. */
const STALE_TMP_MS = 3_600_000;
/** The per-directory naming key: 32 random bytes, mode 0600, created by the first instance. */
const NAME_KEY_FILE = '.kv-session-key';
const NAME_KEY_BYTES = 32;
/** File names (without suffix) this storage writes: HMAC-SHA256, base64url. */
const FILE_NAME = /^[A-Za-z0-9_-]{43}$/;
/** Most "moved" marks kept (about 100 bytes each): a mark lost early only makes a racing write vanish. */
const MAX_MOVED_MARKS = 10_000;

const KEY_MESSAGE = 'expected 32 bytes (a Buffer or Uint8Array)';
const key32 = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength === 32, {
  message: KEY_MESSAGE,
});

const fileSchema = z.strictObject({
  dir: z.string({ message: 'expected a directory path' }).min(1, 'expected a directory path'),
  // One key or a list of them (the first encrypts, all decrypt); a list from here on.
  encryptionKey: z
    .preprocess(
      (v) => (v instanceof Uint8Array && v.byteLength === 32 ? [v] : v),
      z
        .array(key32, {
          error: (issue) =>
            issue.input instanceof Uint8Array ? KEY_MESSAGE : `${KEY_MESSAGE}, or a list of such keys`,
        })
        .min(1, 'needs at least one key'),
    )
    .optional(),
  sweepInterval: z.number().int().nonnegative().default(60_000),
  fsync: z.boolean().default(false),
  onError: fn<(error: unknown) => void>('receiving sweep errors').optional(),
  now: fn<() => number>('returning epoch milliseconds').optional(),
});

function isNodeError(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function corruptVersion(raw: Buffer): string {
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/**
 * Reads the directory's naming key, creating it when missing. Created complete or not at all (a
 * temporary file hard-linked into place), so concurrent first starts agree on one key.
 */
function loadNameKey(dir: string): Buffer {
  const path = join(dir, NAME_KEY_FILE);
  const read = (): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) return undefined;
      throw error;
    }
  };
  let key = read();
  if (key === undefined) {
    const tmp = join(dir, `.${randomBytes(12).toString('hex')}${TMP_SUFFIX}`);
    writeFileSync(tmp, randomBytes(NAME_KEY_BYTES), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, path);
    } catch (error) {
      if (!isNodeError(error, 'EEXIST')) throw error;
    } finally {
      unlinkSync(tmp);
    }
    key = read();
  }
  if (key === undefined || key.length !== NAME_KEY_BYTES) {
    throw new ConfigError(
      [`dir: ${path} must hold ${NAME_KEY_BYTES} bytes (delete it to start afresh; live sessions are lost)`],
      'StorageFile options',
    );
  }
  return key;
}

/**
 * Sessions as files, one per session in a directory: the single-node default that survives a
 * restart. Writes go to a temporary file in the same directory that then replaces the old one
 * (`rename`), so a reader sees the old or the new session, never half of one. Files have mode 0600
 * and are named by a keyed hash of the id (the key is `.kv-session-key` in the directory).
 * Change sets of concurrent requests in this process are applied one after another per session, so
 * none is lost; several processes sharing one directory never corrupt a file but may lose one of two
 * simultaneous changes (use Redis for that). Each file records its expiry; expired files read as
 * missing and are deleted by a periodic sweep.
 */
export class StorageFile implements Storage {
  /** The absolute directory. */
  readonly dir: string;
  readonly #keys: readonly Buffer[];
  /** Key of the HMAC that names files, so that a listing of the directory reveals no id. */
  readonly #nameKey: Buffer;
  readonly #fsync: boolean;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #locks = new Map<string, Promise<void>>();
  /**
   * File names of sessions moved away by {@link move}, with when the mark expires (epoch ms), so that
   * an update to one of them answers `moved` instead of vanishing. In this process only: several
   * processes sharing a directory may already lose one of two simultaneous changes (see above).
   * Bounded: past MAX_MOVED_MARKS the oldest go first.
   */
  readonly #moved: MovedMarks;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(options: StorageFileOptions) {
    const o = parseOptions(fileSchema, options, 'StorageFile options');
    const keys = o.encryptionKey ?? [];
    const interval = o.sweepInterval;

    this.dir = resolve(o.dir);
    this.#keys = keys.map((k) => Buffer.from(k));
    this.#fsync = o.fsync;
    this.#now = o.now ?? Date.now;
    this.#moved = new MovedMarks(MAX_MOVED_MARKS, this.#now);
    this.#onError = o.onError ?? ((error) => console.error('[kv-session] StorageFile sweep:', error));
    // Once, at construction: a directory that cannot be created is a configuration problem.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const mode = statSync(this.dir).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(
        [
          `dir: ${this.dir} has mode 0${mode.toString(8)}; other users must have no access ` +
            `(chmod 700 it, or use a directory of its own)`,
        ],
        'StorageFile options',
      );
    }
    this.#nameKey = loadNameKey(this.dir);
    if (interval > 0) {
      this.#timer = setInterval(() => {
        this.sweep().catch(this.#onError);
      }, interval);
      this.#timer.unref();
    }
  }

  /**
   * The file name (without suffix) of a session id: HMAC-SHA256 of the id under the directory's
   * naming key, base64url (43 characters, whatever the id's length). A listing of the directory
   * (or a backup of it) reveals no id. Also the lock key and the associated data of encryption.
   */
  #name(id: string): string {
    if (!isValidId(id)) throw new StorageError('StorageFile: refusing a malformed session id');
    return createHmac('sha256', this.#nameKey).update(id).digest('base64url');
  }

  #path(name: string): string {
    return join(this.dir, name + SUFFIX);
  }

  /** Runs `fn` after every earlier locked operation on `name` (a session file) in this process has finished. */
  async #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => done);
    this.#locks.set(name, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    }
  }

  #encode(name: string, envelope: Envelope, json?: string): Buffer {
    const text = `{"expiresAt":${envelope.expiresAt},"data":${json ?? JSON.stringify(envelope.data)}}`;
    const key = this.#keys[0];
    if (key === undefined) return Buffer.from(text, 'utf8');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
  }

  #decrypt(name: string, raw: Buffer): string | undefined {
    if (raw.length < MAGIC.length + IV_BYTES + TAG_BYTES || !raw.subarray(0, MAGIC.length).equals(MAGIC)) {
      return undefined;
    }
    const iv = raw.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
    const tag = raw.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
    const body = raw.subarray(MAGIC.length + IV_BYTES + TAG_BYTES);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(name, 'utf8'));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        // wrong key or tampered file: try the next key
      }
    }
    return undefined;
  }

  /** Decodes a file; throws {@link CorruptDataError} (with a version) when it cannot. */
  #decode(name: string, raw: Buffer): Envelope {
    const fail = (why: string): never => {
      throw new CorruptDataError(`StorageFile: session file ${redactId(name)}${SUFFIX} ${why}`, {
        version: corruptVersion(raw),
      });
    };
    let text: string;
    if (this.#keys.length > 0) {
      const plain = this.#decrypt(name, raw);
      if (plain === undefined)
        return fail('cannot be decrypted and authenticated with the configured key(s)');
      text = plain;
    } else {
      if (raw.subarray(0, MAGIC.length).equals(MAGIC))
        return fail('is encrypted but no encryptionKey is set');
      text = raw.toString('utf8');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail('is not valid JSON');
    }
    const envelope = parsed as Partial<Envelope> | null;
    if (
      typeof envelope !== 'object' ||
      envelope === null ||
      typeof envelope.expiresAt !== 'number' ||
      typeof envelope.data !== 'object' ||
      envelope.data === null ||
      Array.isArray(envelope.data)
    ) {
      return fail('does not hold {"expiresAt": number, "data": object}');
    }
    return envelope as Envelope;
  }

  async #read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.#path(name));
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** The live envelope, `undefined` when missing or expired; `'corrupt'` when undecodable. */
  async #current(name: string): Promise<Envelope | 'corrupt' | undefined> {
    const raw = await this.#read(name);
    if (raw === undefined) return undefined;
    let envelope: Envelope;
    try {
      envelope = this.#decode(name, raw);
    } catch (error) {
      if (error instanceof CorruptDataError) return 'corrupt';
      throw error;
    }
    return envelope.expiresAt <= this.#now() ? undefined : envelope;
  }

  /** Writes atomically: a temporary file in the same directory, then rename over the old one. */
  async #write(name: string, content: Buffer, expiresAt: number, target = this.#path(name)): Promise<void> {
    const tmp = join(this.dir, `.${randomBytes(12).toString('hex')}${TMP_SUFFIX}`);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(tmp, 'wx', 0o600);
    } catch (error) {
      if (!isNodeError(error, 'ENOENT')) throw error;
      // The directory was removed (a tmp cleaner, an operator): recreate it once.
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      handle = await open(tmp, 'wx', 0o600);
    }
    try {
      try {
        await handle.writeFile(content);
        // The modification time carries the expiry too, so a sweep can skip live files with a stat.
        await handle.utimes(new Date(), new Date(expiresAt));
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  async load(id: string): Promise<StoredSession | undefined> {
    const name = this.#name(id);
    const raw = await this.#read(name);
    if (raw === undefined) return undefined;
    const envelope = this.#decode(name, raw);
    if (envelope.expiresAt <= this.#now()) return undefined;
    // The real expiry: core touches only when it has fallen behind by more than refreshWindow.
    return { data: envelope.data, expiresAt: envelope.expiresAt };
  }

  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    const name = this.#name(id);
    await this.#locked(name, async () => {
      const expiresAt = this.#now() + maxAgeMs;
      await this.#write(name, this.#encode(name, { expiresAt, data }), expiresAt);
    });
  }

  async touch(id: string, maxAgeMs: number): Promise<void> {
    const name = this.#name(id);
    await this.#locked(name, async () => {
      const current = await this.#current(name);
      if (current === undefined || current === 'corrupt') return;
      const expiresAt = this.#now() + maxAgeMs;
      await this.#write(name, this.#encode(name, { expiresAt, data: current.data }), expiresAt);
    });
  }

  async remove(id: string): Promise<void> {
    const name = this.#name(id);
    const path = this.#path(name);
    await this.#locked(name, async () => {
      this.#moved.delete(name);
      await unlink(path).catch((error: unknown) => {
        if (!isNodeError(error, 'ENOENT')) throw error;
      });
    });
  }

  async move(
    fromId: string,
    toId: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: MoveOptions,
  ): Promise<MoveResult> {
    const from = this.#name(fromId);
    const to = this.#name(toId);
    // Under the old id's lock: a concurrent apply or remove of it runs wholly before or after.
    return this.#locked(from, () =>
      this.#locked(to, async () => {
        const current = await this.#current(from);
        if (current === undefined) return { moved: false };
        // A corrupt file read as empty for the request that loaded it: it moves as an empty session.
        const data = applyChangeSet(current === 'corrupt' ? undefined : current.data, changes);
        const json = serializeSession(data, options.maxSize);
        const expiresAt = this.#now() + maxAgeMs;
        // New file first: a failure in between leaves the old session intact (and an orphan file
        // under an id nobody has, swept at its expiry), never neither.
        await this.#write(to, this.#encode(to, { expiresAt, data }, json), expiresAt);
        await unlink(this.#path(from)).catch((error: unknown) => {
          if (!isNodeError(error, 'ENOENT')) throw error;
        });
        this.#moved.mark(from, expiresAt);
        return { moved: true };
      }),
    );
  }

  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    const name = this.#name(id);
    // Read, merge and write under the per-id lock: a concurrent apply waits and merges into our result.
    return this.#locked(name, async () => {
      const current = await this.#current(name);
      if (current === undefined && options.mode === 'update') {
        return this.#moved.has(name)
          ? { existed: false, written: false, moved: true }
          : { existed: false, written: false };
      }
      // A corrupt file read as empty for the request that loaded it; its change set replaces it.
      const base = current === undefined || current === 'corrupt' ? undefined : current.data;
      const data = applyChangeSet(base, changes);
      const json = serializeSession(data, options.maxSize);
      const expiresAt = this.#now() + maxAgeMs;
      await this.#write(name, this.#encode(name, { expiresAt, data }, json), expiresAt);
      return { existed: current !== undefined, written: true };
    });
  }

  /**
   * Deletes expired session files (and temporary files left by a crash). Runs periodically by
   * itself unless `sweepInterval` is 0. Resolves the number of session files deleted.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweep().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweep(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isNodeError(error, 'ENOENT')) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
        const info = await stat(path).catch(() => undefined);
        if (info !== undefined && info.ctimeMs < Date.now() - STALE_TMP_MS)
          await unlink(path).catch(() => undefined);
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      const base = name.slice(0, -SUFFIX.length);
      if (!FILE_NAME.test(base)) continue;
      const info = await stat(path).catch(() => undefined);
      // The mtime is only a hint (an editor resets it); the file's own expiresAt decides.
      if (info === undefined || info.mtimeMs > this.#now()) continue;
      const deleted = await this.#locked(base, async () => {
        const raw = await this.#read(base);
        if (raw === undefined) return false;
        let expiresAt: number;
        try {
          expiresAt = this.#decode(base, raw).expiresAt;
        } catch (error) {
          if (!(error instanceof CorruptDataError)) throw error;
          // Left for a request to report and replace, unless nobody came for an hour past the hint
          // (for example files written under an encryption key that was since dropped).
          if (info.mtimeMs > this.#now() - STALE_TMP_MS) return false;
          await unlink(path).catch(() => undefined);
          return true;
        }
        if (expiresAt > this.#now()) return false;
        await unlink(path).catch(() => undefined);
        return true;
      });
      if (deleted) removed++;
    }
    return removed;
  }

  async peek(id: string): Promise<PeekedSession | undefined> {
    const stored = await this.load(id);
    return stored === undefined ? undefined : { data: stored.data, expiresAt: stored.expiresAt };
  }

  /**
   * The index file of an owner: `<HMAC of "owner:" + owner>.owner` (the prefix keeps it apart from
   * every session's name; the suffix from every session file), encrypted like sessions when a key is set.
   */
  #ownerName(owner: string): string {
    return createHmac('sha256', this.#nameKey).update(`owner:${owner}`).digest('base64url');
  }

  /** The owner's index (id → expiry hint), read and rewritten under its lock by `change`. */
  async #owned<T>(owner: string, change: (ids: Map<string, number>) => T): Promise<T> {
    const name = this.#ownerName(owner);
    const path = join(this.dir, name + OWNER_SUFFIX);
    return this.#locked(name, async () => {
      const ids = new Map<string, number>();
      const raw = await readFile(path).catch((error: unknown) => {
        if (isNodeError(error, 'ENOENT')) return undefined;
        throw error;
      });
      // A corrupt index reads as empty and is replaced (the sessions themselves are intact).
      const envelope = raw === undefined ? undefined : this.#tryDecode(name, raw);
      for (const [id, at] of Object.entries(envelope?.data ?? {}))
        if (typeof at === 'number') ids.set(id, at);
      const before = JSON.stringify([...ids]);
      const result = change(ids);
      if (JSON.stringify([...ids]) === before) return result;
      if (ids.size === 0) {
        await unlink(path).catch((error: unknown) => {
          if (!isNodeError(error, 'ENOENT')) throw error;
        });
        return result;
      }
      const latest = Math.max(...ids.values());
      const data = Object.fromEntries(ids);
      await this.#write(name, this.#encode(name, { expiresAt: latest, data }), latest, path);
      return result;
    });
  }

  #tryDecode(name: string, raw: Buffer): Envelope | undefined {
    try {
      return this.#decode(name, raw);
    } catch (error) {
      if (error instanceof CorruptDataError) return undefined;
      throw error;
    }
  }

  async addOwned(owner: string, id: string, expiresAt: number): Promise<void> {
    await this.#owned(owner, (ids) => ids.set(id, expiresAt));
  }

  async listOwned(owner: string): Promise<OwnedSession[]> {
    return this.#owned(owner, (ids) => [...ids].map(([id, expiresAt]) => ({ id, expiresAt })));
  }

  async removeOwned(owner: string, ids: readonly string[]): Promise<void> {
    await this.#owned(owner, (owned) => {
      for (const id of ids) owned.delete(id);
    });
  }

  /** Stops the background sweep and waits for pending writes. Files stay on disk. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#locks.values()]);
    await this.#sweeping?.catch(() => undefined);
  }
}
