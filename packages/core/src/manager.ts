import { readCookie } from './cookie.js';
import { isValidId } from './id.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import type { RegisteredSessionData } from './schema.js';
import { type CommitResult, commitSession, Session, type SessionInit } from './session.js';
import { type Unsigned, unsign } from './signing.js';

/** What an adapter knows about the incoming request. */
export interface RequestInfo {
  /** The raw `Cookie` request header. */
  cookie?: string | undefined;
  /** The value of the configured id header (`header` option), if any. */
  header?: string | string[] | undefined;
  /** Whether the request came over HTTPS (decides `cookie.secure: 'auto'`). */
  secure?: boolean;
}

/** Longest cookie/header value looked at; anything longer is not a session id. */
const MAX_RAW_LENGTH = 512;

/**
 * How many recently verified signed values a manager remembers, so that the next request with the
 * same cookie skips the HMAC (about 6 µs). Only values that verified are kept; the oldest goes first.
 */
export const VERIFIED_CACHE_SIZE = 1024;

/**
 * The framework-agnostic engine the adapters call: `session()` at the start of a request (no I/O),
 * `commit()` before the response is sent. Options are validated once, here. `Data` is inferred from
 * the `schema` option (`z.output<typeof schema>`); without one it is the type registered in
 * `SessionTypes`, else JSON values under any key.
 */
export class SessionManager<Data extends object = RegisteredSessionData> {
  /** The validated options with defaults filled in. */
  readonly options: ResolvedOptions;
  /** Signed values that verified, with their result (see {@link VERIFIED_CACHE_SIZE}). */
  readonly #verified = new Map<string, Unsigned>();

  constructor(options: SessionOptions<Data> = {}) {
    this.options = resolveOptions(options);
  }

  /**
   * The session of a request. Reads the id from the configured header, then the cookie; a
   * malformed, unsigned or forged value counts as no id, and no storage call is ever made for it.
   */
  session(request: RequestInfo = {}): Session<Data> {
    return new Session<Data>(this.options, this.#incoming(request, request.secure ?? false));
  }

  /**
   * A session by a known id, for use outside HTTP (jobs, admin tools). The id must match
   * `ID_PATTERN`; an unknown id is not adopted.
   */
  sessionById(id: string): Session<Data> {
    return new Session<Data>(this.options, isValidId(id) ? { id } : {});
  }

  /**
   * Saves the session (or refreshes its expiry) and returns the headers to send. Call it before the
   * response is sent; it rejects with a `SessionError` (`status` 503 when storage is unavailable).
   */
  commit(session: Session<Data>): Promise<CommitResult> {
    return session[commitSession]();
  }

  /** Closes the storage (flushes pending work). */
  async close(): Promise<void> {
    await this.options.storage.close?.();
  }

  /** Where the request's session comes from. */
  #incoming(request: RequestInfo, secure: boolean): SessionInit {
    const o = this.options;
    let raw: string | undefined;
    if (o.header !== undefined) {
      const h = request.header;
      raw = Array.isArray(h) ? h[0] : h;
    }
    if (raw === undefined || raw === '') raw = readCookie(request.cookie, o.cookie.name);
    if (raw === undefined) return init(undefined, false, false, secure);
    // Present but unusable: no storage call, but destroy() still expires the cookie.
    if (raw.length > MAX_RAW_LENGTH) return init(undefined, false, true, secure);
    if (o.secrets.length === 0) {
      return isValidId(raw) ? init(raw, false, false, secure) : init(undefined, false, true, secure);
    }
    let unsigned = this.#verified.get(raw);
    if (unsigned === undefined) {
      unsigned = unsign(raw, o.secrets);
      if (unsigned === undefined || !isValidId(unsigned.value)) return init(undefined, false, true, secure);
      if (this.#verified.size >= VERIFIED_CACHE_SIZE)
        this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(raw, unsigned);
    }
    return init(unsigned.value, unsigned.rotated, false, secure);
  }
}

/** A {@link SessionInit}, always of the same object shape (a hot path: kept monomorphic). */
function init(id: string | undefined, rotated: boolean, presented: boolean, secure: boolean): SessionInit {
  return { id, rotated, presented, secure };
}
