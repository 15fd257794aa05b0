import {
  type CommitOutcome,
  callbackOrPromise,
  entryJson,
  type JsonValue,
  type Session,
  type SessionData,
  type SessionManager,
  snapshotChanges,
} from '@kv-session/core';
import type { FastifyRequest } from 'fastify';
import { CompatCookie, type CompatCookieOptions, type CookieSigner, storedMaxAge } from './compat-cookie.js';
import type { SessionCallback } from './compat-types.js';

/** The core session behind a compat session. */
export type CoreSession = Session<SessionData>;

/** What every compat session of one plugin instance shares. */
export interface CompatContext {
  manager: SessionManager<SessionData>;
  signer: CookieSigner;
  /** The plugin's cookie options (a session's own start from them). */
  cookieOptions: CompatCookieOptions;
  /** The core session's id, made by `make` (synchronously, as core asks for it) if it has none yet. */
  idOf(core: CoreSession, make: () => string): string;
  /** A new id from the plugin's `idGenerator(request)`. */
  newId(request: FastifyRequest): string;
}

/** The key @fastify/session stores the cookie's settings under, next to the data. */
const COOKIE_KEY = 'cookie';

interface Internals {
  readonly context: CompatContext;
  readonly request: FastifyRequest;
  core: CoreSession;
  readonly id: string;
  signed: string | undefined;
  /** This session's cookie options: the plugin's, changed by `options()` or a stored lifetime. */
  cookieOptions: CompatCookieOptions;
  /** Each stored top-level key with its JSON as last loaded or saved: the base of the change set. */
  snapshot: Map<string, string>;
  /** A record exists in storage (loaded, or written by this request). */
  stored: boolean;
  saved: boolean;
  https: boolean;
  /** `options()` changed the cookie: its settings are written with the next save. */
  cookieChanged: boolean;
}

/**
 * The request's current compat session (also after `destroy()` set `request.session` to null): a
 * request decorator under this symbol (the plugin declares it, so Fastify's request objects keep
 * one shape; a WeakMap entry per request cost more, in the lookup and in the garbage collector).
 */
export const CURRENT = Symbol('kv-session.fastify-compat.current');

/** A request as the compat session sees it. */
type CompatRequest = FastifyRequest & { [CURRENT]?: CompatSession | null };

/** The request's current compat session, if the plugin made one. */
export function currentSession(request: FastifyRequest): CompatSession | undefined {
  return (request as CompatRequest)[CURRENT] ?? undefined;
}

/** A session's internals (a private field: no WeakMap entry per request). */
let inside: (s: CompatSession) => Internals;

/** Each stored top-level key of the session object with its JSON (the cookie is not data). */
function snapshotOf(s: CompatSession): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(s)) {
    if (key === COOKIE_KEY) continue;
    const json = entryJson(key, s[key]);
    if (json !== undefined) out.set(key, json);
  }
  return out;
}

/** Whether every stored top-level key of `s` still has the JSON of `snapshot`, and no key was added. */
function matches(s: CompatSession, snapshot: ReadonlyMap<string, string>): boolean {
  let seen = 0;
  for (const key of Object.keys(s)) {
    if (key === COOKIE_KEY) continue;
    const json = entryJson(key, s[key]);
    if (json === undefined) continue;
    if (snapshot.get(key) !== json) return false;
    seen += 1;
  }
  return seen === snapshot.size;
}

/** What a request changed: keys to set and to remove, and the snapshot they were found in. */
export type Changes = ReturnType<typeof snapshotChanges> & { now: Map<string, string> };

/** What the request changed: keys to set and to remove, against what was loaded or last saved. */
function changes(s: CompatSession, i: Internals): Changes {
  // The common case, a request that changed nothing, builds no second snapshot.
  if (matches(s, i.snapshot)) return { set: {}, remove: [], now: i.snapshot };
  const now = snapshotOf(s);
  const { set, remove } = snapshotChanges(i.snapshot, now);
  return { set, remove, now };
}

