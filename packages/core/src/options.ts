import { z } from 'zod';
import { ConfigError, formatIssues, type SessionError } from './errors.js';
import type { SessionData } from './json.js';
import { fn } from './option-schema.js';
import type { InvalidStoredData, SessionSchema } from './schema.js';
import type { Storage } from './storage.js';
import { StorageMemory } from './storage-memory.js';

/** Characters allowed in a cookie or header name (RFC 7230 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Where an error reported through `onError` came from. */
export interface ErrorContext {
  /** The session id, shortened for logging (never the full id). */
  id?: string;
  /** What was being done: `load`, `touch`, ... */
  operation: string;
}

/** Cookie settings. */
export interface CookieOptions {
  /** Cookie name. @default 'sid' */
  name?: string;
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /** @default true */
  httpOnly?: boolean;
  /**
   * `true`: always Secure. `'auto'`: Secure when the request came over HTTPS, as the adapter sees it
   * (behind a proxy, enable the framework's trust-proxy setting). @default false
   */
  secure?: boolean | 'auto';
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none' | false;
  /** CHIPS partitioned cookie. @default false */
  partitioned?: boolean;
  /**
   * Send `Max-Age` with the session cookie (the session's lifetime: `maxAge`, or what
   * `session.setMaxAge()` set, bounded by `absoluteTimeout`), so the session survives a browser
   * restart. While the session is used the cookie is re-sent at most once per `refreshWindow` (its
   * time is kept in the session's `__kv.seen`), so it never expires before the record of an active
   * session. Not with `rolling`, which re-sends `Max-Age` on every response. @default false
   */
  persistent?: boolean;
}

/**
 * Options of the session manager and of every adapter. `Data` is the session data type; with a
 * `schema` it is inferred from it (`z.output<typeof schema>`).
 */
export interface SessionOptions<Data extends object = SessionData> {
  /** Where sessions live. @default new StorageMemory() */
  storage?: Storage;
  /** Milliseconds of inactivity after which a session expires; each use extends it. @default 86400000 (24 h) */
  maxAge?: number;
  /**
   * How far, in milliseconds, the stored expiry may fall behind `maxAge` before a read-only request
   * refreshes it. Bounds refresh traffic: the stored TTL never falls below `maxAge - refreshWindow`
   * after a request. @default 10% of maxAge
   */
  refreshWindow?: number;
  /**
   * Milliseconds after its creation at which a session dies however active it is (OWASP's absolute
   * timeout): reads are empty, the record is deleted and the cookie expired. Also bounds the stored
   * expiry and `setMaxAge()`. Creation time is kept in the record's `__kv.created`; a record without
   * it (written before) counts from its first save under this option. @default undefined (off)
   */
  absoluteTimeout?: number;
  /** Cookie settings. */
  cookie?: CookieOptions;
  /**
   * Request header that carries the session id for API and mobile clients (e.g. `x-session-id`).
   * When set, it is read before the cookie, and the id is sent back in it when created or changed.
   * @default undefined
   */
  header?: string;
  /**
   * Secret(s) for HMAC-SHA256 signing of the cookie/header value. The first signs, all verify
   * (rotation). At least 16 characters each. @default undefined (unsigned ids)
   */
  secret?: string | readonly string[];
  /** Custom id generator; its ids must match `ID_PATTERN`. @default 256-bit base64url */
  genid?: () => string;
  /** Maximum serialized session size in bytes (UTF-8 JSON). @default 1048576 (1 MiB) */
  maxSize?: number;
  /** Re-send the cookie, with Max-Age = maxAge, on every response of a live session. @default false */
  rolling?: boolean;
  /**
   * Receives errors that are reported rather than thrown: corrupt stored data, stored data off the
   * `schema` (`invalidStoredData` 'drop' or 'reset'), and a save that failed after the request had
   * already failed (the request's error wins). @default logs to console.error
   */
  onError?: (error: SessionError, context: ErrorContext) => void;
  /**
   * A zod object schema for the session data, one property per key (see docs/typed-sessions.md).
   * With it, `get`/`set` are typed from the schema; `set`/`setMany` validate each value against its
   * key's schema and reject unknown keys (`SessionDataError` with zod's `issues`); values are stored
   * as `JSON.stringify` of the validated value and read back through the schema (transforms such as
   * `z.coerce.date()` apply on every read); stored data is validated key by key when loaded (see
   * `invalidStoredData`). Without it nothing is validated beyond JSON and reads cost nothing extra.
   * @default undefined
   */
  schema?: SessionSchema<Data>;
  /**
   * What a load does with stored data that does not match `schema` (an older deploy, a manual edit):
   * `'drop'`: the keys that do not match (or are unknown) are left out of this request's copy and
   * reported through `onError` (a `SessionDataError`, code `DATA_MISMATCH`, with zod's `issues`);
   * the stored value keeps them until they are set or removed. `'reset'`: the session reads as
   * empty (reported the same way), and the next write replaces the whole stored value. `'fail'`: the
   * load throws that `SessionDataError` (status 500) to the request. Ignored without `schema`.
   * @default 'drop'
   */
  invalidStoredData?: InvalidStoredData;
}

