import {
  byteLength,
  META_KEY,
  parseSessionData,
  type SessionData,
  type SessionMeta,
  setOwn,
} from '@kv-session/core';
import { ENCODED_FIELD_PREFIX, HASH_MARKER_FIELD, MOVED_MARKER } from '@kv-session/redis';
import type { StorageKind } from './args.js';
import { bounded, type Client } from './connection.js';

/** One session as stored: what `show` prints and `stats` counts. */
export interface SessionRecord {
  /** The session data, without core's reserved `__kv` field. */
  data: SessionData;
  meta: SessionMeta;
  /** UTF-8 bytes of the whole record as JSON (the data and its bookkeeping; what `maxSize` limits). */
  bytes: number;
}

/** What a key under the prefix holds. */
export type KeyContent =
  | { kind: 'session'; record: SessionRecord }
  | { kind: 'missing' }
  /** What `regenerate()` leaves under the old id for a while: not a session. */
  | { kind: 'moved' }
  /** Anything else: another storage's sessions, another application's keys, or damage. */
  | { kind: 'other'; what: string };

/** The Redis types a storage's sessions have. */
const SESSION_TYPE: Readonly<Record<StorageKind, string>> = { kv: 'string', hash: 'hash' };

/**
 * Reads what the keys hold, without refreshing any expiry (a storage's `load` would: an operator
 * looking at a session must not keep it alive). Two pipelined round trips for the whole batch:
 * TYPE of each key, then GET or HGETALL of those that can be sessions.
 */
export async function readKeys(
  client: Client,
  storage: StorageKind,
  keys: readonly string[],
  timeoutMs: number,
): Promise<KeyContent[]> {
  const types = await bounded(Promise.all(keys.map((key) => client.type(key))), timeoutMs, 'TYPE');
  const wanted = SESSION_TYPE[storage];
  const reads = keys.map(async (key, i): Promise<KeyContent> => {
    const type = String(types[i]);
    if (type === 'none') return { kind: 'missing' };
    if (type === 'string') {
      const text = await client.get(key);
      if (text === null) return { kind: 'missing' };
      if (text === MOVED_MARKER) return { kind: 'moved' };
      if (type !== wanted) return { kind: 'other', what: 'a string key (not a StorageRedisHash session)' };
      return fromJson(text);
    }
    if (type === 'hash' && type === wanted) {
      const fields = await client.hGetAll(key);
      if (Object.keys(fields).length === 0) return { kind: 'missing' };
      return fromHash(fields);
    }
    return { kind: 'other', what: `a ${type} key` };
  });
  return bounded(Promise.all(reads), timeoutMs, 'GET/HGETALL');
}

function fromJson(text: string): KeyContent {
  const data = parseSessionData(text);
  if (data === undefined) return { kind: 'other', what: 'a string that is not a JSON object (corrupt)' };
  return { kind: 'session', record: split(data, byteLength(text)) };
}

/** A StorageRedisHash session: one JSON value per field, plus the marker field (key order). */
function fromHash(fields: Record<string, string>): KeyContent {
  const data: SessionData = {};
  for (const [field, json] of Object.entries(fields)) {
    if (field === HASH_MARKER_FIELD) continue;
    let key = field;
    let value: unknown;
    try {
      // A session key the storage had to encode (it starts with NUL or is not valid UTF-16).
      if (field.startsWith(ENCODED_FIELD_PREFIX)) key = JSON.parse(field.slice(ENCODED_FIELD_PREFIX.length));
      value = JSON.parse(json);
    } catch {
      return { kind: 'other', what: 'a hash with a field that is not JSON (corrupt)' };
    }
    setOwn(data, String(key), value);
  }
  return { kind: 'session', record: split(data, byteLength(JSON.stringify(data))) };
}

function split(all: SessionData, bytes: number): SessionRecord {
  const { [META_KEY]: raw, ...data } = all;
  const meta: SessionMeta = {};
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const m = raw as Record<string, unknown>;
    if (typeof m.created === 'number') meta.created = m.created;
    if (typeof m.owner === 'string') meta.owner = m.owner;
    if (typeof m.maxAge === 'number') meta.maxAge = m.maxAge;
  }
  return { data, meta, bytes };
}
