import { createHash, randomBytes } from 'node:crypto';
import {
  type ApplyOptions,
  type ApplyResult,
  applyChangeSet,
  byteLength,
  type ChangeSet,
  CorruptDataError,
  isValidId,
  type MoveOptions,
  type MoveResult,
  type OwnedSession,
  type PeekedSession,
  parseSessionData,
  redactId,
  type SessionData,
  SessionDataError,
  SessionTooLargeError,
  type Storage,
  StorageError,
  type StoredSession,
  serializeSession,
} from '@kv-session/core';
import {
  BUFFERS,
  evalScript,
  isErrorReply,
  READ,
  type RedisClientLike,
  RedisCommands,
  replyText,
  type ScriptCallOptions,
} from './client.js';
import { isIoredisClient } from './driver-ioredis.js';
import { mergeIntoText } from './merge-text.js';
import { type ResolvedRedisOptions, resolveRedisOptions, type StorageRedisKVOptions } from './options.js';
import { RedisOwnerIndex } from './owner-index.js';
import { CAS, CAS_LARGE, type CompareMode, MOVED_MARKER, PEEK, WRONG_TYPE } from './script.js';

/**
 * Compare-and-set attempts of one `apply` before giving up. Every round of conflicting writers lets one
 * of them through, so this bounds how many requests may write one session at the same instant.
 */
const MAX_ATTEMPTS = 100;
/** Above this many remembered refresh times, forget the stale ones. */
const REFRESHED_SOFT_LIMIT = 10_000;
const REFRESHED_HARD_LIMIT = 100_000;

/**
 * From this many bytes (the new value or the expected one), `apply` compares and sets through
 * temporary keys ({@link CAS_LARGE}) instead of passing the values to Lua: every 100 KB string
 * entering Lua costs Redis about 150 µs, and {@link CAS} takes three. Below it the one-command
 * {@link CAS} costs Redis less than the temporary keys' `SET`s, `RENAME` and `DEL`s.
 */
let largeValueBytes = 8192;

/**
 * Internal (tests and benchmarks; not exported by the package): sets the threshold of
 * {@link largeValueBytes} and returns the previous one.
 */
export function setLargeValueBytes(bytes: number): number {
  const previous = largeValueBytes;
  largeValueBytes = bytes;
  return previous;
}

/** After the server refused the temporary keys (ACL, unknown command), how long `apply` uses CAS only. */
const LARGE_REFUSED_MS = 60_000;

/** Replies that mean the server will not run the temporary-key compare-and-set for this client. */
const LARGE_REFUSED = /NOPERM|unknown command|Unknown Redis command|CROSSSLOT/i;

/** The temporary-key compare-and-set was not made (or made nothing): use {@link CAS}. */
const NOT_SENT: unique symbol = Symbol('kv-session.redis.not-sent');

/** The part of a key that Redis Cluster hashes to its slot: the first non-empty `{...}`, or the whole key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * The start of the names of a write's temporary keys, `{<key>}:cas:<token>:` (or `<key>:cas:<token>:`
 * when the key has a hash tag of its own), such that they hash to the slot of `key`; undefined
 * when no such name can be made (a key holding a `}` but no hash tag). `clientPrefix` is what the
 * client puts before every key (ioredis's `keyPrefix`). Exported for tests, not by the package.
 */
export function tempKeyBase(key: string, clientPrefix: string, token: string): string | undefined {
  const full = clientPrefix + key;
  const slot = hashedPart(full);
  const base = `${slot === full ? `{${full}}` : key}:cas:${token}:`;
  return hashedPart(`${clientPrefix}${base}0:new`) === slot ? base : undefined;
}

/** Random delay before retrying a conflict: up to 2 ms per attempt so far, at most 25 ms. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 * (attempt + 1), 25)));
}

/**
 * A stored value as this storage hands it out as `version` and keeps what it wrote: `raw`, what the
 * compare-and-set sends back as the expected value, and its text when at hand. A loaded value is
 * its text (`raw` only: node-redis decodes the reply once, and the compare-and-set encodes it back
 * to the bytes Redis holds); what this process wrote is the bytes it sent, a Buffer, with their
 * text. A value whose bytes are not UTF-8 (written around this library) decodes with U+FFFD and
 * encodes back to other bytes: its first write finds them changed and costs one more round trip
 * (the script answers with the stored value and its SHA1, compared from then on). A reply the
 * client gives as a Buffer (a client with a Buffer type mapping) is kept as such.
 */
