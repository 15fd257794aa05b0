import type { z } from 'zod';

/** Machine-readable codes carried by every {@link SessionError}. */
export type SessionErrorCode =
  | 'CONFIG_INVALID'
  | 'DATA_INVALID'
  | 'DATA_MISMATCH'
  | 'SESSION_TOO_LARGE'
  | 'DATA_CORRUPT'
  | 'SESSION_CONFLICT'
  | 'SESSION_NOT_LOADED'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_FAILED'
  | 'STORAGE_UNSUPPORTED';

// Written out rather than taken from node:http, so that core loads where node:http does not (edge runtimes).
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Options shared by every kv-session error. */
export interface SessionErrorOptions {
  code: SessionErrorCode;
  /** HTTP status an adapter should answer with. @default 500 */
  status?: number;
  cause?: unknown;
}

/**
 * Base class of every error kv-session throws or reports. Adapters hand it to the framework's error
 * handling; `status` is the HTTP status to answer with.
 */
export class SessionError extends Error {
  override name = 'SessionError';
  readonly code: SessionErrorCode;
  readonly status: number;
  /** Same as `status`, for frameworks (Koa, Fastify, http-errors) that read `statusCode`. */
  get statusCode(): number {
    return this.status;
  }
  /** Set so that Koa and http-errors treat the message as safe to show only when < 500. */
  get expose(): boolean {
    return this.status < 500;
  }

  constructor(message: string, options: SessionErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.status = options.status ?? 500;
  }

