import { ConfigError, formatIssues } from '@kv-session/core';
import { z } from 'zod';
import type { RedisClientLike } from './client.js';
import { type IoredisClientLike, isIoredisClient } from './driver-ioredis.js';

/** Options of {@link StorageRedisKV}. */
export interface StorageRedisKVOptions {
  /**
   * A connected Redis client, either a node-redis one (`createClient()`, `createCluster()` or
   * `createSentinel()`) or an ioredis one (`new Redis()` or `new Cluster()`); which one is
   * recognised from the object. The storage never connects or closes it. Attach an `'error'`
   * listener to it (node-redis emits connection errors as events, and an unhandled `'error'` event
   * ends the process).
   */
  client: RedisClientLike | IoredisClientLike;
  /**
   * Prepended to the session id to form the Redis key. Empty only with `allowEmptyPrefix: true`.
   * @default 'kv-session:'
   */
  prefix?: string;
  /**
   * Accept `prefix: ''`: session keys are the bare ids, as koa-session + koa-redis sites without a
   * prefix store them. Every key of the database that has the form of a session id (22-256 of
   * `A-Z a-z 0-9 _ -`) can then be read, overwritten or deleted as a session, so give such sessions
   * a Redis database of their own. Ids are checked before any key is built either way.
   * @default false
   */
  allowEmptyPrefix?: boolean;
  /**
   * Longest wait, in milliseconds, for one Redis command. Past it the operation fails with
   * `StorageUnavailableError` (HTTP 503), also while the client is disconnected. @default 2000
   */
  commandTimeout?: number;
  /** @deprecated Use {@link commandTimeout} (the same milliseconds; durations carry no unit suffix). */
  commandTimeoutMs?: number;
  /**
   * With client-side caching only: for this many milliseconds after a process refreshed a session's
   * expiry (a `GETEX`, a save or a touch), its reads are a cacheable `GET` (usually answered from the
   * client's cache); the next read after that is a `GETEX` again, which refreshes the expiry in the
   * read itself. Capped per session at a tenth of its max age. @default 1000
   */
  refreshInterval?: number;
  /** @deprecated Use {@link refreshInterval} (the same milliseconds). */
  refreshIntervalMs?: number;
  /**
   * Use the client-side cache fast path (a cacheable `GET` within `refreshInterval` of the last
   * refresh, else `GETEX`) instead of `GETEX` on every read.
   * node-redis only (ioredis has no client-side cache): `true` with an ioredis client is a `ConfigError`.
   * @default detected: true when the client was created with `clientSideCache`
   */
  clientSideCache?: boolean;
}

/**
 * Option names that carried a unit suffix before every duration became unsuffixed milliseconds
 * (`maxAge`, `absoluteTimeout`), and their current names. The old names still work, deprecated.
 */
export const DEPRECATED_OPTION_NAMES: Readonly<Record<string, string>> = {
  commandTimeoutMs: 'commandTimeout',
  refreshIntervalMs: 'refreshInterval',
};

/**
 * `options` with each deprecated name of `names` (see {@link DEPRECATED_OPTION_NAMES}) moved to its
 * current one, for the schema to check; giving both names is a problem (`path: message` lines).
 * `asGiven` puts the schema's problems back under the names the caller used. Anything that is not
 * an object is passed on unchanged (the schema reports it).
 */
export function currentOptionNames(
  options: unknown,
  names: Readonly<Record<string, string>> = DEPRECATED_OPTION_NAMES,
): { options: unknown; problems: string[]; asGiven: (lines: string[]) => string[] } {
  const given = new Map<string, string>();
  const asGiven = (lines: string[]) =>
    lines.map((line) => {
      const name = line.slice(0, line.indexOf(':'));
      const old = given.get(name);
      return old === undefined ? line : old + line.slice(name.length);
    });
  if (typeof options !== 'object' || options === null) return { options, problems: [], asGiven };
  const out: Record<string, unknown> = { ...options };
  const problems: string[] = [];
  for (const [old, current] of Object.entries(names)) {
    if (!Object.hasOwn(out, old)) continue;
    if (Object.hasOwn(out, current)) {
      problems.push(`${old}: deprecated name of ${current}; give only ${current}`);
    } else {
      out[current] = out[old];
      given.set(current, old);
    }
    delete out[old];
  }
  return { options: out, problems, asGiven };
}

/** Options after validation. */
export interface ResolvedRedisOptions {
  client: RedisClientLike | IoredisClientLike;
  prefix: string;
  allowEmptyPrefix: boolean;
  commandTimeoutMs: number;
  refreshIntervalMs: number;
  clientSideCache: boolean | undefined;
}

const CLIENT_METHODS = ['get', 'getEx', 'set', 'pExpire', 'del', 'eval', 'evalSha'] as const;

/** The `client` option's error when it is neither a node-redis nor an ioredis client. */
export const CLIENT_MESSAGE =
  'must be a node-redis client (createClient, createCluster or createSentinel) or an ioredis client (new Redis() or new Cluster())';

const schema = z
  .strictObject({
    client: z.custom<RedisClientLike | IoredisClientLike>(
      (v) =>
        isIoredisClient(v) ||
        (typeof v === 'object' &&
          v !== null &&
          CLIENT_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function')),
      { message: CLIENT_MESSAGE },
    ),
    prefix: z.string().default('kv-session:'),
    allowEmptyPrefix: z.boolean().default(false),
    commandTimeout: z.number().int().positive().default(2000),
    refreshInterval: z.number().int().positive().default(1000),
    clientSideCache: z.boolean().optional(),
  })
  .refine((o) => !(o.clientSideCache === true && isIoredisClient(o.client)), {
    // Promised but not kept, the cache mode would skip expiry refreshes: refuse it.
    message: 'needs a node-redis client created with clientSideCache (ioredis has no client-side cache)',
    path: ['clientSideCache'],
  });

/** The empty-prefix issue, if any; checked outside the schema so that it is listed with every other problem. */
function emptyPrefixIssue(options: unknown): string | undefined {
  const o = (typeof options === 'object' && options !== null ? options : {}) as Record<string, unknown>;
  if (o.prefix !== '' || o.allowEmptyPrefix === true) return undefined;
  // An empty prefix lets any id-shaped key of the database be taken for a session: opt in only.
  return "prefix: must not be empty, unless allowEmptyPrefix: true acknowledges that every id-shaped key of the database is then a session's (see docs/redis.md)";
}

/** Validates {@link StorageRedisKVOptions}; throws `ConfigError` listing every problem. */
export function resolveRedisOptions(options: StorageRedisKVOptions): ResolvedRedisOptions {
  const renamed = currentOptionNames(options);
  const parsed = schema.safeParse(renamed.options);
  const prefixIssue = emptyPrefixIssue(options);
  const problems = [
    ...renamed.problems,
    ...(parsed.success ? [] : renamed.asGiven(formatIssues(parsed.error.issues))),
    ...(prefixIssue === undefined ? [] : [prefixIssue]),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems, 'StorageRedisKV options');
  const o = parsed.data;
  return {
    client: o.client,
    prefix: o.prefix,
    allowEmptyPrefix: o.allowEmptyPrefix,
    commandTimeoutMs: o.commandTimeout,
    refreshIntervalMs: o.refreshInterval,
    clientSideCache: o.clientSideCache,
  };
}