interface StoredValue {
  readonly raw: string | Buffer;
  readonly text?: string;
}

function isStoredValue(value: unknown): value is StoredValue {
  if (typeof value !== 'object' || value === null) return false;
  const raw = (value as { raw?: unknown }).raw;
  return typeof raw === 'string' || Buffer.isBuffer(raw);
}

function textOf(value: StoredValue): string {
  return value.text ?? (typeof value.raw === 'string' ? value.raw : value.raw.toString('utf8'));
}

/**
 * A bulk string reply's Buffer to keep: node-redis answers a reply that arrived in one socket read
 * as a view of that read's buffer (64 KB), so a small one is copied rather than holding the whole
 * read for the length of the request.
 */
function ownBuffer(reply: Buffer): Buffer {
  return reply.buffer.byteLength > 2 * reply.length + 8192 ? Buffer.from(reply) : reply;
}

/** What the writers of one session in this process share while they take turns. */
interface WriteState {
  /** The value the last successful write stored. */
  written: StoredValue | undefined;
}

interface WriteLink {
  /** Settles when this writer is done; the next writer waits for it. */
  turn: Promise<void>;
  state: WriteState;
}

/** Waits for `promise` (which never rejects), but not longer than `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** An integer reply as a number (a type mapping may turn it into a string or bigint). */
function integerReply(reply: unknown): number | undefined {
  return typeof reply === 'number' || typeof reply === 'bigint' || typeof reply === 'string'
    ? Number(reply)
    : undefined;
}

/**
 * The text to store: `changes` merged into `base`. Text this storage loaded or wrote (`trusted`) is
 * merged as text (see {@link mergeIntoText}: no parse, no serialization of the kept values); any
 * other (a conflict's current value, which may be anything) is parsed, and reads as empty when it is
 * not a JSON object. Throws SessionTooLargeError over `maxSize`.
 */
function mergeChanges(
  base: string | undefined,
  trusted: boolean,
  changes: ChangeSet,
  maxSize: number,
): string {
  if (base !== undefined && trusted && !changes.clear) {
    const json = mergeIntoText(base, changes);
    if (json !== undefined) {
      // UTF-8 takes 1 to 3 bytes per UTF-16 unit: the exact length only when it can matter.
      if (json.length > maxSize || (json.length * 3 > maxSize && byteLength(json) > maxSize)) {
        throw new SessionTooLargeError(byteLength(json), maxSize);
      }
      return json;
    }
  }
  return serializeSession(
    applyChangeSet(base === undefined ? undefined : parseSessionData(base), changes),
    maxSize,
  );
}

function detectClientSideCache(client: object): boolean {
  const cache: unknown = (client as { clientSideCache?: unknown }).clientSideCache;
  return cache !== undefined && cache !== null;
}

/**
 * Sessions in Redis through a node-redis client (single node, Cluster or Sentinel) or an ioredis
 * client (`Redis` or `Cluster`): one string key
 * per session, `<prefix><id>`, holding the session data as a plain JSON object, with the expiry on
 * the key in milliseconds.
 *
 * Cost: `load` is one command (`GETEX ... PX`, which also refreshes the expiry); a change set is one
 * `EVALSHA` compare-and-set of the key, merged in JavaScript and retried on conflict, so concurrent
 * requests that change different keys of a session all keep their changes. From 8 KB the values
 * travel by `SET`s to temporary keys in the key's slot, pipelined with the script (still one round
 * trip), so that they never enter Lua (see `#casLarge` and docs/redis.md). With a client created
 * with RESP3 and `clientSideCache`, repeated reads are served from the client's cache (0 round
 * trips) and the expiry is refreshed at most once per `refreshInterval`.
 */