/**
 * What `s` changed so far (one snapshot of it), for the end of the request to decide on a save and
 * hand the same changes to {@link commitCompat} rather than snapshot the session twice.
 */
export function pendingChanges(s: CompatSession): Changes & { modified: boolean } {
  const c = changes(s, inside(s)) as Changes & { modified: boolean };
  c.modified = c.remove.length > 0 || Object.keys(c.set).length > 0;
  return c;
}

/**
 * Takes `signed` (the request's cookie value, verified and signed with the first secret by the
 * plugin's deterministic signer) as the signed id, so the response need not compute the same HMAC again.
 */
export function adoptSigned(s: CompatSession, signed: string): void {
  inside(s).signed = signed;
}

/**
 * `request.session` of `@kv-session/fastify/compat`: @fastify/session's session object. Data are
 * its own enumerable properties; `get`/`set` read and write them. What changed is found by
 * comparing each top-level property's JSON with what was loaded, so nested changes count too
 * (`request.session.cart.items.push(x)`), and only the changed keys are written.
 */
export class CompatSession {
  [key: string]: unknown;
  /** The session cookie's settings (`maxAge`, `expires`, `path`, ...), as in @fastify/session. */
  declare cookie: CompatCookie;
  readonly #i: Internals;

  static {
    inside = (s) => {
      if (!(#i in s)) throw new TypeError('not a session of @kv-session/fastify/compat');
      return s.#i;
    };
  }

  /** @internal Made by the plugin. */
  constructor(
    context: CompatContext,
    request: FastifyRequest,
    core: CoreSession,
    data: Record<string, unknown>,
    stored: boolean,
    https: boolean,
    cookieOptions: CompatCookieOptions = context.cookieOptions,
  ) {
    const own = { ...cookieOptions };
    const lifetime = storedMaxAge(data[COOKIE_KEY]);
    if (lifetime !== undefined) own.maxAge = lifetime;
    const i: Internals = {
      context,
      request,
      core,
      id: context.idOf(core, () => context.newId(request)),
      signed: undefined,
      cookieOptions: own,
      snapshot: new Map(),
      stored,
      saved: false,
      https,
      cookieChanged: false,
    };
    this.#i = i;
    this.cookie = new CompatCookie(own, https);
    for (const key of Object.keys(data)) {
      if (key === COOKIE_KEY) continue;
      const value = data[key];
      this[key] = value;
    }
    if (stored) i.snapshot = snapshotOf(this);
    (request as CompatRequest)[CURRENT] = this;
    (request as unknown as { session: unknown }).session = this;
  }

  /** The session id (unsigned). */
  get sessionId(): string {
    return inside(this).id;
  }

  /** The signed id, as the cookie carries it. */
  get encryptedSessionId(): string {
    const i = inside(this);
    i.signed ??= i.context.signer.sign(i.id);
    return i.signed;
  }

  /** Reads a property. */
  get<T = unknown>(key: string): T | undefined {
    return this[key] as T | undefined;
  }

  /** Sets a property (`undefined` removes it from storage). */
  set(key: string, value: unknown): void {
    this[key] = value;
  }

  /** Whether a property differs from what was loaded or last saved (the cookie does not count). */
  isModified(): boolean {
    return pendingChanges(this).modified;
  }

  /** Whether `save()` (or `regenerate()`) stored this session during this request. */
  isSaved(): boolean {
    return inside(this).saved;
  }

  /** Extends the cookie's `expires` by its `originalMaxAge`. */
  touch(): void {
    const ms = this.cookie.originalMaxAge;
    if (ms) this.cookie.expires = new Date(Date.now() + ms);
  }

  /** Changes this session's cookie options (e.g. `{ maxAge }` for "remember me"). */
  options(options: CompatCookieOptions): void {
    const i = inside(this);
    if (Object.keys(options).length === 0) return;
    i.cookieOptions = { ...i.cookieOptions, ...options };
    this.cookie = new CompatCookie(i.cookieOptions, i.https);
    i.cookieChanged = true;
  }

  /** Saves now (the response saves again if more changes follow). */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
  save(callback?: SessionCallback): Promise<void> | undefined {
    return callbackOrPromise(
      commitCompat(this).then(() => {
        inside(this).saved = true;
      }),
      callback,
    );
  }

  /**
   * Moves to a new id (fixation protection): the stored record is deleted, and a new session under
   * a fresh id, holding only the `keys` given, is saved and becomes `request.session`.
   */
  regenerate(keys?: readonly string[]): Promise<void>;
  regenerate(callback: SessionCallback): void;
  regenerate(keys: readonly string[], callback: SessionCallback): void;
  regenerate(
    keys?: readonly string[] | SessionCallback,
    callback?: SessionCallback,
  ): Promise<void> | undefined {
    if (typeof keys === 'function') [keys, callback] = [undefined, keys];
    const i = inside(this);
    const kept: Record<string, unknown> = {};
    for (const key of keys ?? []) if (this[key] !== undefined && key !== COOKIE_KEY) kept[key] = this[key];
    const run = async (): Promise<void> => {
      await i.core.removeAll();
      const next = new CompatSession(i.context, i.request, i.core, {}, false, i.https, i.cookieOptions);
      Object.assign(next, kept);
      await commitCompat(next);
      inside(next).saved = true;
    };
    return callbackOrPromise(run(), callback);
  }

  /** Deletes the stored session; `request.session` becomes null and the cookie is expired. */
  destroy(): Promise<void>;
  destroy(callback: SessionCallback): void;
  destroy(callback?: SessionCallback): Promise<void> | undefined {
    const i = inside(this);
    const run = async (): Promise<void> => {
      await i.core.destroy();
      i.stored = false;
      (i.request as unknown as { session: unknown }).session = null;
    };
    return callbackOrPromise(run(), callback);
  }

  /** Reads the session again from storage; unsaved changes are dropped. */
  reload(): Promise<void>;
  reload(callback: SessionCallback): void;
  reload(callback?: SessionCallback): Promise<void> | undefined {
    const i = inside(this);
    const run = async (): Promise<void> => {
      const core = i.context.manager.sessionById(i.id);
      const data = await core.data();
      // Nothing stored under the id (yet): the session keeps its id, with no data.
      let stored = true;
      i.context.idOf(core, () => {
        stored = false;
        return i.id;
      });
      new CompatSession(i.context, i.request, core, stored ? data : {}, stored, i.https, i.cookieOptions);
    };
    return callbackOrPromise(run(), callback);
  }
}

/**
 * Hands what the request changed to core as a key-level change set and commits it (the cookie's
 * settings are written along with any change, as @fastify/session stores them). A session never
 * stored is created even when empty (`saveUninitialized`).
 */
export async function commitCompat(s: CompatSession, pending?: Changes): Promise<CommitOutcome> {
  const i = inside(s);
  const { set, remove, now } = pending ?? changes(s, i);
  // Nothing changed, stored, same settings: the save only refreshes the stored expiry (if core's
  // refresh window asks for it), with no change set to build.
  const write = remove.length > 0 || !i.stored || i.cookieChanged || Object.keys(set).length > 0;
  const lifetime = ownLifetime(s);
  if (lifetime !== undefined) await i.core.setMaxAge(lifetime, { persist: false });
  if (write) {
    const values: Record<string, JsonValue> = { ...set };
    values[COOKIE_KEY] = JSON.parse(JSON.stringify(s.cookie)) as JsonValue;
    await i.core.setMany(values);
  }
  if (remove.length > 0) await i.core.remove(...remove);
  const outcome = await i.context.manager.save(i.core);
  i.cookieChanged = false;
  i.snapshot = now;
  i.stored = outcome.live;
  return outcome;
}

/**
 * This session's own lifetime in ms (from `options({ maxAge })` or its stored cookie settings), when
 * it differs from the plugin's `cookie.maxAge`: the stored session then lives that long.
 */
export function ownLifetime(s: CompatSession): number | undefined {
  const ms = s.cookie.originalMaxAge;
  if (ms === null || ms <= 0 || ms === inside(s).context.cookieOptions.maxAge) return undefined;
  return Math.round(ms);
}