/**
 * A cookie `Path`: printable ASCII without `;` (RFC 6265 path-value, minus `<`, which the `Set-Cookie`
 * serializer also refuses). Anything else made every commit throw, after the storage write.
 */
const PATH_VALUE = /^\/[\u0020-\u003a\u003d-\u007e]*$/;
/** A cookie `Domain`: dot-separated host labels (RFC 1034, optional leading dot, punycode for IDNs). */
const DOMAIN_VALUE = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const cookieSchema = z
  .strictObject({
    name: z.string().regex(TOKEN, 'must be a cookie-name token').default('sid'),
    path: z
      .string()
      .regex(PATH_VALUE, 'must start with "/" and hold only printable ASCII other than ";" and "<"')
      .default('/'),
    domain: z
      .string()
      .regex(DOMAIN_VALUE, 'must be a host name (letters, digits, "-" and "." only; punycode for IDNs)')
      .optional(),
    httpOnly: z.boolean().default(true),
    secure: z.union([z.boolean(), z.literal('auto')]).default(false),
    sameSite: z.union([z.enum(['lax', 'strict', 'none']), z.literal(false)]).default('lax'),
    partitioned: z.boolean().default(false),
    persistent: z.boolean().default(false),
  })
  // Browsers drop a prefixed cookie that breaks its prefix's rules (RFC 6265bis 4.1.3, matched
  // case-insensitively): the session would silently never stick. `'auto'` is refused too, since it
  // sends a non-Secure cookie over plain HTTP. A check runs even when other fields failed, so one
  // ConfigError lists every problem.
  .check(
    z.superRefine((c, ctx) => {
      const name = typeof c.name === 'string' ? c.name.toLowerCase() : '';
      const prefix = name.startsWith('__host-') ? '__Host-' : name.startsWith('__secure-') ? '__Secure-' : '';
      if (prefix === '') return;
      if (c.secure !== true) {
        ctx.addIssue({
          code: 'custom',
          path: ['secure'],
          message: `the ${prefix} prefix requires secure: true (browsers drop the cookie otherwise)`,
        });
      }
      if (prefix !== '__Host-') return;
      if (c.domain !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['domain'], message: 'the __Host- prefix forbids a domain' });
      }
      if (c.path !== '/') {
        ctx.addIssue({ code: 'custom', path: ['path'], message: 'the __Host- prefix requires path "/"' });
      }
    }),
  );

