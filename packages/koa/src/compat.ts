import { randomUUID, timingSafeEqual } from 'node:crypto';
import {
  ConfigError,
  formatIssues,
  jsonSnapshot,
  rememberVerified,
  type SessionData,
  type SessionError,
  SessionManager,
  type Storage,
  snapshotChanges,
} from '@kv-session/core';
import type Koa from 'koa';
import { z } from 'zod';
import {
  type CoreSession,
  EXPIRE_KEY,
  KoaCompatSession,
  MAX_AGE_KEY,
  type MaxAge,
  SESSION_KEY,
  type SessionOwner,
  takeRequireSave,
  wanted,
} from './compat-session.js';

export { KoaCompatSession, type MaxAge } from './compat-session.js';
export type { CompatSessionData, KoaSessionObject, SessionCallback } from './compat-types.js';
export type { KoaContextSession } from './request-session.js';

type Context = Koa.ParameterizedContext;

/** Options of the compat middleware: koa-session's, with `storage` (a kv-session `Storage`) in place of `store`. */
export interface KoaSessionCompatOptions {
  /** Where sessions live (e.g. `new StorageRedisKV({ client, prefix: 'koa:sess:' })`). @default new StorageMemory() */
  storage?: Storage;
  /** Cookie name. @default 'koa.sess' */
  key?: string;
  /** Lifetime in milliseconds, or `'session'` for a browser-session cookie. @default 86400000 */
  maxAge?: MaxAge;
  /** Commit at the end of the middleware; false: call `ctx.session.manuallyCommit()`. @default true */
  autoCommit?: boolean;
  /** @default true */
  overwrite?: boolean;
  /** @default true */
  httpOnly?: boolean;
  /** Sign the cookie with `app.keys` (a `<key>.sig` cookie, via keygrip). @default true */
  signed?: boolean;
  /** Save and re-send the cookie on every response. @default false */
  rolling?: boolean;
  /** Save and re-send the cookie when less than half of `maxAge` is left. @default false */
  renew?: boolean;
  /** @default undefined (Secure when the request came over HTTPS) */
  secure?: boolean;
  /** @default undefined (no SameSite attribute) */
  sameSite?: 'strict' | 'lax' | 'none' | boolean;
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /** Where the external key travels instead of the cookie. */
  externalKey?: { get(ctx: Context): string | undefined; set(ctx: Context, value: string): void };
  /** Makes the external key (`prefix + id`); the id must match `ID_PATTERN`. @default prefix + randomUUID() */
  genid?: (ctx: Context) => string;
  /** Prepended to the id in the external key. @default '' */
  prefix?: string;
  /** Whether loaded data may be used; false starts a new session. */
  valid?: (ctx: Context, data: Record<string, unknown>) => unknown;
  /** Called before each save. */
  beforeSave?: (ctx: Context, session: KoaCompatSession) => void;
  /** kv-session: maximum serialized session size in bytes. @default 1048576 */
  maxSize?: number;
  /** kv-session: receives errors that are reported rather than thrown. @default logs to console.error */
  onError?: (error: SessionError, context: { id?: string; operation: string }) => void;
}

const ONE_DAY = 86_400_000;
/** koa-session lets the store keep a session 10 s longer than its cookie; so do we. */
const STORE_SLACK = 10_000;

/** How long the store keeps a session of lifetime `maxAge` (`'session'`: one day). */
function storeLifetime(maxAge: MaxAge): number {
  return (typeof maxAge === 'number' ? Math.ceil(maxAge) : ONE_DAY) + STORE_SLACK;
}

const fn = (what: string) =>
  z.custom((v) => typeof v === 'function', { message: `must be a function (${what})` });
const unsupported = (what: string) =>
  z.undefined({ error: `not supported by kv-session: ${what}` }).optional();

