import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  isValidId,
  readCookie,
  type Session,
  type SessionData,
  SessionDataError,
  SessionManager,
} from '@kv-session/core';
import { SessionCookie } from './compat-cookie.js';
import { type CompatOptions, type ResolvedCompatOptions, resolveCompatOptions } from './compat-options.js';
import { CompatSession, type SessionHost } from './compat-session.js';
import { signCompatId, unsignCompatId } from './compat-signing.js';
import { holdUntilSaved } from './hold-response.js';

export type { CompatCookieOptions, StoredCookie } from './compat-cookie.js';
export { SessionCookie } from './compat-cookie.js';
export type { CompatOptions } from './compat-options.js';
export {
  CompatSession,
  type CompatSessionData,
  type CompatSessionObject,
  type SessionCallback,
} from './compat-session.js';
export type { ExpressRequestSession } from './request-session.js';

/** What the middleware reads and writes on the request (Express, Connect or bare node:http). */
interface CompatRequestLike extends IncomingMessage {
  session?: CompatSession | null | undefined;
  sessionID?: string | undefined;
  originalUrl?: string;
  secure?: boolean;
  secret?: string;
}

/** `(req, res, next)`: Express 4/5, Connect and a bare `node:http` server all call it so. */
export interface CompatMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The kv-session manager under the drop-in (`sessionById()` for jobs and admin tools). */
  readonly manager: SessionManager<SessionData>;
  /** Closes the storage. */
  close(): Promise<void>;
}

/** Longest cookie value looked at; anything longer is not a session cookie. */
const MAX_RAW_LENGTH = 512;

/**
 * Per-key JSON of a session's own enumerable properties (undefined and functions are not stored, as
 * in JSON). `cookie` is left out unless `withCookie`: only a write stores it, and its JSON (a date
 * among others) would otherwise be made on every request for nothing.
 */
function snapshot(session: object, withCookie = true): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(session)) {
    if (!withCookie && key === 'cookie') continue;
    let json: string | undefined;
    try {
      json = JSON.stringify((session as Record<string, unknown>)[key]);
    } catch (error) {
      throw new SessionDataError(`req.session.${key} cannot be stored as JSON: ${(error as Error).message}`, {
        key,
        cause: error,
      });
    }
    if (json !== undefined) out.set(key, json);
  }
  return out;
}

/** Whether two snapshots hold the same data, `cookie` aside (express-session's "modified" ignores it). */
function sameData(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  const size = (m: ReadonlyMap<string, string>) => m.size - (m.has('cookie') ? 1 : 0);
  if (size(a) !== size(b)) return false;
  for (const [key, json] of a) if (key !== 'cookie' && b.get(key) !== json) return false;
  return true;
}

/** The `originalMaxAge` of a stored `cookie` value (undefined when it has none). */
function storedMaxAge(cookie: unknown): unknown {
  return typeof cookie === 'object' && cookie !== null
    ? (cookie as { originalMaxAge?: unknown }).originalMaxAge
    : undefined;
}

/** express-session's test for HTTPS: the socket, else (by `proxy`) X-Forwarded-Proto or Express's `req.secure`. */
function isSecure(req: CompatRequestLike, proxy: boolean | undefined): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted) return true;
  if (proxy === false) return false;
  if (proxy !== true) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const value = (Array.isArray(header) ? header[0] : header) ?? '';
  return value.split(',')[0]!.trim().toLowerCase() === 'https';
}