const optionsSchema = z
  .strictObject({
    storage: z
      .custom<Storage>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          ['load', 'save', 'touch', 'remove'].every(
            (m) => typeof (v as Record<string, unknown>)[m] === 'function',
          ),
        { message: 'must implement the Storage interface (load, save, touch, remove)' },
      )
      .optional(),
    maxAge: z.number().int().positive().default(86_400_000),
    refreshWindow: z.number().int().nonnegative().optional(),
    absoluteTimeout: z.number().int().positive().optional(),
    cookie: cookieSchema.default(cookieSchema.parse({})),
    header: z.string().regex(TOKEN, 'must be a header-name token').optional(),
    secret: z
      .union([
        z.string().min(16, 'must be at least 16 characters'),
        z.array(z.string().min(16, 'must be at least 16 characters')).min(1, 'needs at least one secret'),
      ])
      .optional(),
    genid: fn<() => string>('() => string').optional(),
    maxSize: z.number().int().positive().default(1_048_576),
    rolling: z.boolean().default(false),
    onError: fn<(error: SessionError, context: ErrorContext) => void>('(error, context) => void').optional(),
    schema: z
      .custom<SessionSchema>((v) => v instanceof z.ZodObject, {
        message: 'must be a zod object schema (z.object({ ... }))',
      })
      .optional(),
    invalidStoredData: z.enum(['drop', 'reset', 'fail']).default('drop'),
  })
  .superRefine((o, ctx) => {
    if (o.refreshWindow !== undefined && o.refreshWindow >= o.maxAge) {
      ctx.addIssue({ code: 'custom', path: ['refreshWindow'], message: 'must be smaller than maxAge' });
    }
    if (o.cookie.persistent && o.rolling) {
      ctx.addIssue({
        code: 'custom',
        path: ['cookie', 'persistent'],
        message:
          'choose one: rolling already sends Max-Age on every response; persistent sends it once per refreshWindow',
      });
    }
    if (
      o.absoluteTimeout !== undefined &&
      o.refreshWindow !== undefined &&
      o.refreshWindow >= o.absoluteTimeout
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['refreshWindow'],
        message: 'must be smaller than absoluteTimeout',
      });
    }
    if (o.cookie.sameSite === 'none' && o.cookie.secure === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['cookie', 'secure'],
        message: 'sameSite "none" requires secure',
      });
    }
  });

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  storage: Storage;
  maxAge: number;
  refreshWindow: number;
  /** Ms after creation at which a session dies, if set. */
  absoluteTimeout: number | undefined;
  cookie: Required<Omit<CookieOptions, 'domain'>> & { domain: string | undefined };
  header: string | undefined;
  secrets: readonly string[];
  genid: (() => string) | undefined;
  maxSize: number;
  rolling: boolean;
  onError: (error: SessionError, context: ErrorContext) => void;
  /** The session data schema, if any. */
  schema: SessionSchema | undefined;
  invalidStoredData: InvalidStoredData;
}

function defaultOnError(error: SessionError, context: ErrorContext): void {
  console.error(`[kv-session] ${context.operation}${context.id ? ` (session ${context.id})` : ''}:`, error);
}

/** Validates options once; throws {@link ConfigError} listing every problem. */
export function resolveOptions<Data extends object>(options: SessionOptions<Data> = {}): ResolvedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues));
  const o = parsed.data;
  const secret = o.secret;
  return {
    storage: o.storage ?? new StorageMemory(),
    maxAge: o.maxAge,
    refreshWindow: o.refreshWindow ?? Math.floor(o.maxAge / 10),
    absoluteTimeout: o.absoluteTimeout,
    cookie: { ...o.cookie, domain: o.cookie.domain },
    header: o.header?.toLowerCase(),
    secrets: secret === undefined ? [] : typeof secret === 'string' ? [secret] : [...secret],
    genid: o.genid,
    maxSize: o.maxSize,
    rolling: o.rolling,
    onError: o.onError ?? defaultOnError,
    schema: o.schema,
    invalidStoredData: o.invalidStoredData,
  };
}