const optionsSchema = z.looseObject({
  storage: z.unknown().optional(),
  store: unsupported('pass a kv-session Storage as `storage` (see docs/migrating-from-koa-session.md)'),
  ContextStore: unsupported('pass a kv-session Storage as `storage`'),
  encode: unsupported('sessions are stored as JSON in `storage`, never in the cookie'),
  decode: unsupported('sessions are stored as JSON in `storage`, never in the cookie'),
  key: z.string().min(1).default('koa.sess'),
  maxAge: z.union([z.number().positive(), z.literal('session')]).default(ONE_DAY),
  autoCommit: z.boolean().default(true),
  overwrite: z.boolean().default(true),
  httpOnly: z.boolean().default(true),
  signed: z.boolean().default(true),
  rolling: z.boolean().default(false),
  renew: z.boolean().default(false),
  secure: z.boolean().optional(),
  sameSite: z.union([z.string(), z.boolean()]).optional(),
  path: z.string().optional(),
  domain: z.string().optional(),
  externalKey: z.object({ get: fn('(ctx) => string'), set: fn('(ctx, value) => void') }).optional(),
  genid: fn('(ctx) => string').optional(),
  prefix: z.string().default(''),
  valid: fn('(ctx, data) => boolean').optional(),
  beforeSave: fn('(ctx, session) => void').optional(),
  maxSize: z.number().optional(),
  onError: fn('(error, context) => void').optional(),
});

type Resolved = z.output<typeof optionsSchema> &
  Pick<KoaSessionCompatOptions, 'externalKey' | 'genid' | 'valid' | 'beforeSave'>;

const STATE = Symbol('kv-session.koa-compat');

/**
 * Per-request state: what the request brought, its session object (or `null` after
 * `ctx.session = null`), and what is stored, for the change set.
 */
class RequestState implements SessionOwner {
  session: KoaCompatSession | null;
  core: CoreSession;
  externalKey: string | undefined;
  maxAge: MaxAge;
  /** What is stored under the key, each top-level key as JSON (including koa-session's `_` keys). */
  stored = new Map<string, string>();
  /** Whether a record exists under the key (loaded, or written by this request). */
  exists = false;
  /** The stored `_expire`, for `renew`. */
  expire: number | undefined;
  /** Commits run one after another (`save()` during a request, then the automatic one). */
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly mw: Middleware,
    readonly ctx: Context,
    core: CoreSession,
  ) {
    this.core = core;
    this.maxAge = mw.o.maxAge;
    this.session = null;
  }

  commit(options: { save?: boolean; regenerate?: boolean }): Promise<void> {
    const run = this.#queue.then(() => this.#commit(options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #commit({
    save = false,
    regenerate = false,
  }: {
    save?: boolean;
    regenerate?: boolean;
  }): Promise<void> {
    const session = this.session;
    if (session === null) {
      await this.#remove(true);
      return;
    }
    if (regenerate) {
      await this.#remove(false);
      this.externalKey = this.mw.newKey(this.core, this.ctx);
    }
    const required = takeRequireSave(session);
    let data = wanted(session);
    const dataBefore = new Map([...this.stored].filter(([key]) => !key.startsWith('_')));
    const before = snapshotChanges(dataBefore, data);
    const changed = Object.keys(before.set).length > 0 || before.remove.length > 0;
    let reason = save || regenerate || required;
    if (!reason) {
      const o = this.mw.o;
      if (!this.exists && data.size === 0) reason = false;
      else if (changed || o.rolling) reason = true;
      else if (o.renew && typeof this.maxAge === 'number' && this.expire !== undefined) {
        reason = this.expire - Date.now() < this.maxAge / 2;
      }
    }
    if (!reason) {
      // Reading it refreshed the stored expiry to the middleware's lifetime: give it back its own.
      if (this.exists && (await this.#ownLifetime())) await this.mw.manager.save(this.core);
      return;
    }
    if (this.mw.o.beforeSave !== undefined) {
      this.mw.o.beforeSave(this.ctx, session);
      data = wanted(session);
    }
    await this.#save(data);
  }

  /** Writes what changed (with koa-session's `_expire`/`_maxAge` or `_session`) and sends the cookie. */
  async #save(data: Map<string, string>): Promise<void> {
    const desired = new Map(data);
    const maxAge = this.maxAge;
    let expire: number | undefined;
    if (maxAge === 'session') desired.set(SESSION_KEY, 'true');
    else {
      expire = Date.now() + maxAge;
      desired.set(EXPIRE_KEY, JSON.stringify(expire));
      desired.set(MAX_AGE_KEY, JSON.stringify(maxAge));
    }
    const { set, remove } = snapshotChanges(this.stored, desired);
    await this.#ownLifetime();
    if (Object.keys(set).length > 0) await this.core.setMany(set);
    if (remove.length > 0) await this.core.remove(...remove);
    const outcome = await this.mw.manager.save(this.core);
    this.stored = desired;
    this.exists = outcome.live;
    this.expire = expire;
    // Removed meanwhile by another request (destroyed, or regenerated away): it stays removed.
    if (!outcome.live) return;
    const key = this.externalKey!;
    if (this.mw.o.externalKey !== undefined) this.mw.o.externalKey.set(this.ctx, key);
    else this.ctx.cookies.set(this.mw.o.key, key, this.mw.cookieOptions(maxAge));
  }

  /** Gives the core session this session's own lifetime, if it has one; says whether it has. */
  async #ownLifetime(): Promise<boolean> {
    const ms = storeLifetime(this.maxAge);
    if (ms === storeLifetime(this.mw.o.maxAge)) return false;
    await this.core.setMaxAge(ms, { persist: false });
    return true;
  }

  /** Deletes the stored session and expires the cookie (`destroy`: it can never come back). */
  async #remove(destroy: boolean): Promise<void> {
    if (destroy) await this.core.destroy();
    else await this.core.removeAll();
    this.stored = new Map();
    this.exists = false;
    this.ctx.cookies.set(this.mw.o.key, '', {
      ...this.mw.cookieOptions(undefined),
      expires: new Date(0),
      maxAge: undefined,
    });
  }
}

