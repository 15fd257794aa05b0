import { isValidId, redactId } from '@kv-session/core';
import type { StorageKind } from './args.js';
import { bounded, type Client } from './connection.js';
import { readKeys } from './records.js';

/** What `kv-session stats` reports. */
export interface Stats {
  prefix: string;
  storage: StorageKind;
  /** Sessions found (keys holding a session of this storage). */
  sessions: number;
  /** Size distribution in bytes (the record as JSON, UTF-8); null without sessions. */
  bytes: { total: number; p50: number; p90: number; p99: number; max: number } | null;
  /** The session created first, by its stored creation time; null when none has one. */
  oldest: { id: string; created: string; ageMs: number } | null;
  /** Sessions without a stored creation time (written before kv-session kept one). */
  withoutCreated: number;
  /** Distinct owners among the sessions (`session.setOwner()`). */
  owners: number;
  /** Keys under the prefix that are not sessions, by kind. */
  skipped: { ownerIndexes: number; movedMarks: number; other: number };
}

/** What follows the prefix in the key of an owner index (`<prefix>owner:<owner>`, a sorted set). */
const OWNER_INDEX = 'owner:';

/** Keys asked per SCAN call: a hint to Redis, which answers about as many per step. */
const SCAN_COUNT = 500;

/** `prefix` as a SCAN MATCH pattern of its own keys: glob characters in it matched literally. */
export function matchPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

/** The value at the nearest-rank percentile `p` of `sorted` (ascending, not empty). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Walks the keys under `prefix` with SCAN (never KEYS, which blocks Redis for the whole keyspace),
 * reading each batch in two pipelined round trips. Owner indexes (sorted sets) and the marks
 * `regenerate()` leaves under old ids are skipped and counted apart. SCAN may return a key twice
 * (while Redis resizes its table): each key is counted once.
 */
export async function collectStats(
  client: Client,
  storage: StorageKind,
  prefix: string,
  timeoutMs: number,
  now = Date.now(),
): Promise<Stats> {
  const sizes: number[] = [];
  const seen = new Set<string>();
  const owners = new Set<string>();
  const skipped = { ownerIndexes: 0, movedMarks: 0, other: 0 };
  let withoutCreated = 0;
  let oldest: { id: string; created: number } | undefined;
  let cursor = '0';
  do {
    const reply = await bounded(
      client.scan(cursor, { MATCH: matchPattern(prefix), COUNT: SCAN_COUNT }),
      timeoutMs,
      'SCAN',
    );
    cursor = String(reply.cursor);
    const fresh = reply.keys.map(String).filter((key) => !seen.has(key));
    for (const key of fresh) seen.add(key);
    // Only a key named after a valid id can be a session (StorageRedisHash's `kv-session:h:<id>`
    // under StorageRedisKV's `kv-session:`, say, cannot); an owner index is a sorted set.
    const keys = fresh.filter((key) => isValidId(key.slice(prefix.length)));
    const indexes = fresh.filter((key) => key.startsWith(prefix + OWNER_INDEX));
    skipped.other += fresh.length - keys.length - indexes.length;
    const [types, contents] = await Promise.all([
      bounded(Promise.all(indexes.map((key) => client.type(key))), timeoutMs, 'TYPE'),
      readKeys(client, storage, keys, timeoutMs),
    ]);
    for (const type of types) {
      if (String(type) === 'zset') skipped.ownerIndexes++;
      else skipped.other++;
    }
    contents.forEach((content, i) => {
      if (content.kind === 'moved') skipped.movedMarks++;
      else if (content.kind === 'other') skipped.other++;
      if (content.kind !== 'session') return;
      const { bytes, meta } = content.record;
      sizes.push(bytes);
      if (meta.owner !== undefined) owners.add(meta.owner);
      if (meta.created === undefined) withoutCreated++;
      else if (oldest === undefined || meta.created < oldest.created) {
        oldest = { id: keys[i]!.slice(prefix.length), created: meta.created };
      }
    });
  } while (cursor !== '0');

  sizes.sort((a, b) => a - b);
  return {
    prefix,
    storage,
    sessions: sizes.length,
    bytes:
      sizes.length === 0
        ? null
        : {
            total: sizes.reduce((sum, n) => sum + n, 0),
            p50: percentile(sizes, 50),
            p90: percentile(sizes, 90),
            p99: percentile(sizes, 99),
            max: sizes[sizes.length - 1]!,
          },
    // Not asked for by id: shortened, like every id the command prints unasked.
    oldest:
      oldest === undefined
        ? null
        : {
            id: redactId(oldest.id),
            created: new Date(oldest.created).toISOString(),
            ageMs: now - oldest.created,
          },
    withoutCreated,
    owners: owners.size,
    skipped,
  };
}
