import type { IncomingMessage } from 'node:http';
import { ConfigError, formatIssues, type Storage } from '@kv-session/core';
import { z } from 'zod';
import type { CompatCookieOptions } from './compat-cookie.js';

/**
 * Options of the express-session drop-in: express-session's own, with its defaults, plus `storage`
 * (any kv-session `Storage`) in place of `store`.
 */
export interface CompatOptions {
  /** Where sessions live, e.g. `new StorageRedisKV({ client, prefix: 'sess:' })` (connect-redis's keys). @default new StorageMemory() */
  storage?: Storage;
  /** Secret(s) signing the cookie; the first signs, all verify. Falls back to cookie-parser's `req.secret`. */
  secret?: string | string[];
  /** Cookie name. @default 'connect.sid' */
  name?: string;
  /** express-session's deprecated alias of `name`. */
  key?: string;
  /** Cookie settings, or a function of the request returning them (for new sessions). @default { path: '/', httpOnly: true, maxAge: null } */
  cookie?: CompatCookieOptions | ((req: IncomingMessage) => CompatCookieOptions);
  /** Re-send the cookie on every response (and restart its lifetime). @default false */
  rolling?: boolean;
  /** express-session's: save unmodified sessions too. Here: refresh their expiry (a rewrite would undo concurrent changes). @default true */
  resave?: boolean;
  /** Store new sessions that were not modified (and send their cookie). @default true */
  saveUninitialized?: boolean;
  /** What `req.session = null` / `delete req.session` does: `'keep'` the record or `'destroy'` it. @default 'keep' */
  unset?: 'keep' | 'destroy';
  /** Id generator, given the request; its ids must be 22-256 characters of `A-Za-z0-9_-`. @default 256-bit base64url */
  genid?: (req: IncomingMessage) => string;
  /** Trust `X-Forwarded-Proto` for `cookie.secure`: `true` trust, `false` ignore, unset: Express's `req.secure`. */
  proxy?: boolean;
  /**
   * Idle lifetime (ms) of sessions whose cookie has no `maxAge` (browser-session cookies); connect-redis's
   * `ttl` (1 day) in milliseconds. Sessions with a `cookie.maxAge` live that long, per session.
   * @default 86400000
   */
  maxAge?: number;
  /** Maximum serialized session size in bytes. @default 1048576 */
  maxSize?: number;
}

const cookieSchema = z.strictObject({
  maxAge: z.number().int().positive().nullable().optional(),
  expires: z.date().nullable().optional(),
  httpOnly: z.boolean().optional(),
  secure: z.union([z.boolean(), z.literal('auto')]).optional(),
  sameSite: z.union([z.boolean(), z.enum(['lax', 'strict', 'none', 'auto'])]).optional(),
  domain: z.string().min(1).optional(),
  path: z.string().startsWith('/').optional(),
  partitioned: z.boolean().optional(),
  priority: z.enum(['low', 'medium', 'high']).optional(),
});

const fn = (what: string) =>
  z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', {
    message: `must be a function (${what})`,
  });

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const optionsSchema = z.strictObject({
  storage: z
    .custom<Storage>((v) => typeof v === 'object' && v !== null, { message: 'must be a kv-session Storage' })
    .optional(),
  store: z
    .custom<never>(() => false, {
      message:
        'express-session stores are not used by @kv-session/express/compat; pass storage: new StorageRedisKV({ client, prefix: "sess:" }) (or another kv-session Storage)',
    })
    .optional(),
  secret: z
    .union([
      z.string().min(1),
      z.array(z.string().min(1)).min(1, 'secret option array must contain one or more strings'),
    ])
    .optional(),
  name: z.string().regex(TOKEN, 'must be a cookie-name token').optional(),
  key: z.string().regex(TOKEN, 'must be a cookie-name token').optional(),
  cookie: z.union([cookieSchema, fn('(req) => cookie options')]).optional(),
  rolling: z.boolean().optional(),
  resave: z.boolean().optional(),
  saveUninitialized: z.boolean().optional(),
  unset: z.enum(['keep', 'destroy'], { message: 'unset option must be "destroy" or "keep"' }).optional(),
  genid: fn('(req) => string').optional(),
  proxy: z.boolean().optional(),
  maxAge: z.number().int().positive().optional(),
  maxSize: z.number().int().positive().optional(),
});

/** Options after validation, with express-session's defaults. */
export interface ResolvedCompatOptions {
  storage: Storage | undefined;
  secrets: readonly string[] | undefined;
  name: string;
  cookie: (req: IncomingMessage) => CompatCookieOptions;
  rolling: boolean;
  resave: boolean;
  saveUninitialized: boolean;
  unsetDestroy: boolean;
  genid: ((req: IncomingMessage) => string) | undefined;
  proxy: boolean | undefined;
  maxAge: number;
  maxSize: number | undefined;
}

/** Below this many characters a secret is easy to guess: warned about, not refused (express-session accepts it). */
const WEAK_SECRET = 16;

/** Validates once; throws {@link ConfigError} naming every option it cannot honour. */
export function resolveCompatOptions(options: CompatOptions = {}): ResolvedCompatOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ConfigError(formatIssues(parsed.error.issues), '@kv-session/express/compat options');
  const o = options;
  const secrets =
    o.secret === undefined ? undefined : typeof o.secret === 'string' ? [o.secret] : [...o.secret];
  if (secrets?.some((s) => s.length < WEAK_SECRET)) {
    process.emitWarning(
      `a session secret shorter than ${WEAK_SECRET} characters is easy to guess; use a long random one`,
      'KvSessionWarning',
    );
  }
  const cookie = o.cookie ?? {};
  return {
    storage: o.storage,
    secrets,
    name: o.name ?? o.key ?? 'connect.sid',
    cookie: typeof cookie === 'function' ? cookie : () => cookie,
    rolling: o.rolling ?? false,
    resave: o.resave ?? true,
    saveUninitialized: o.saveUninitialized ?? true,
    unsetDestroy: o.unset === 'destroy',
    genid: o.genid,
    proxy: o.proxy,
    maxAge: o.maxAge ?? 86_400_000,
    maxSize: o.maxSize,
  };
}