function appendSetCookie(res: ServerResponse, value: string): void {
  const prev = res.getHeader('Set-Cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader('Set-Cookie', [...list, value]);
}

/** Shared by the requests of one middleware. */
interface Context {
  o: ResolvedCompatOptions;
  manager: SessionManager<SessionData>;
  /** The request whose new id core is generating right now (genid(req) is synchronous). */
  generatingFor: CompatRequestLike | undefined;
}

/**
 * One request's session state: the core session under `req.session`, what it held when loaded and
 * when last saved, and express-session's rules for when to save and when to send the cookie.
 */
class CompatRequest implements SessionHost {
  readonly #c: Context;
  readonly #req: CompatRequestLike;
  readonly #res: ServerResponse;
  readonly #next: (err?: unknown) => void;
  readonly #secrets: readonly string[];
  /** The id the cookie carried (verified), if any. */
  #cookieId: string | undefined;
  /**
   * The id and the data (per key JSON, `cookie` aside) at the start of the request: express-session's
   * "modified" test.
   */
  #originalId = '';
  #original = new Map<string, string>();
  /** The data keys (per key JSON) the last {@link #inflate} put on `req.session`. */
  #inflated = new Map<string, string>();
  /** The core session behind the current `req.session`. */
  #core!: Session<SessionData>;
  /** The current `req.session` object. */
  #session: CompatSession | undefined;
  /** Nothing is stored under the current id yet (a new or regenerated session). */
  #fresh = true;
  /** The data (per key JSON, with `cookie`) as stored, or as loaded; empty while fresh. */
  #saved = new Map<string, string>();
  /** The `originalMaxAge` in the stored `cookie` (#saved's), to see a changed lifetime without parsing it. */
  #savedMaxAge: unknown;
  #destroyed = false;
  /** The last save found the session stored (false when another request destroyed it meanwhile). */
  #live = true;
  /** Session operations run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    c: Context,
    req: CompatRequestLike,
    res: ServerResponse,
    next: (err?: unknown) => void,
    secrets: readonly string[],
  ) {
    this.#c = c;
    this.#req = req;
    this.#res = res;
    this.#next = next;
    this.#secrets = secrets;
  }

  /** Loads the request's session (or starts a new one) and sets `req.session` and `req.sessionID`. */
  async start(): Promise<void> {
    const raw = readCookie(this.#req.headers.cookie, this.#c.o.name);
    const id =
      raw === undefined || raw.length > MAX_RAW_LENGTH ? undefined : unsignCompatId(raw, this.#secrets);
    // Ids of another format are never used to build a storage key: such a cookie counts as none.
    this.#cookieId = isValidId(id) ? id : undefined;
    this.#req.sessionID = this.#cookieId;
    if (this.#cookieId === undefined || !(await this.#inflate(this.#cookieId))) this.#generate();
    this.#originalId = this.#session!.id;
    // What #inflate put on the session: a snapshot of it again would give the same JSON.
    this.#original = this.#fresh ? new Map() : this.#inflated;
  }

  /** Adopts the stored session `id` as `req.session`; false when it is not stored. */
  async #inflate(id: string): Promise<boolean> {
    const core = this.#c.manager.sessionById(id);
    const data = await core.data();
    if (Object.keys(data).length === 0) return false;
    const saved = snapshot(data);
    const session = new CompatSession(
      this,
      this.#req,
      id,
      SessionCookie.fromStored(data.cookie, () => this.#newCookie()),
    );
    const inflated = new Map<string, string>();
    for (const [key, json] of saved) {
      // As express-session: stored keys that name a method or `cookie` are not data.
      if (!(key in session)) {
        session[key] = JSON.parse(json);
        inflated.set(key, json);
      }
    }
    this.#core = core;
    this.#fresh = false;
    this.#saved = saved;
    this.#savedMaxAge = storedMaxAge(data.cookie);
    this.#inflated = inflated;
    this.#set(session);
    return true;
  }

  /** A new, empty session under a new id as `req.session` (no storage call). */
  #generate(): void {
    const core = this.#c.manager.session();
    this.#c.generatingFor = this.#req;
    let id: string;
    try {
      id = core.id;
    } finally {
      this.#c.generatingFor = undefined;
    }
    this.#core = core;
    this.#fresh = true;
    this.#saved = new Map();
    this.#savedMaxAge = undefined;
    this.#set(new CompatSession(this, this.#req, id, this.#newCookie()));
  }

  #newCookie(): SessionCookie {
    return SessionCookie.fromOptions(this.#c.o.cookie(this.#req), isSecure(this.#req, this.#c.o.proxy));
  }

  #set(session: CompatSession): void {
    this.#session = session;
    this.#req.session = session;
    this.#req.sessionID = session.id;
  }

  #serial(op: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  regenerate(session: CompatSession): Promise<void> {
    return this.#serial(async () => {
      if (session !== this.#session) return this.#generate();
      let failure: unknown;
      try {
        await this.#core.removeAll();
      } catch (error) {
        failure = error;
      }
      // As express-session: the new session replaces the old one even when deleting it failed.
      this.#generate();
      if (failure !== undefined) throw failure;
    });
  }

  destroy(session: CompatSession): Promise<void> {
    if (session === this.#session) {
      delete this.#req.session;
      this.#destroyed = true;
    }
    return this.#serial(async () => {
      if (session !== this.#session) return;
      await this.#core.removeAll();
    });
  }

  reload(session: CompatSession): Promise<void> {
    return this.#serial(async () => {
      if (!(await this.#inflate(session.id))) throw new Error('failed to load session'); // express-session's message
    });
  }

  save(session: CompatSession): Promise<void> {
    return this.#serial(async () => {
      // A session replaced by regenerate/reload or destroyed is not written again: never revived.
      if (session !== this.#session || this.#destroyed) return;
      await this.#persist(session, true);
    });
  }

  callbackThrew(error: unknown): void {
    this.#next(error);
  }

  /**
   * Saves what changed since the last save as a key-level change set (or, when nothing needs
   * saving, refreshes the expiry through core); the stored expiry follows the cookie's lifetime.
   * Returns the data it looked at (per key JSON, `cookie` aside).
   */
  async #persist(session: CompatSession, explicit: boolean): Promise<Map<string, string>> {
    const data = snapshot(session, false);
    // express-session's rules: a new session is stored when saveUninitialized or modified; a
    // stored one when its data changed (resave: true refreshes the expiry instead of rewriting,
    // which would undo concurrent changes). Here also when the cookie's lifetime changed, so a
    // "remember me" maxAge set on its own is kept.
    let write: boolean;
    if (explicit) write = true;
    else if (this.#fresh) {
      write =
        this.#c.o.saveUninitialized || session.id !== this.#originalId || !sameData(data, this.#original);
    } else {
      write = !sameData(data, this.#saved) || this.#savedMaxAge !== session.cookie.originalMaxAge;
    }
    if (this.#fresh && !write) return data;

    const core = this.#core;
    const expires = session.cookie.expires;
    // connect-redis's TTL: what is left of the cookie's lifetime, or its ttl for browser-session cookies.
    const lifetime =
      expires instanceof Date ? Math.max(1000, Math.ceil(expires.valueOf() - Date.now())) : this.#c.o.maxAge;
    await core.setMaxAge(lifetime, { persist: false });
    let now: Map<string, string> | undefined;
    if (write) {
      const next = snapshot(session);
      now = next;
      const set: SessionData = {};
      for (const [key, json] of next) if (this.#saved.get(key) !== json) set[key] = JSON.parse(json);
      const removed = [...this.#saved.keys()].filter((key) => !next.has(key));
      if (Object.keys(set).length > 0) await core.setMany(set);
      if (removed.length > 0) await core.remove(...removed);
    }
    // The edge writes its own cookie: core only says what happened.
    const outcome = await this.#c.manager.save(core);
    // Not live: another request destroyed the session meanwhile; it stays destroyed, no cookie for it.
    this.#live = outcome.live;
    if (now !== undefined) {
      this.#saved = now;
      this.#savedMaxAge = storedMaxAge(JSON.parse(now.get('cookie') ?? 'null'));
      this.#fresh = false;
    }
    return data;
  }

  /** End of the request: express-session's save/touch/destroy, then its cookie. */
  finish(): Promise<void> {
    return this.#serial(async () => {
      const session = this.#req.session;
      if (!(session instanceof CompatSession) || session !== this.#session) {
        // `req.session = null` (or `delete req.session`) with unset 'destroy' deletes the record.
        if (this.#c.o.unsetDestroy && !this.#destroyed && (session === null || session === undefined)) {
          this.#destroyed = true;
          await this.#core.removeAll();
        }
        return;
      }
      session.touch();
      const data = await this.#persist(session, false);
      if (this.#res.headersSent || !this.#shouldSetCookie(session, data)) return;
      if (session.cookie.secure && !isSecure(this.#req, this.#c.o.proxy)) return;
      appendSetCookie(
        this.#res,
        session.cookie.serialize(this.#c.o.name, signCompatId(session.id, this.#secrets[0]!)),
      );
    });
  }

  /** express-session's rule for sending the cookie; `data` is the session's data as just saved. */
  #shouldSetCookie(session: CompatSession, data: ReadonlyMap<string, string>): boolean {
    if (!this.#live) return false;
    const modified = session.id !== this.#originalId || !sameData(data, this.#original);
    if (this.#cookieId !== session.id) return !this.#fresh && (this.#c.o.saveUninitialized || modified);
    return this.#c.o.rolling || (session.cookie.expires !== null && modified);
  }
}

/**
 * A drop-in for express-session: `app.use(session({ secret, storage, ... }))`, then express-session's
 * `req.session` object (plain properties, `regenerate`/`destroy`/`reload`/`save`/`touch`, `cookie`)
 * and `req.sessionID`. Cookie (`connect.sid`, `s:` + id + signature) and stored records (the session
 * JSON with its `cookie` field; with `StorageRedisKV({ prefix: 'sess:' })` connect-redis's keys) are
 * express-session's, so a site switches both ways without logging anyone out.
 *
 * Differs where kv-session is better: the top-level properties a request changed are saved as a
 * key-level change set (concurrent requests keep each other's writes), a destroyed session is never
 * written again, the save finishes before the response, and storage errors go to `next(err)` with
 * `status` 503 when the storage is unavailable. Runs under Express 4/5, Connect and bare node:http.
 */
export default function session(options: CompatOptions = {}): CompatMiddleware {
  const o = resolveCompatOptions(options);
  const staticCookie = typeof options.cookie === 'object' ? options.cookie : undefined;
  const c: Context = {
    o,
    generatingFor: undefined,
    manager: new SessionManager<SessionData>({
      ...(o.storage === undefined ? {} : { storage: o.storage }),
      // Sessions with the configured cookie lifetime are loaded and refreshed in one command.
      maxAge: staticCookie?.maxAge ?? o.maxAge,
      ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }),
      ...(o.genid === undefined ? {} : { genid: () => o.genid!(c.generatingFor!) }),
    }),
  };

  function middleware(incoming: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const req = incoming as CompatRequestLike;
    // Mounted twice (a router and the app), or behind another session middleware: keep the first.
    if (req.session) {
      next();
      return;
    }
    const url = req.originalUrl ?? req.url ?? '/';
    const path = url.split('?')[0] || '/';
    if (!path.startsWith(o.cookie(req).path ?? '/')) {
      next();
      return;
    }
    const secrets =
      o.secrets ?? (typeof req.secret === 'string' && req.secret !== '' ? [req.secret] : undefined);
    if (secrets === undefined) {
      next(new Error('secret option required for sessions')); // express-session's message
      return;
    }
    const state = new CompatRequest(c, req, res, next, secrets);
    state.start().then(() => {
      holdUntilSaved(res, () => state.finish(), next);
      next();
    }, next);
  }

  return Object.assign(middleware, { manager: c.manager, close: () => c.manager.close() });
}
