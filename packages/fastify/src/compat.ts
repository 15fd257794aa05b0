import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  formatIssues,
  isValidId,
  readCookie,
  type SessionError,
  SessionManager,
  type Storage,
} from '@kv-session/core';
import { stringifySetCookie } from 'cookie';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import {
  type CompatCookie,
  type CompatCookieOptions,
  type CookieSigner,
  HmacSigner,
} from './compat-cookie.js';
import {
  adoptSigned,
  type CompatContext,
  CompatSession,
  type CoreSession,
  CURRENT,
  commitCompat,
  currentSession,
  ownLifetime,
  pendingChanges,
} from './compat-session.js';

export { CompatCookie, type CompatCookieOptions, type CookieSigner } from './compat-cookie.js';
export { CompatSession } from './compat-session.js';
export type { FastifySessionObject, SessionCallback } from './compat-types.js';
export type { FastifyRequestSession } from './request-session.js';

/**
 * Options of the compat plugin: @fastify/session's, with `storage` (a kv-session `Storage`) in place
 * of `store`.
 */
export interface FastifySessionCompatOptions {
  /**
   * Secret(s) signing the cookie, or a signer object with `sign`/`unsign`. A string must be at
   * least 32 characters; with several, the first signs and all verify (rotation).
   */
  secret: string | readonly string[] | CookieSigner;
  /** Where sessions live (e.g. `new StorageRedisKV({ client, prefix: 'sess:' })`). @default new StorageMemory() */
  storage?: Storage;
  /** @default 'sessionId' */
  cookieName?: string;
  /** Prepended to the signed value in the cookie. @default '' */
  cookiePrefix?: string;
  /** Cookie settings; `maxAge` (milliseconds) is also the stored session's lifetime. */
  cookie?: CompatCookieOptions;
  /** Re-send the cookie and refresh the stored expiry on every response. @default true */
  rolling?: boolean;
  /** Save (and send the cookie of) a new session even when the request put nothing in it. @default true */
  saveUninitialized?: boolean;
  /** Makes a session id; its ids must match `ID_PATTERN` (22-256 of `A-Z a-z 0-9 _ -`). @default 24 random bytes, base64url */
  idGenerator?: (request: FastifyRequest) => string;
  /** HMAC algorithm of the cookie signature. @default 'sha256' */
  algorithm?: string;
  /** kv-session: maximum serialized session size in bytes. @default 1048576 */
  maxSize?: number;
  /** kv-session: receives errors that are reported rather than thrown. @default logs to console.error */
  onError?: (error: SessionError, context: { id?: string; operation: string }) => void;
}

const ONE_DAY = 86_400_000;

const fn = (what: string) =>
  z.custom((v) => typeof v === 'function', { message: `must be a function (${what})` });

const optionsSchema = z.looseObject({
  secret: z.union(
    [
      z.string().min(32, 'the secret must have length 32 or greater'),
      z.array(z.string()).min(1, 'at least one secret is required'),
      z.custom<CookieSigner>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as CookieSigner).sign === 'function' &&
          typeof (v as CookieSigner).unsign === 'function',
      ),
    ],
    {
      error:
        'the secret option is required, and must be a String, Array of Strings, or a signer object with .sign and .unsign methods',
    },
  ),
  store: z
    .undefined({
      error:
        'not supported by kv-session: pass a kv-session Storage as `storage` (see docs/migrating-from-fastify-session.md)',
    })
    .optional(),
  storage: z.unknown().optional(),
  cookieName: z.string().min(1).default('sessionId'),
  cookiePrefix: z.string().default(''),
  cookie: z
    .looseObject({
      path: z.string().optional(),
      domain: z.string().optional(),
      httpOnly: z.boolean().optional(),
      secure: z.union([z.boolean(), z.literal('auto')]).optional(),
      sameSite: z.union([z.boolean(), z.enum(['lax', 'strict', 'none'])]).optional(),
      maxAge: z.number().int().positive().optional(),
      expires: z.date().optional(),
      partitioned: z.boolean().optional(),
    })
    .default({}),
  rolling: z.boolean().default(true),
  saveUninitialized: z.boolean().default(true),
  idGenerator: fn('(request) => string').optional(),
  algorithm: z.string().default('sha256'),
  maxSize: z.number().optional(),
  onError: fn('(error, context) => void').optional(),
});

/** The request's save decision (the cookie to send), once `onSend` made it: a request decorator. */
const FINISHED = Symbol('kv-session.fastify-compat.finished');
/**
 * The request's cookie value (prefix removed; '' when it has none), read once: a request decorator,
 * null until read.
 */
const COOKIE = Symbol('kv-session.fastify-compat.cookie');

/** @fastify/session's default ids: 24 random bytes, base64url (32 characters). */
function defaultIdGenerator(): string {
  return randomBytes(24).toString('base64url');
}