/** One `session(options, app)` middleware. */
class Middleware {
  readonly manager: SessionManager<SessionData>;
  #pending: (() => string) | undefined;
  /**
   * `value.signature` of cookies whose `.sig` verified with the first of `app.keys` (which
   * {@link #verifiedWith} holds): core's bounded cache of verified values, emptied when the key changes.
   */
  readonly #verified = new Map<string, true>();
  #verifiedWith: string | undefined;

  constructor(
    readonly o: Resolved,
    readonly app: Koa,
  ) {
    this.manager = new SessionManager<SessionData>({
      ...(o.storage === undefined ? {} : { storage: o.storage as Storage }),
      maxAge: storeLifetime(o.maxAge),
      // Core makes ids lazily (`session.id`); newKey() reads that getter right after setting #pending.
      genid: () => (this.#pending ?? randomUUID)(),
      ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }),
      ...(o.onError === undefined ? {} : { onError: o.onError as KoaSessionCompatOptions['onError'] & {} }),
    });
  }

  /** The id in an external key, when it has the prefix (core checks the id's format). */
  idOf(externalKey: string | undefined): string | undefined {
    if (externalKey === undefined || externalKey === '' || !externalKey.startsWith(this.o.prefix))
      return undefined;
    return externalKey.slice(this.o.prefix.length);
  }

  /** Gives `core` (which holds no id) a new id from `genid(ctx)`; returns the external key. */
  newKey(core: CoreSession, ctx: Context): string {
    const genid = this.o.genid;
    this.#pending = () => {
      if (genid === undefined) return randomUUID();
      const key = genid(ctx);
      return key.startsWith(this.o.prefix) ? key.slice(this.o.prefix.length) : key;
    };
    try {
      return this.o.prefix + core.id;
    } finally {
      this.#pending = undefined;
    }
  }

  /** Options for `ctx.cookies.set`, as koa-session passes them. */
  cookieOptions(maxAge: MaxAge | undefined): Record<string, unknown> {
    const o = this.o;
    const out: Record<string, unknown> = {
      overwrite: o.overwrite,
      httpOnly: o.httpOnly,
      signed: o.signed,
      maxAge: typeof maxAge === 'number' ? maxAge : undefined,
    };
    for (const k of ['secure', 'sameSite', 'path', 'domain', 'partitioned', 'priority'] as const) {
      if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
    }
    return out;
  }

  emit(event: string, data: unknown): void {
    setImmediate(() => this.app.emit(`session:${event}`, data));
  }

  /**
   * The session cookie's value, as `ctx.cookies.get(key, { signed })` returns it. That checks a
   * signature through keygrip, whose constant-time comparison costs two more HMACs and random
   * bytes per request; the common case, a signature by the first key, is checked here with one
   * HMAC (`keys.sign`) and `timingSafeEqual`. Anything else (no or a wrong `.sig`, an older key)
   * goes to `ctx.cookies.get`, which also deletes or re-signs the `.sig` cookie as koa-session's does.
   */
  #cookie(ctx: Context): string | undefined {
    const o = this.o;
    if (!o.signed) return ctx.cookies.get(o.key, { signed: false });
    const keys = (ctx.cookies as { keys?: { sign?: unknown } }).keys;
    if (typeof keys?.sign === 'function') {
      const value = ctx.cookies.get(o.key, { signed: false });
      if (value === undefined) return undefined;
      const remote = ctx.cookies.get(`${o.key}.sig`, { signed: false });
      if (remote) {
        // Koa signs with `app.keys[0]` when `app.keys` is an array (a new Keygrip of it per request):
        // while that key is the same string, a value and signature that verified before still do.
        const appKeys = (ctx.app as { keys?: unknown }).keys;
        const first = Array.isArray(appKeys) && typeof appKeys[0] === 'string' ? appKeys[0] : undefined;
        // Looked up as one string (value and signature), as core's cache does: a hash lookup, not a
        // comparison of the given signature with a valid one.
        const pair = `${value}.${remote}`;
        if (first !== undefined && first === this.#verifiedWith && this.#verified.has(pair)) return value;
        const given = Buffer.from(remote);
        const expected = Buffer.from(String((keys.sign as (data: string) => unknown)(`${o.key}=${value}`)));
        if (given.length === expected.length && timingSafeEqual(given, expected)) {
          if (first !== undefined) {
            if (first !== this.#verifiedWith) {
              this.#verified.clear();
              this.#verifiedWith = first;
            }
            rememberVerified(this.#verified, pair, true);
          }
          return value;
        }
      }
    }
    return ctx.cookies.get(o.key, { signed: true });
  }

  /** Reads the external key and loads the session, as koa-session does before the handlers run. */
  async init(ctx: Context): Promise<RequestState> {
    const o = this.o;
    const externalKey = o.externalKey !== undefined ? o.externalKey.get(ctx) : this.#cookie(ctx);
    const id = this.idOf(externalKey);
    // One core session per request: under the cookie's id, or (none) one that gets a new id.
    const state = new RequestState(this, ctx, this.manager.sessionById(id ?? ''));
    let data: Record<string, unknown> | undefined;
    if (id !== undefined) {
      const core = state.core;
      const loaded = await core.data();
      let found = true;
      this.#pending = () => {
        found = false;
        return randomUUID();
      };
      try {
        void core.id;
      } finally {
        this.#pending = undefined;
      }
      if (!found) this.emit('missed', { key: externalKey, value: undefined, ctx });
      else if (typeof loaded[EXPIRE_KEY] === 'number' && loaded[EXPIRE_KEY] < Date.now()) {
        this.emit('expired', { key: externalKey, value: loaded, ctx });
      } else if (o.valid !== undefined && !o.valid(ctx, loaded)) {
        this.emit('invalid', { key: externalKey, value: loaded, ctx });
      } else data = loaded;
    }
    if (data === undefined) {
      // A new session under a fresh id (an unknown id is never adopted; an expired or invalid record
      // is deleted).
      if (id !== undefined) await state.core.removeAll();
      state.externalKey = this.newKey(state.core, ctx);
    } else {
      state.externalKey = externalKey;
      state.stored = jsonSnapshot(Object.entries(data));
      state.exists = true;
      if (typeof data[EXPIRE_KEY] === 'number') state.expire = data[EXPIRE_KEY];
      if (typeof data[MAX_AGE_KEY] === 'number' && data[MAX_AGE_KEY] > 0) state.maxAge = data[MAX_AGE_KEY];
      else if (data[SESSION_KEY] === true) state.maxAge = 'session';
    }
    state.session = new KoaCompatSession(state, data);
    return state;
  }
}

