import {
  type ApplyOptions,
  type ApplyResult,
  applyChangeSet,
  byteLength,
  type ChangeSet,
  ConfigError,
  CorruptDataError,
  entrySize,
  formatIssues,
  type JsonValue,
  type MoveOptions,
  type MoveResult,
  type OwnedSession,
  type PeekedSession,
  redactId,
  type SessionData,
  SessionTooLargeError,
  type Storage,
  StorageError,
  type StoredSession,
  type StoredSizes,
  setOwn,
} from '@kv-session/core';
import { z } from 'zod';
import { RedisCommands, type RedisScript, redisScript, replyText, type ScriptCallOptions } from './client.js';
import { type IoredisClientLike, isIoredisClient } from './driver-ioredis.js';
import { CLIENT_MESSAGE, currentOptionNames } from './options.js';
import { RedisOwnerIndex } from './owner-index.js';
import { MOVED_MARKER } from './script.js';

/**
 * The part of a node-redis client that {@link StorageRedisHash} uses; `createClient()`,
 * `createCluster()` and `createSentinel()` all fit.
 */
export interface RedisHashClientLike {
  pExpire(key: string, milliseconds: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
  eval(script: string, options: ScriptCallOptions): Promise<unknown>;
  evalSha(sha1: string, options: ScriptCallOptions): Promise<unknown>;
}

/** Options of {@link StorageRedisHash}. */
export interface StorageRedisHashOptions {
  /**
   * A connected Redis client, either a node-redis one (`createClient()`, `createCluster()` or
   * `createSentinel()`) or an ioredis one (`new Redis()` or `new Cluster()`); which one is
   * recognised from the object. The storage never connects or closes it. Attach an `'error'`
   * listener to it.
   */
  client: RedisHashClientLike | IoredisClientLike;
  /**
   * Prepended to the session id to form the Redis key of the hash. Must not be empty. Differs from
   * `StorageRedisKV`'s default so that the two never read each other's keys. @default 'kv-session:h:'
   */
  prefix?: string;
  /**
   * Longest wait, in milliseconds, for one Redis command; past it the operation fails with
   * `StorageUnavailableError` (HTTP 503). @default 2000
   */
  commandTimeout?: number;
  /** @deprecated Use {@link commandTimeout} (the same milliseconds; durations carry no unit suffix). */
  commandTimeoutMs?: number;
}

/**
 * The hash field that marks a session as existing, even with no data, and holds the order of its
 * keys (a JSON array of field names; Redis hashes do not keep insertion order). Field names that
 * start with a NUL character are reserved: session keys that start with one (or that are not
 * well-formed UTF-16) are stored under {@link ENCODED_FIELD_PREFIX} plus their JSON.
 */
export const HASH_MARKER_FIELD = '\u0000kv';
/** Prefix of the field name of a session key stored JSON-encoded (see {@link HASH_MARKER_FIELD}). */
export const ENCODED_FIELD_PREFIX = '\u0000j';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The hash field of a session key. */
function fieldOf(key: string): string {
  // UTF-8 cannot carry a lone surrogate, and NUL-prefixed names are ours: store those keys as JSON.
  return key.startsWith('\u0000') || LONE_SURROGATE.test(key)
    ? ENCODED_FIELD_PREFIX + JSON.stringify(key)
    : key;
}

/** The session key of a hash field; undefined for the marker. */
function keyOf(field: string): string | undefined {
  if (field === HASH_MARKER_FIELD) return undefined;
  if (field.startsWith(ENCODED_FIELD_PREFIX)) {
    try {
      const key: unknown = JSON.parse(field.slice(ENCODED_FIELD_PREFIX.length));
      if (typeof key === 'string') return key;
    } catch {
      // not ours after all: an ordinary field name
    }
  }
  return field;
}

/** Version token of a session that could not be decoded: its next change set replaces it all. */
const CORRUPT = Symbol('kv-session.redis-hash.corrupt');

/**
 * Lua for a key that is not a hash: nil (missing) when it is the mark `move()` left, else 0 (corrupt).
 * The mark is a plain string, {@link MOVED_MARKER}, as under StorageRedisKV.
 */
const NOT_A_HASH = `if t == 'string' and redis.call('GET', KEYS[1]) == '${MOVED_MARKER}' then return false end
  return 0`;

/**
 * Reads the whole hash and refreshes its expiry in the same round trip.
 * KEYS[1] the hash; ARGV[1] time to live in ms. Returns nil (missing), 0 (not a hash) or HGETALL.
 */
const LOAD_SCRIPT = `local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then
  ${NOT_A_HASH}
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
`;

/** Reads the whole hash and its PTTL without refreshing it. KEYS[1] the hash. Returns nil, 0 or `{HGETALL, PTTL}`. */
const PEEK_SCRIPT = `local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then
  ${NOT_A_HASH}
end
return {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1])}
`;

/**
 * Reads some fields and refreshes the expiry in the same round trip.
 * KEYS[1] the hash; ARGV[1] time to live in ms; ARGV[2..] field names. Returns nil, 0 or HMGET.
 */
const LOAD_KEYS_SCRIPT = `local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then
  ${NOT_A_HASH}
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
`;

/**
 * Reads the byte size of every field (not the values) and refreshes the expiry, in one round trip.
 * KEYS[1] the hash; ARGV[1] time to live in ms. Returns nil, 0 or {field, HSTRLEN, ...} (no marker).
 */
const LOAD_SIZES_SCRIPT = `local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then
  ${NOT_A_HASH}
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local out = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f ~= '\\0kv' then
    out[#out + 1] = f
    out[#out + 1] = redis.call('HSTRLEN', KEYS[1], f)
  end
end
return out
`;

/**
 * Applies a change set to one hash atomically, touching only the fields it names.
 * KEYS[1] the hash. ARGV: [1] 'c' create or 'u' update (a missing hash stays missing), [2] '1' to
 * clear first, [3] time to live in ms, [4] size limit in bytes (0: none), [5] size of the set
 * entries as JSON, [6] number of removed fields n, [7..6+n] removed fields, then field/value pairs.
 * The size of kept fields is approximated as #field + 3 + HSTRLEN (escapes in names not counted).
 * The marker field keeps the key order: kept keys in place, new ones appended (as JSON would).
 * Returns {existed, written}, {-1, size} when over the limit (nothing written), or {2, 0} in update
 * mode when the key holds the mark of a move (nothing written).
 */
const APPLY_SCRIPT = `local key = KEYS[1]
local marker = '\\0kv'
local t = redis.call('TYPE', key)['ok']
if t == 'string' and redis.call('GET', key) == '${MOVED_MARKER}' then
  if ARGV[1] == 'u' then return {2, 0} end
  redis.call('DEL', key)
  t = 'none'
end
local existed = t ~= 'none'
if not existed and ARGV[1] == 'u' then return {0, 0} end
local clear = ARGV[2] == '1' or (existed and t ~= 'hash')
local limit = tonumber(ARGV[4])
local nrem = tonumber(ARGV[6])
local first = 7 + nrem
local touched = {}
for i = 7, first - 1 do touched[ARGV[i]] = true end
local count = 0
for i = first, #ARGV, 2 do touched[ARGV[i]] = true; count = count + 1 end
local order = {}
if existed and not clear then
  local raw = redis.call('HGET', key, marker)
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then order = decoded end
  end
end
if limit > 0 then
  local size = tonumber(ARGV[5])
  if existed and not clear then
    local fields = redis.call('HKEYS', key)
    for _, f in ipairs(fields) do
      if f ~= marker and not touched[f] then
        size = size + #f + 3 + redis.call('HSTRLEN', key, f)
        count = count + 1
      end
    end
  end
  size = size + 2
  if count > 1 then size = size + count - 1 end
  if size > limit then return {-1, size} end
end
if clear then
  if existed then redis.call('DEL', key) end
elseif nrem > 0 then
  for i = 7, first - 1, 1000 do
    redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, first - 1)))
  end
end
local seen = {}
local names = {}
for i = 7, first - 1 do seen[ARGV[i]] = true end
for _, f in ipairs(order) do
  if type(f) == 'string' and not seen[f] then seen[f] = true; names[#names + 1] = cjson.encode(f) end
end
for i = first, #ARGV, 2 do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; names[#names + 1] = cjson.encode(ARGV[i]) end
end
redis.call('HSET', key, marker, '[' .. table.concat(names, ',') .. ']')
for i = first, #ARGV, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', key, ARGV[3])
if existed then return {1, 1} end
return {0, 1}
`;

/**
 * Takes a session away for `move()`: returns HGETALL (0 when the key is not a hash: corrupt) and
 * replaces the key by the mark, or returns nil when there is no session (missing or already moved).
 * KEYS[1] the hash; ARGV[1] how long the mark lives, in ms.
 */
const TAKE_SCRIPT = `local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t == 'string' and redis.call('GET', KEYS[1]) == '${MOVED_MARKER}' then return false end
local out = 0
if t == 'hash' then out = redis.call('HGETALL', KEYS[1]) end
redis.call('SET', KEYS[1], '${MOVED_MARKER}', 'PX', ARGV[1])
return out
`;

/**
 * Puts back what TAKE_SCRIPT took, when the rest of the move failed, unless the mark was replaced
 * meanwhile. KEYS[1] the hash; ARGV[1] time to live in ms; ARGV[2..] the field/value pairs taken.
 */
const RESTORE_SCRIPT = `if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' or redis.call('GET', KEYS[1]) ~= '${MOVED_MARKER}' then
  return 0
end
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
  for i = 2, #ARGV, 1000 do
    redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
else
  redis.call('HSET', KEYS[1], '\\0kv', '[]')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

const SCRIPTS = {
  take: redisScript(TAKE_SCRIPT),
  restore: redisScript(RESTORE_SCRIPT),
  load: redisScript(LOAD_SCRIPT),
  loadKeys: redisScript(LOAD_KEYS_SCRIPT),
  loadSizes: redisScript(LOAD_SIZES_SCRIPT),
  apply: redisScript(APPLY_SCRIPT),
  peek: redisScript(PEEK_SCRIPT),
};

const schema = z.strictObject({
  client: z.custom<RedisHashClientLike | IoredisClientLike>(
    (v) =>
      isIoredisClient(v) ||
      (typeof v === 'object' &&
        v !== null &&
        ['pExpire', 'del', 'eval', 'evalSha'].every(
          (m) => typeof (v as Record<string, unknown>)[m] === 'function',
        )),
    { message: CLIENT_MESSAGE },
  ),
  prefix: z.string().min(1, 'must not be empty').default('kv-session:h:'),
  commandTimeout: z.number().int().positive().default(2000),
});

/**
 * Sessions in Redis as hashes: one hash per session, `<prefix><id>`, with one field per session key
 * holding that value's JSON (plus {@link HASH_MARKER_FIELD}). Suited to large sessions: a change
 * set rewrites only the fields it names (one `EVALSHA`), and `Session.get(key)` / `has(key)` read
 * only the fields asked for ({@link loadKeys}), so a request that reads one key of a 5 MB session
 * moves only that key. Concurrent requests that change different keys merge naturally; a session
 * removed meanwhile is not recreated by an update. One key per operation, so it works on Cluster.
 *
 * Every read also refreshes the expiry of the hash, in the same script (one round trip).
 */
export class StorageRedisHash implements Storage {
  readonly #prefix: string;
  /** Every Redis call: bounded, mapped to kv-session errors, dropped offline at its deadline. */
  readonly #redis: RedisCommands<RedisHashClientLike>;
  /** Owner index: a sorted set per owner (see {@link RedisOwnerIndex}). */
  readonly #owners: RedisOwnerIndex<RedisHashClientLike>;

  constructor(options: StorageRedisHashOptions) {
    const renamed = currentOptionNames(options, { commandTimeoutMs: 'commandTimeout' });
    const parsed = schema.safeParse(renamed.options);
    const problems = [
      ...renamed.problems,
      ...(parsed.success ? [] : renamed.asGiven(formatIssues(parsed.error.issues))),
    ];
    if (!parsed.success || problems.length > 0) throw new ConfigError(problems, 'StorageRedisHash options');
    this.#prefix = parsed.data.prefix;
    this.#redis = new RedisCommands(parsed.data.client, parsed.data.commandTimeout);
    this.#owners = new RedisOwnerIndex(this.#redis, this.#prefix);
  }

  /** The Redis key of an owner's index: `<prefix>owner:<owner>` (ids never hold `:`). */
  ownerKey(owner: string): string {
    return this.#owners.key(owner);
  }

  /** The whole record and its remaining TTL in one script, without refreshing it. */
  async peek(id: string): Promise<PeekedSession | undefined> {
    const now = Date.now();
    const reply = await this.#run('peek', SCRIPTS.peek, [this.key(id)], []);
    if (reply === null || reply === undefined) return undefined;
    if (!Array.isArray(reply) || !Array.isArray(reply[0])) throw this.#corrupt(id, 'is not a hash');
    const ttl = Number(reply[1]);
    return {
      data: this.#decodeAll(id, reply[0] as unknown[]),
      expiresAt: Number.isFinite(ttl) && ttl >= 0 ? now + ttl : undefined,
    };
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
    return this.#prefix + id;
  }

  async load(id: string, maxAgeMs: number): Promise<StoredSession | undefined> {
    const expiresAt = Date.now() + maxAgeMs;
    const reply = await this.#run('load', SCRIPTS.load, [this.key(id)], [String(maxAgeMs)]);
    if (reply === null || reply === undefined) return undefined;
    if (!Array.isArray(reply)) throw this.#corrupt(id, 'is not a hash');
    // The size of the session as one JSON object, from the field texts at hand: core then sizes a
    // write from it rather than serializing every value again.
    const size = { bytes: 0 };
    return { data: this.#decodeAll(id, reply, size), expiresAt, size: Math.max(2, size.bytes) };
  }

  /**
   * The session data of an HGETALL reply, in the stored key order; CorruptDataError for a non-JSON
   * value. With `size`, adds the byte length the data has as one JSON object (`{`, entries, `,`, `}`).
   */
  #decodeAll(id: string, reply: readonly unknown[], size?: { bytes: number }): SessionData {
    const values = new Map<string, string>();
    let order: unknown;
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const field = replyText(reply[i], 'load')!;
      const value = replyText(reply[i + 1], 'load')!;
      if (field !== HASH_MARKER_FIELD) values.set(field, value);
      else {
        try {
          order = JSON.parse(value);
        } catch {
          // a damaged order only loses the order; the data is intact
        }
      }
    }
    const data: SessionData = {};
    const add = (field: string) => {
      const json = values.get(field);
      if (json === undefined) return;
      values.delete(field);
      const key = keyOf(field)!;
      setOwn(data, key, this.#decode(id, key, json));
      if (size !== undefined) size.bytes += (size.bytes === 0 ? 2 : 1) + entrySize(key, byteLength(json));
    };
    if (Array.isArray(order)) for (const field of order) if (typeof field === 'string') add(field);
    // Fields written by someone else (an operator's HSET) come last, in hash order.
    for (const field of [...values.keys()]) add(field);
    return data;
  }

  /**
   * Reads only `keys` of a session (and refreshes its expiry), in one round trip; used by
   * `Session.get`/`has` before the whole session is needed. Resolves `undefined` when there is no
   * session.
   */
  async loadKeys(id: string, keys: readonly string[], maxAgeMs: number): Promise<StoredSession | undefined> {
    const expiresAt = Date.now() + maxAgeMs;
    const fields = keys.length === 0 ? [HASH_MARKER_FIELD] : keys.map(fieldOf);
    const reply = await this.#run('load', SCRIPTS.loadKeys, [this.key(id)], [String(maxAgeMs), ...fields]);
    if (reply === null || reply === undefined) return undefined;
    if (!Array.isArray(reply)) throw this.#corrupt(id, 'is not a hash');
    const data: SessionData = {};
    keys.forEach((key, i) => {
      const value = replyText(reply[i], 'load');
      if (value !== undefined) setOwn(data, key, this.#decode(id, key, value));
    });
    return { data, expiresAt };
  }

  /**
   * Reads the size of each key (not the values) and refreshes the expiry, in one round trip. Core
   * uses it when a request writes before it reads: `maxSize` is checked against these sizes, so a
   * write to a large session does not load it.
   */
  async loadSizes(id: string, maxAgeMs: number): Promise<StoredSizes | undefined> {
    const expiresAt = Date.now() + maxAgeMs;
    const reply = await this.#run('load', SCRIPTS.loadSizes, [this.key(id)], [String(maxAgeMs)]);
    if (reply === null || reply === undefined) return undefined;
    if (!Array.isArray(reply)) throw this.#corrupt(id, 'is not a hash');
    const sizes = new Map<string, number>();
    for (let i = 0; i + 1 < reply.length; i += 2)
      sizes.set(keyOf(replyText(reply[i], 'load')!)!, Number(reply[i + 1]));
    return { sizes, expiresAt };
  }

  async save(id: string, data: SessionData, maxAgeMs: number): Promise<void> {
    const set = new Map<string, JsonValue>();
    for (const key of Object.keys(data)) set.set(key, data[key]!);
    await this.#apply(id, { clear: true, remove: new Set(), set }, maxAgeMs, 'c', 0);
  }

  async touch(id: string, maxAgeMs: number): Promise<void> {
    await this.#redis.run('touch', (client) => client.pExpire(this.key(id), maxAgeMs));
  }

  async remove(id: string): Promise<void> {
    await this.#redis.run('remove', (client) => client.del(this.key(id)));
  }

  async apply(id: string, changes: ChangeSet, maxAgeMs: number, options: ApplyOptions): Promise<ApplyResult> {
    // A session that read as corrupt read as empty: its change set replaces every field.
    const effective: ChangeSet =
      options.version === CORRUPT ? { clear: true, remove: new Set(), set: changes.set } : changes;
    return this.#apply(id, effective, maxAgeMs, options.mode === 'create' ? 'c' : 'u', options.maxSize);
  }

  /**
   * Moves a session to a new key. The two keys may be in different Cluster slots, so this takes two
   * single-key steps: one script takes the old hash (HGETALL) and leaves the mark of a move in its
   * place, atomically with its existence (gone: nothing is written, `moved: false`); then the data,
   * with `changes` merged in, is written under the new key. A concurrent write to the old key lands
   * before the take (and moves along) or finds the mark (update mode answers `moved`). If the
   * second step fails (over `maxSize`, Redis unreachable), the taken fields are put back unless the
   * mark was replaced meanwhile; if that fails too, the session is lost (logged out, never revived).
   * Cost: 2 `EVALSHA`.
   */
  async move(
    fromId: string,
    toId: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: MoveOptions,
  ): Promise<MoveResult> {
    const from = this.key(fromId);
    const reply = await this.#run('move', SCRIPTS.take, [from], [String(maxAgeMs)]);
    if (reply === null || reply === undefined) return { moved: false };
    const taken = Array.isArray(reply) ? reply.map((r) => replyText(r, 'move')!) : [];
    let base: SessionData | undefined;
    try {
      base = this.#decodeAll(fromId, taken);
    } catch (error) {
      // Read as empty by the request that loaded it: it moves as an empty session.
      if (!(error instanceof CorruptDataError)) throw error;
    }
    try {
      const set = new Map(Object.entries(applyChangeSet(base, changes)));
      await this.#apply(toId, { clear: true, remove: new Set(), set }, maxAgeMs, 'c', options.maxSize);
    } catch (error) {
      await this.#run('move', SCRIPTS.restore, [from], [String(maxAgeMs), ...taken]).catch(() => undefined);
      throw error;
    }
    return { moved: true };
  }

  /** Nothing to release: the client is the caller's and is not closed. */
  async close(): Promise<void> {}

  async #apply(
    id: string,
    changes: ChangeSet,
    maxAgeMs: number,
    mode: 'c' | 'u',
    maxSize: number,
  ): Promise<ApplyResult> {
    const removed = changes.clear ? [] : [...changes.remove].map(fieldOf);
    const pairs: string[] = [];
    let setSize = 0;
    for (const [key, value] of changes.set) {
      const json = JSON.stringify(value);
      setSize += entrySize(key, byteLength(json));
      pairs.push(fieldOf(key), json);
    }
    const args = [
      mode,
      changes.clear ? '1' : '0',
      String(maxAgeMs),
      String(maxSize),
      String(setSize),
      String(removed.length),
      ...removed,
      ...pairs,
    ];
    const reply = await this.#run('apply', SCRIPTS.apply, [this.key(id)], args);
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new StorageError(`Redis apply returned an unexpected reply: ${String(reply)}`);
    }
    const [a, b] = reply.map(Number) as [number, number];
    if (a === -1) throw new SessionTooLargeError(b, maxSize);
    // regenerate() in another request moved the session: say so rather than drop the write.
    if (a === 2) return { existed: false, written: false, moved: true };
    return { existed: a === 1, written: b === 1 };
  }

  #decode(id: string, key: string, json: string): JsonValue {
    try {
      return JSON.parse(json) as JsonValue;
    } catch (error) {
      throw this.#corrupt(id, `value of ${JSON.stringify(key)} is not JSON`, error);
    }
  }

  #corrupt(id: string, why: string, cause?: unknown): CorruptDataError {
    return new CorruptDataError(
      `Redis hash ${this.#prefix}${redactId(id)} ${why}; the session reads as empty`,
      {
        version: CORRUPT,
        cause,
      },
    );
  }

  #run(operation: string, script: RedisScript, keys: string[], args: string[]): Promise<unknown> {
    return this.#redis.script(operation, script, { keys, arguments: args });
  }
}