  /**
   * A plain-text response with this error's `status` and the status text as body (`Service
   * Unavailable`), never the message, which may name internals (a timeout option, a Lua error).
   * Hono's default error handler answers with it, so an app without `app.onError` still sends the
   * 503 rather than 500.
   */
  getResponse(): Response {
    return new Response(STATUS_TEXT[this.status] ?? 'Error', {
      status: this.status,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
}

/** Formats zod issues as `path: message` lines (the lines of {@link ConfigError.issues}). */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
}

/** Invalid options: thrown once, at construction, listing every problem found. */
export class ConfigError extends SessionError {
  override name = 'ConfigError';
  /** One line per problem, `path: message`. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[], what = 'kv-session options') {
    super(`Invalid ${what}:\n${issues.map((i) => `  - ${i}`).join('\n')}`, { code: 'CONFIG_INVALID' });
    this.issues = issues;
  }
}

/**
 * A value a session cannot hold: not representable in JSON without change, or failing a schema. Thrown
 * by the call that passed it (`set`, `setMany`); nothing is changed. With code `DATA_MISMATCH`: stored
 * data that does not match the `schema` option (reported through `onError`, or thrown by the load with
 * `invalidStoredData: 'fail'`).
 */
export class SessionDataError extends SessionError {
  override name = 'SessionDataError';
  /** The session key the value was given for. */
  readonly key: string | undefined;
  /** Where inside the value the problem is, e.g. `cart.items[2].price`. */
  readonly path: string | undefined;
  /** What was found there, e.g. `bigint`, `function`, `Date`, `circular reference`. */
  readonly type: string | undefined;
  /**
   * With a `schema` option: zod's issues, paths starting at the session key (`['cart', 'total']`).
   * Empty for errors that do not come from the schema.
   */
  readonly issues: readonly z.core.$ZodIssue[];

  constructor(
    message: string,
    details: {
      key?: string;
      path?: string;
      type?: string;
      code?: SessionErrorCode;
      cause?: unknown;
      issues?: readonly z.core.$ZodIssue[];
    } = {},
  ) {
    super(message, { code: details.code ?? 'DATA_INVALID', cause: details.cause });
    this.key = details.key;
    this.path = details.path;
    this.type = details.type;
    this.issues = details.issues ?? [];
  }
}

/** The serialized session would exceed `maxSize` bytes. Nothing was written. */
export class SessionTooLargeError extends SessionDataError {
  override name = 'SessionTooLargeError';
  /** Serialized size in bytes (UTF-8) the session would have had. */
  readonly size: number;
  /** The configured limit in bytes. */
  readonly limit: number;

  constructor(size: number, limit: number, key?: string) {
    super(
      `Session too large: ${size} bytes serialized, limit is ${limit} bytes (option maxSize)${
        key === undefined ? '' : `; rejected while setting "${key}"`
      }`,
      key === undefined ? { code: 'SESSION_TOO_LARGE' } : { code: 'SESSION_TOO_LARGE', key },
    );
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A stored session could not be decoded. Reported through the `onError` hook, never thrown to the
 * request: the session reads as empty, and the commit of the request that read it replaces the stored
 * value (with an empty session when that request wrote nothing).
 */
export class CorruptDataError extends SessionError {
  override name = 'CorruptDataError';
  /**
   * The storage's version token of the corrupt value, so that the next save can replace exactly it.
   * Storages set it when they throw this error from `load`.
   */
  readonly version: unknown;

  constructor(message: string, options: { cause?: unknown; version?: unknown } = {}) {
    super(message, { code: 'DATA_CORRUPT', cause: options.cause });
    this.version = options.version;
  }
}

/**
 * The session this request loaded was moved to a new id by a concurrent `regenerate()` (a login in
 * another tab, say) before this request's changes were saved. Nothing was written: the changes are
 * not applied to the new session, whose id this request must not learn (it may carry an id planted
 * by an attacker, which is what `regenerate()` protects against). Adapters answer 409; the client
 * can retry with the new cookie.
 */
export class SessionConflictError extends SessionError {
  override name = 'SessionConflictError';
  constructor(
    message = 'The session was moved to a new id by a concurrent regenerate(); nothing was saved',
    options: { cause?: unknown } = {},
  ) {
    super(message, { code: 'SESSION_CONFLICT', status: 409, cause: options.cause });
  }
}

/**
 * `session.id` was read before the session was loaded: the id the request carried is not yet known to
 * exist, and may be one an attacker chose (a log line or a CSRF seed must not use it). Read `id` after
 * a data call (`get`, `has`, `data`, `set`...), or call `await session.getId()`, which loads first.
 * A programming error, so 500.
 */
export class SessionNotLoadedError extends SessionError {
  override name = 'SessionNotLoadedError';
  constructor() {
    super(
      'session.id was read before the session was loaded, so the id the request carried is not known to exist yet: ' +
        'read it after a data call (get, has, data, set...) or use `await session.getId()`',
      { code: 'SESSION_NOT_LOADED', status: 500 },
    );
  }
}

/** The storage cannot be reached (connection refused, timeout). Adapters answer 503. */
export class StorageUnavailableError extends SessionError {
  override name = 'StorageUnavailableError';
  constructor(message = 'Session storage is unavailable', options: { cause?: unknown } = {}) {
    super(message, { code: 'STORAGE_UNAVAILABLE', status: 503, cause: options.cause });
  }
}

/** Any other storage failure; the original error is in `cause`. */
export class StorageError extends SessionError {
  override name = 'StorageError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'STORAGE_FAILED', status: 500, cause: options.cause });
  }
}

/**
 * @internal Not exported from index.ts. A storage call's failure as a {@link SessionError}: kept
 * when it is one already, else wrapped in a {@link StorageError} naming the operation.
 */
export function wrapStorageError(error: unknown, operation: string): SessionError {
  if (error instanceof SessionError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StorageError(`Session storage failed during ${operation}: ${message}`, { cause: error });
}

/**
 * The storage lacks an optional capability a call needs (the owner index of
 * `manager.listSessions()` / `destroySessions()`, or `peek` of `manager.getSession()`). A
 * configuration problem, so 500; the message names the missing methods.
 */
export class StorageCapabilityError extends SessionError {
  override name = 'StorageCapabilityError';
  /** The storage methods that are missing. */
  readonly missing: readonly string[];
  constructor(operation: string, missing: readonly string[]) {
    super(
      `${operation} needs a storage with ${missing.join(', ')} (see docs/writing-a-storage.md, "Owner index"); this storage has none of that`,
      { code: 'STORAGE_UNSUPPORTED', status: 500 },
    );
    this.missing = missing;
  }
}