/** Whether `path` lies under the cookie's `cookiePath`, as a browser would send the cookie. */
function underPath(path: string, cookiePath: string): boolean {
  if (path === cookiePath) return true;
  if (!path.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || path[cookiePath.length] === '/';
}

const plugin: FastifyPluginAsync<FastifySessionCompatOptions> = async (app, options) => {
  if (app.hasRequestDecorator('session')) {
    // Fastify's own error would only say that the decorator exists; say which plugins collide.
    throw new ConfigError(
      [
        'request.session is already set up in this context (by @kv-session/fastify, @fastify/session or another session plugin): register one session plugin per encapsulation context',
      ],
      '@kv-session/fastify/compat set-up',
    );
  }
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigError(formatIssues(parsed.error.issues), '@kv-session/fastify/compat options');
  }
  const o = parsed.data;
  const secret = o.secret;
  const signer: CookieSigner =
    typeof secret === 'string' || Array.isArray(secret)
      ? new HmacSigner(typeof secret === 'string' ? [secret] : secret, o.algorithm)
      : (secret as CookieSigner);
  const cookieOptions: CompatCookieOptions = { secure: true, ...(o.cookie as CompatCookieOptions) };
  const idGenerator =
    (o.idGenerator as ((request: FastifyRequest) => string) | undefined) ?? defaultIdGenerator;
  const { cookieName, cookiePrefix, rolling, saveUninitialized } = o;
  const cookiePath = cookieOptions.path ?? '/';

  // Core makes ids lazily (`session.id`); the compat layer reads that getter synchronously right after
  // setting `pending`, so the id comes from this request's idGenerator (and is checked against
  // ID_PATTERN by core).
  let pending: (() => string) | undefined;
  const manager = new SessionManager({
    ...(o.storage === undefined ? {} : { storage: o.storage as Storage }),
    maxAge: cookieOptions.maxAge ?? ONE_DAY,
    genid: () => (pending ?? defaultIdGenerator)(),
    ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }),
    ...(o.onError === undefined ? {} : { onError: o.onError as FastifySessionCompatOptions['onError'] & {} }),
  });
  app.addHook('onClose', () => manager.close());

  const context: CompatContext = {
    manager,
    signer,
    cookieOptions,
    idOf(core: CoreSession, make: () => string): string {
      pending = make;
      try {
        return core.id;
      } finally {
        pending = undefined;
      }
    },
    newId: (request) => idGenerator(request),
  };

  /** The signed value the request's cookie carries (prefix removed), if any. */
  const cookieValue = (request: FastifyRequest): string | undefined => {
    const raw = readCookie(request.headers.cookie, cookieName);
    if (raw === undefined || raw === '') return undefined;
    if (cookiePrefix === '') return raw;
    return raw.startsWith(cookiePrefix) ? raw.slice(cookiePrefix.length) : undefined;
  };

  /** {@link cookieValue}, parsed once per request (onRequest keeps it in a request decorator). */
  const requestCookie = (request: FastifyRequest): string | undefined => {
    const r = request as FastifyRequest & { [COOKIE]: string | null };
    let value = r[COOKIE];
    if (value === null) {
      value = cookieValue(request) ?? '';
      r[COOKIE] = value;
    }
    return value === '' ? undefined : value;
  };

  /**
   * The attributes part of the last `Set-Cookie` value built (all but `name=value`) and every input
   * it was built from: a rolling cookie is re-sent on every response, and its attributes change only
   * with the session's cookie settings and with the second of its `Expires` (which the header
   * carries in whole seconds), so one string serves every session until the second turns.
   */
  let attributes:
    | {
        path: string;
        domain: string | null | undefined;
        httpOnly: boolean;
        secure: boolean | null;
        sameSite: CompatCookie['sameSite'];
        partitioned: boolean | undefined;
        /** The `Expires` second, or null for a browser-session cookie. */
        second: number | null;
        text: string;
      }
    | undefined;

  /** A `Set-Cookie` value for `value` (signed id) with the session's cookie settings; none expires it. */
  const cookieHeader = (value: string | undefined, s?: CompatSession): string => {
    const c = s?.cookie;
    const path = c?.path ?? cookiePath;
    const domain = c?.domain ?? cookieOptions.domain;
    if (c === undefined) {
      return stringifySetCookie({
        name: cookieName,
        value: '',
        path,
        ...(domain ? { domain } : {}),
        expires: new Date(0),
      });
    }
    const text = value === undefined ? '' : cookiePrefix + value;
    const pair = stringifySetCookie({ name: cookieName, value: text });
    // NaN (an invalid date) never matches: such a cookie is built, and refused, every time.
    const second = c.expires === null ? null : Math.floor(c.expires.getTime() / 1000);
    const a = attributes;
    if (
      a !== undefined &&
      a.second === second &&
      a.path === path &&
      a.domain === domain &&
      a.httpOnly === c.httpOnly &&
      a.secure === c.secure &&
      a.sameSite === c.sameSite &&
      a.partitioned === c.partitioned
    ) {
      return pair + a.text;
    }
    const header = stringifySetCookie({
      name: cookieName,
      value: text,
      path,
      ...(domain ? { domain } : {}),
      httpOnly: c.httpOnly,
      ...(c.secure ? { secure: true } : {}),
      ...(c.sameSite === null || c.sameSite === false
        ? {}
        : { sameSite: c.sameSite === true ? 'strict' : c.sameSite }),
      ...(c.partitioned ? { partitioned: true } : {}),
      ...(c.expires === null ? {} : { expires: c.expires }),
    });
    attributes = {
      path,
      domain,
      httpOnly: c.httpOnly,
      secure: c.secure,
      sameSite: c.sameSite,
      partitioned: c.partitioned,
      second,
      text: header.slice(pair.length),
    };
    return header;
  };

  /** Saves the request's session if it should be, and says which session cookie to send (if any). */
  const finish = async (request: FastifyRequest): Promise<string | undefined> => {
    const s = currentSession(request);
    if (s === undefined) return undefined;
    const value = requestCookie(request);
    if ((request as unknown as { session: unknown }).session === null) {
      // destroy(): the stored record is gone; unlike @fastify/session, the cookie is expired too.
      return value === undefined ? undefined : cookieHeader(undefined);
    }
    const fresh = value !== s.encryptedSessionId;
    // One snapshot of the session decides the save and is what the save writes.
    const pending = pendingChanges(s);
    const save = fresh ? saveUninitialized || pending.modified : rolling || pending.modified;
    const insecure = s.cookie.secure === true && request.protocol !== 'https';
    if (!save || insecure) {
      // Reading it refreshed the stored expiry to the plugin's lifetime: give it back its own.
      if (!insecure && !fresh && ownLifetime(s) !== undefined) await commitCompat(s, pending);
      if (s.isSaved()) return cookieHeader(s.encryptedSessionId, s);
      return value !== undefined && fresh ? cookieHeader(undefined) : undefined;
    }
    const outcome = await commitCompat(s, pending);
    if (outcome.live) return cookieHeader(s.encryptedSessionId, s);
    return value === undefined ? undefined : cookieHeader(undefined);
  };

  const sendCookie = (reply: FastifyReply, header: string | undefined): void => {
    if (header === undefined) return;
    const previous = reply.getHeader('set-cookie');
    if (previous === undefined) {
      reply.header('set-cookie', [header]);
      return;
    }
    const list = Array.isArray(previous) ? previous : [String(previous)];
    reply.header('set-cookie', [...list.filter((v) => !v.startsWith(`${cookieName}=`)), header]);
  };

  app.decorateRequest('session', null as never);
  app.decorateRequest(CURRENT, null as never);
  app.decorateRequest(FINISHED, null as never);
  app.decorateRequest(COOKIE, null as never);

  app.addHook('onRequest', async (request) => {
    const r = request as unknown as { session: unknown };
    r.session = {};
    if (cookiePath !== '/' && !underPath(request.url.split('?', 1)[0]!, cookiePath)) return;
    const https = request.protocol === 'https';
    const value = requestCookie(request);
    const unsigned = value === undefined ? undefined : signer.unsign(value);
    const incoming = unsigned?.valid && isValidId(unsigned.value) ? unsigned.value : undefined;
    let core: CoreSession;
    let data: Record<string, unknown> = {};
    if (incoming === undefined) {
      core = manager.sessionById('');
    } else {
      core = manager.sessionById(incoming);
      data = await core.data();
    }
    let stored = incoming !== undefined;
    context.idOf(core, () => {
      stored = false; // nothing stored under the incoming id: a new session
      return context.newId(request);
    });
    const session = new CompatSession(context, request, core, stored ? data : {}, stored, https);
    // The cookie already holds the id signed with the first secret (HMAC is deterministic): the
    // response reuses it instead of signing again. A custom signer may not be deterministic.
    if (stored && unsigned?.renew === false && signer instanceof HmacSigner) adoptSigned(session, value!);
  });

  // onSend runs before the payload is written, so the save completes before the response leaves.
  // It can run more than once for one request: for the error response after a failed save, or when
  // a hook and the handler both send. The save happens once; every response gets its cookie.
  app.addHook('onSend', async (request, reply) => {
    const r = request as FastifyRequest & { [FINISHED]: Promise<string | undefined> | null };
    const first = r[FINISHED];
    if (first !== null) return sendCookie(reply, await first.catch(() => undefined));
    const decision = finish(request);
    r[FINISHED] = decision;
    sendCookie(reply, await decision);
  });
};

/**
 * A drop-in for `@fastify/session` on kv-session: `app.register(session, { secret, storage })`.
 * `request.session` is @fastify/session's object (property access, `get`/`set`, `regenerate`,
 * `destroy`, `reload`, `save`, `touch`, `options`, promise and callback forms), loaded in
 * `onRequest` when the request carries a valid cookie. The properties a request changed are saved
 * as a key-level change set in `onSend`, before the response leaves, so concurrent requests keep
 * each other's writes and a destroyed session is never revived; a storage failure reaches Fastify's
 * error handler (503 when unavailable). Cookie name, signature format and stored JSON are
 * @fastify/session's, so a running site switches without logging anyone out (see
 * docs/migrating-from-fastify-session.md). Registered under @fastify/session's plugin name, so
 * plugins declaring `dependencies: ['@fastify/session']` (and `app.hasPlugin('@fastify/session')`)
 * find it.
 */
export const fastifySession = fp(plugin, { fastify: '5.x', name: '@fastify/session' });

export default fastifySession;