export class StorageRedisKV implements Storage {
  readonly #o: ResolvedRedisOptions;
  /** Every Redis call: bounded, mapped to kv-session errors, dropped offline at its deadline. */
  readonly #redis: RedisCommands<RedisClientLike>;
  readonly #cached: boolean;
  /** Client-side cache mode: until when (epoch ms) a session's expiry counts as recently refreshed. */
  readonly #freshUntil = new Map<string, number>();
  /** Sessions with a write in progress in this process, the latest writer last. */
  readonly #writes = new Map<string, WriteLink>();
  /** Owner index: a sorted set per owner (see {@link RedisOwnerIndex}). */
  readonly #owners: RedisOwnerIndex<RedisClientLike>;
  /** What the client puts before every key (ioredis's `keyPrefix`): temporary keys must hash like the key. */
  readonly #clientPrefix: string;
  /** Names this storage's temporary keys apart from other processes' ones. */
  readonly #tempToken = randomBytes(6).toString('base64url');
  #tempCount = 0;
  /** Until when (epoch ms) `apply` uses CAS only, since the server refused the temporary keys. */
  #largeOffUntil = 0;

  constructor(options: StorageRedisKVOptions) {
    this.#o = resolveRedisOptions(options);
    this.#cached = this.#o.clientSideCache ?? detectClientSideCache(this.#o.client);
    this.#redis = new RedisCommands(this.#o.client, this.#o.commandTimeoutMs);
    this.#owners = new RedisOwnerIndex(this.#redis, this.#o.prefix);
    const client: unknown = this.#o.client;
    const keyPrefix = isIoredisClient(client)
      ? (client.options as { keyPrefix?: unknown }).keyPrefix
      : undefined;
    this.#clientPrefix = typeof keyPrefix === 'string' ? keyPrefix : '';
  }

  /** The Redis key of an owner's index: `<prefix>owner:<owner>` (ids never hold `:`). */
  ownerKey(owner: string): string {
    return this.#owners.key(owner);
  }

  /** The record and its remaining TTL (`GET` + `PTTL` in one script), without refreshing it. */
  async peek(id: string): Promise<PeekedSession | undefined> {
    const now = Date.now();
    const reply = await this.#redis.script('peek', PEEK, { keys: [this.key(id)], arguments: [] });
    if (!Array.isArray(reply)) {
      if (reply === null || reply === undefined) return undefined;
      throw new CorruptDataError(
        `Redis key ${this.#o.prefix}${redactId(id)} holds another type than a string`,
      );
    }
    const text = replyText(reply[0], 'peek');
    if (text === undefined || text === MOVED_MARKER) return undefined;
    const data = parseSessionData(text);
    if (data === undefined) {
      throw new CorruptDataError(`Redis key ${this.#o.prefix}${redactId(id)} does not hold a JSON object`);
    }
    const ttl = integerReply(reply[1]);
    return { data, expiresAt: ttl === undefined || ttl < 0 ? undefined : now + ttl };
  }

  addOwned(owner: string, id: string, expiresAt: number): Promise<void> {
    return this.#owners.add(owner, id, expiresAt);
  }

  listOwned(owner: string): Promise<OwnedSession[]> {
    return this.#owners.list(owner);
  }

  removeOwned(owner: string, ids: readonly string[]): Promise<void> {
    return this.#owners.remove(owner, ids);
  }

  /** The Redis key of a session id. */
  key(id: string): string {
    // Without a prefix an id could name any key of the database: only a well-formed one builds a key.
    if (this.#o.prefix === '' && !isValidId(id)) {
      throw new SessionDataError(`not a session id (${redactId(id)}): no Redis key is built from it`);
    }
    return this.#o.prefix + id;
  }

  /** Whether reads go through node-redis's client-side cache (`GET`) rather than `GETEX` (never with ioredis). */
  get clientSideCache(): boolean {
    return this.#cached;
  }