/** Adds `ctx.session` and `ctx.sessionOptions` to the app's context prototype (once per app). */
function extendContext(context: object): void {
  if (Object.hasOwn(context, STATE)) return;
  const stateOf = (ctx: object): RequestState => {
    const state = (ctx as { [STATE]?: RequestState })[STATE];
    if (state === undefined)
      throw new Error('kv-session: the session middleware has not run for this context');
    return state;
  };
  Object.defineProperties(context, {
    [STATE]: { value: undefined, writable: true },
    session: {
      get(this: object) {
        return stateOf(this).session;
      },
      set(this: object, value: unknown) {
        const state = stateOf(this);
        if (value === null) state.session = null;
        else if (typeof value === 'object') {
          // Replaces the data; the key stays (the record is rewritten, not moved).
          const next = new KoaCompatSession(state, undefined);
          Object.assign(next, value);
          next.isNew = false; // as koa-session: a session made from data is not new
          state.session = next;
        } else throw new Error('this.session can only be set as null or an object.');
      },
      configurable: true,
    },
    sessionOptions: {
      get(this: object) {
        const state = stateOf(this);
        return {
          ...state.mw.o,
          get maxAge() {
            return state.maxAge;
          },
          set maxAge(value: MaxAge) {
            state.maxAge = value;
          },
        };
      },
      configurable: true,
    },
  });
}