  async load(id: string, maxAgeMs: number): Promise<StoredSession | undefined> {
    const key = this.key(id);
    const now = Date.now();
    let reply: unknown;
    let expiresAt = now + maxAgeMs;
    const freshUntil = this.#cached ? this.#freshUntil.get(id) : undefined;
    if (freshUntil !== undefined && freshUntil > now) {
      // Refreshed by this process less than a window ago: a cacheable GET, usually answered locally.
      reply = await this.#redis.run('load', (client) => client.get(key), READ);
      expiresAt = freshUntil - this.#window(maxAgeMs) + maxAgeMs;
    } else {
      // As text, decoded once by node-redis: parsed here, sent back by the compare-and-set. A read
      // as a Buffer cost about 3 k instructions more (its copy, its decoding, and promises resolved
      // with an object, which look up its `then`; bench/NOTES.md).
      try {
        reply = await this.#redis.run(
          'load',
          (client) => client.getEx(key, { type: 'PX', value: maxAgeMs }),
          READ,
        );
      } catch (error) {
        // The server's reply error, as run() maps it (the cause of a StorageError).
        const cause = (error as { cause?: unknown }).cause;
        if (error instanceof StorageError && isErrorReply(cause) && cause.message.startsWith('WRONGTYPE')) {
          throw new CorruptDataError(
            `Redis key ${this.#o.prefix}${redactId(id)} holds another type than a string; the session reads as empty`,
            { version: WRONG_TYPE },
          );
        }
        throw error;
      }
      if (this.#cached && reply !== null && reply !== undefined) this.#markFresh(id, now, maxAgeMs);
    }
    const buffer = Buffer.isBuffer(reply) ? reply : undefined;
    const text = buffer === undefined ? replyText(reply, 'load') : buffer.toString('utf8');
    if (text === undefined || text === MOVED_MARKER) {
      this.#freshUntil.delete(id);
      return undefined;
    }
    const data = parseSessionData(text);
    if (data === undefined) {
      throw new CorruptDataError(
        `Redis key ${this.#o.prefix}${redactId(id)} does not hold a JSON object; the session reads as empty`,
        { version: text },
      );
    }
    // The stored size comes with the value: core then sizes a write without serializing the session.
    const version: StoredValue = { raw: buffer === undefined ? text : ownBuffer(buffer) };
    return { data, version, expiresAt, size: buffer === undefined ? byteLength(text) : buffer.length };
  }

  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    const now = Date.now();
    const json = JSON.stringify(data);
    await this.#redis.run('save', (client) =>
      client.set(this.key(id), json, { expiration: { type: 'PX', value: maxAgeMs } }),
    );
    if (this.#cached) this.#markFresh(id, now, maxAgeMs);
  }

  async touch(id: string, maxAgeMs: number): Promise<void> {
    const now = Date.now();
    const reply = await this.#redis.run('touch', (client) => client.pExpire(this.key(id), maxAgeMs));
    if (this.#cached && integerReply(reply) === 1) this.#markFresh(id, now, maxAgeMs);
  }

  async remove(id: string): Promise<void> {
    this.#freshUntil.delete(id);
    await this.#redis.run('remove', (client) => client.del(this.key(id)));
  }

  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    // Writes of one session from this process take turns: each then compares against the value
    // the previous one wrote instead of colliding with it (50 simultaneous writers: 1 EVALSHA
    // each instead of 25 on average). Writers in other processes are handled by the retry loop.
    const previous = this.#writes.get(id);
    let done!: () => void;
    const link: WriteLink = {
      turn: new Promise<void>((resolve) => {
        done = resolve;
      }),
      state: previous?.state ?? { written: undefined },
    };
    this.#writes.set(id, link);
    try {
      // Bounded: behind a slow or failing writer, go ahead after one command timeout (the
      // compare-and-set keeps that correct), so a queue never multiplies the time to fail.
      if (previous !== undefined) await within(previous.turn, this.#o.commandTimeoutMs);
      return await this.#apply(id, changes, maxAgeMs, options, link.state);
    } finally {
      done();
      if (this.#writes.get(id) === link) this.#writes.delete(id);
    }
  }

  async #apply(
    id: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: ApplyOptions,
    state: WriteState,
  ): Promise<ApplyResult> {
    const key = this.key(id);
    let mode: CompareMode;
    let expected: string | Buffer;
    // The stored text the change set is merged into, as far as we know it.
    let base: string | undefined;
    // base is text that loaded as a JSON object or that this storage wrote: merged as text.
    let trusted = true;
    if (state.written !== undefined) {
      // A write of this process that finished while this one waited its turn: the likeliest value.
      mode = 'v';
      expected = state.written.raw;
      base = textOf(state.written);
    } else if (options.version === WRONG_TYPE) {
      // Loaded as corrupt (a list, hash... under the key): replace it, unless it changed meanwhile.
      mode = 't';
      expected = '';
    } else if (isStoredValue(options.version)) {
      mode = 'v';
      expected = options.version.raw;
      base = textOf(options.version);
    } else if (typeof options.version === 'string') {
      mode = 'v';
      expected = options.version;
      base = options.version;
    } else if (options.mode === 'create') {
      // A new id: `SET NX` is the whole compare-and-set, one plain command instead of a script.
      const json = serializeSession(applyChangeSet(undefined, changes), options.maxSize);
      const now = Date.now();
      const reply = await this.#redis.run('apply', (client) =>
        client.set(key, json, {
          expiration: { type: 'PX', value: maxAgeMs },
          condition: 'NX',
        }),
      );
      if (reply !== null && reply !== undefined) {
        state.written = { text: json, raw: json };
        if (this.#cached) this.#markFresh(id, now, maxAgeMs);
        return { existed: false, written: true };
      }
      // The key exists after all: read it (blind first attempt below) and merge into it.
      mode = 'h';
      expected = '';
    } else {
      // Update without a known version (e.g. after regenerate): an empty hash never matches, so the
      // first attempt only reads the current value (or reports it missing).
      mode = 'h';
      expected = '';
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const blind = mode === 'h' && expected === '';
      const json = blind ? '' : mergeChanges(base, trusted, changes, options.maxSize);
      // Encoded once: sent now, and sent again as the expected value by this process's next write.
      const raw = blind ? '' : Buffer.from(json, 'utf8');
      const now = Date.now();
      let reply: unknown = NOT_SENT;
      if (
        !blind &&
        (raw.length >= largeValueBytes || (mode === 'v' && expected.length >= largeValueBytes)) &&
        now >= this.#largeOffUntil
      ) {
        reply = await this.#casLarge(key, mode, expected, raw as Buffer, maxAgeMs);
      }
      if (reply === NOT_SENT) {
        reply = await this.#redis.script('apply', CAS, {
          keys: [key],
          arguments: [mode, expected, raw, String(maxAgeMs)],
        });
      }
      const status = integerReply(reply);
      if (status === 1) {
        state.written = { text: json, raw };
        if (this.#cached) this.#markFresh(id, now, maxAgeMs);
        return { existed: mode !== 'n', written: true };
      }
      if (status === -1) {
        // Another type than a string under the key (planted): corrupt, so replace it by our changes.
        mode = 't';
        expected = '';
        base = undefined;
        continue;
      }
      if (status === 0) {
        // The key is gone. In update mode it stays gone: a stale save must not resurrect it.
        state.written = undefined;
        this.#freshUntil.delete(id);
        if (options.mode === 'update') return { existed: false, written: false };
        mode = 'n';
        expected = '';
        base = undefined;
        continue;
      }
      if (Array.isArray(reply) && reply.length === 2) {
        // Lost a race (or guessed): merge into what is stored now and compare against its hash.
        base = replyText(reply[0], 'apply');
        trusted = false;
        if (base === MOVED_MARKER && options.mode === 'update') {
          // regenerate() in another request moved the session: say so rather than drop the write.
          state.written = undefined;
          this.#freshUntil.delete(id);
          return { existed: false, written: false, moved: true };
        }
        if (Buffer.isBuffer(reply[0])) {
          // Its exact bytes (CAS_LARGE answers Buffers): compared natively next time, not hashed in Lua.
          mode = 'v';
          expected = ownBuffer(reply[0]);
        } else {
          mode = 'h';
          expected = replyText(reply[1], 'apply') ?? '';
        }
        // A real conflict (not the blind first read): writers that lost together would collide
        // again in lockstep, so spread the retries a little.
        if (!blind) await backoff(attempt);
        continue;
      }
      throw new StorageError(`Redis apply returned an unexpected reply: ${String(reply)}`);
    }
    throw new StorageError(
      `Redis apply gave up after ${MAX_ATTEMPTS} conflicting concurrent writes to one session`,
    );
  }

  /**
   * One attempt of the compare-and-set with temporary keys ({@link CAS_LARGE}), in one round trip:
   * `SET` of the expected value (mode `v`) and of the new one to temporary keys in the key's slot,
   * with a time to live of the command timeout plus a second (they vanish if this process dies
   * halfway), and the script, written together in one pipeline. Answers what {@link CAS} would, or
   * {@link NOT_SENT} when nothing was written and {@link CAS} is to be used instead: the key cannot
   * have temporary keys in its slot, the new value's key was gone, or the server refused (ACL
   * `NOPERM`, unknown command; then for {@link LARGE_REFUSED_MS} every write uses CAS).
   */
  async #casLarge(
    key: string,
    mode: CompareMode,
    expected: string | Buffer,
    raw: Buffer,
    maxAgeMs: number,
  ): Promise<unknown> {
    const base = tempKeyBase(key, this.#clientPrefix, this.#tempToken);
    if (base === undefined) return NOT_SENT;
    const names = `${base}${++this.#tempCount}:`;
    const oldKey = `${names}old`;
    const newKey = `${names}new`;
    const temp = { expiration: { type: 'PX' as const, value: this.#o.commandTimeoutMs + 1000 } };
    const options: ScriptCallOptions = {
      keys: [key, oldKey, newKey, `${names}x`],
      arguments: [mode, mode === 'h' ? expected : '', String(maxAgeMs)],
    };
    return await this.#redis.run(
      'apply',
      async (client) => {
        // Not awaited one by one: node-redis writes commands of one tick as one pipeline.
        // RedisClientLike types values as strings; both clients send a Buffer as it is.
        const sets: Promise<unknown>[] = [];
        if (mode === 'v') sets.push(client.set(oldKey, expected as string, temp));
        sets.push(client.set(newKey, raw as unknown as string, temp));
        // On first use on this server EVAL loads it (the temporary keys are still there).
        const script = evalScript(client, CAS_LARGE, options);
        const [done, ...stored] = await Promise.allSettled([script, ...sets]);
        // Written: a failed SET cannot lead here (the script finds no new key, or no expected one).
        if (done?.status === 'fulfilled' && integerReply(done.value) === 1) return done.value;
        let refused = false;
        for (const result of [done, ...stored]) {
          if (result?.status !== 'rejected') continue;
          const error: unknown = result.reason;
          if (!isErrorReply(error) || !LARGE_REFUSED.test(error.message)) throw error;
          refused = true;
        }
        const status = done?.status === 'fulfilled' ? integerReply(done.value) : undefined;
        if (refused || status === -3) {
          this.#largeOffUntil = Date.now() + LARGE_REFUSED_MS;
          return NOT_SENT;
        }
        if (status === -2) return NOT_SENT;
        return done?.status === 'fulfilled' ? done.value : NOT_SENT;
      },
      BUFFERS,
    );
  }

  /**
   * Moves a session to a new key in three single-key steps (on Cluster the two keys are in different
   * slots, so no one script can hold both): read the old value with its SHA1 (skipped when the
   * loaded version is given), `SET` the new key to it with `changes` merged in, then compare-and-set
   * the old key from exactly that value to {@link MOVED_MARKER}. If the old value changed meanwhile
   * (a concurrent write), the new key is rewritten from the new value and the swap retried, so the
   * write moves too; if the old key is gone (a concurrent destroy), the new key is deleted and the
   * move reports `moved: false`. Until the swap, the new key is under an id no client knows yet, so
   * nobody can observe a half-done move; a failure leaves the old session intact (plus an orphan
   * that expires). Cost: 2 round trips (`SET` + `EVALSHA`), 3 without a loaded version.
   */
  async move(
    fromId: string,
    toId: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: MoveOptions,
  ): Promise<MoveResult> {
    const from = this.key(fromId);
    const to = this.key(toId);
    let current: string | typeof WRONG_TYPE | undefined;
    let sha = '';
    if (isStoredValue(options.version)) {
      current = textOf(options.version);
      sha = createHash('sha1').update(options.version.raw).digest('hex');
    } else if (typeof options.version === 'string' || options.version === WRONG_TYPE) {
      current = options.version;
      if (typeof current === 'string') sha = createHash('sha1').update(current).digest('hex');
    } else {
      [current, sha] = await this.#read(from);
    }
    let written = false;
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (current === undefined || current === MOVED_MARKER) {
          // Destroyed or moved meanwhile: never revive it under the new id.
          if (written) await this.#redis.run('move', (client) => client.del(to));
          written = false;
          return { moved: false };
        }
        // A corrupt value (not a JSON object, another type) read as empty: it moves as empty.
        const base = current === WRONG_TYPE ? undefined : parseSessionData(current);
        const json = serializeSession(applyChangeSet(base, changes), options.maxSize);
        const now = Date.now();
        await this.#redis.run('move', (client) =>
          client.set(to, json, { expiration: { type: 'PX', value: maxAgeMs } }),
        );
        written = true;
        const reply = await this.#redis.script('move', CAS, {
          keys: [from],
          arguments: [current === WRONG_TYPE ? 't' : 'h', sha, MOVED_MARKER, String(maxAgeMs)],
        });
        const status = integerReply(reply);
        if (status === 1) {
          this.#freshUntil.delete(fromId);
          if (this.#cached) this.#markFresh(toId, now, maxAgeMs);
          return { moved: true };
        }
        if (status === 0) current = undefined;
        else if (status === -1) current = WRONG_TYPE;
        else if (Array.isArray(reply) && reply.length === 2) {
          // Changed since it was read: move what is stored now (the concurrent write included).
          current = replyText(reply[0], 'move');
          sha = replyText(reply[1], 'move') ?? '';
          await backoff(attempt);
        } else throw new StorageError(`Redis move returned an unexpected reply: ${String(reply)}`);
      }
      throw new StorageError(`Redis move gave up after ${MAX_ATTEMPTS} concurrent writes to the session`);
    } catch (error) {
      // Not moved: the new key must not outlive the failure holding the data (best effort; it
      // expires anyway and its id was never sent to anyone).
      if (written) await this.#redis.run('move', (client) => client.del(to)).catch(() => undefined);
      throw error;
    }
  }

  /** The value under `key` and its SHA1 as Redis computes it, in one round trip (the CAS script never matches an empty hash). */
  async #read(key: string): Promise<[string | typeof WRONG_TYPE | undefined, string]> {
    const reply = await this.#redis.script('move', CAS, { keys: [key], arguments: ['h', '', '', '1'] });
    const status = integerReply(reply);
    if (status === 0) return [undefined, ''];
    if (status === -1) return [WRONG_TYPE, ''];
    if (Array.isArray(reply) && reply.length === 2) {
      return [replyText(reply[0], 'move'), replyText(reply[1], 'move') ?? ''];
    }
    throw new StorageError(`Redis move returned an unexpected reply: ${String(reply)}`);
  }

  /** Forgets refresh bookkeeping. The client is the caller's: it is not closed. */
  async close(): Promise<void> {
    this.#freshUntil.clear();
  }

  /** How long a refresh counts as recent in client-side cache mode. */
  #window(maxAgeMs: number): number {
    return Math.max(1, Math.min(this.#o.refreshIntervalMs, Math.floor(maxAgeMs / 10)));
  }

  #markFresh(id: string, refreshedAt: number, maxAgeMs: number): void {
    const map = this.#freshUntil;
    map.delete(id);
    map.set(id, refreshedAt + this.#window(maxAgeMs));
    if (map.size > REFRESHED_SOFT_LIMIT) {
      const now = Date.now();
      for (const [k, until] of map) if (until <= now) map.delete(k);
      // Still too many live sessions: forget the oldest (they pay one GETEX on their next read).
      for (const k of map.keys()) {
        if (map.size <= REFRESHED_HARD_LIMIT) break;
        map.delete(k);
      }
    }
  }
}