/**
 * A drop-in for `koa-session` with an external store, on kv-session: `app.use(session(options, app))`.
 * `ctx.session` is koa-session's object (property access, `ctx.session = null` / `= {...}`,
 * `maxAge`, `isNew`, `populated`, `save()`, `regenerate()`, `manuallyCommit()`), loaded before the
 * handlers run. The keys a request changed are saved as a key-level change set before the response,
 * so concurrent requests keep each other's writes and a destroyed session is never revived; a
 * storage failure is thrown into Koa's error handling (`status` 503 when unavailable). Cookie, `.sig`
 * cookie and stored JSON are koa-session's, so a running site switches without logging anyone out
 * (see docs/migrating-from-koa-session.md).
 */
export function session(
  options: KoaSessionCompatOptions | Koa,
  app?: Koa | KoaSessionCompatOptions,
): Koa.Middleware {
  let opts = options as KoaSessionCompatOptions | undefined;
  let koa = app as Koa | undefined;
  if (opts !== undefined && typeof (opts as { use?: unknown }).use === 'function') {
    [koa, opts] = [opts as unknown as Koa, app as KoaSessionCompatOptions | undefined];
  }
  if (typeof koa?.use !== 'function') throw new TypeError('app instance required: `session(opts, app)`');
  const raw = { ...(opts ?? {}) } as Record<string, unknown>;
  if (raw.maxAge === undefined && raw.maxage !== undefined) raw.maxAge = raw.maxage;
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(formatIssues(parsed.error.issues), '@kv-session/koa/compat options');
  const mw = new Middleware(parsed.data as Resolved, koa);
  extendContext(koa.context);

  return async function session(ctx, next) {
    const state = await mw.init(ctx);
    (ctx as { [STATE]?: RequestState })[STATE] = state;
    try {
      await next();
    } finally {
      if (mw.o.autoCommit) await state.commit({});
    }
  };
}

export default session;
