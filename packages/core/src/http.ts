// The HTTP edge of core: everything about the cookie and the id header, in and out. A `Session`
// knows nothing of HTTP; its commit says what happened (a `CommitOutcome`) and this module turns
// that into `Set-Cookie` and the id header, using what it read from the request.
import { forwardedHttps, readCookie, sessionCookie } from './cookie.js';
import { isValidId } from './id.js';
import type { ResolvedOptions } from './options.js';
import type { CommitOutcome } from './session.js';
import { sign, type Unsigned, unsign } from './signing.js';

/** What an adapter knows about the incoming request. */
export interface RequestInfo {
  /** The raw `Cookie` request header. */
  cookie?: string | undefined;
  /** The value of the configured id header (`header` option), if any. */
  header?: string | string[] | undefined;
  /** Whether the request came over HTTPS (decides `cookie.secure: 'auto'`). */
  secure?: boolean;
}

/**
 * A request's headers as frameworks hold them: a Web `Headers` object, or Node's
 * `IncomingHttpHeaders` (lower-case names; `req.headers`, `ctx.headers`, `request.headers`).
 */
export type RequestHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | string[] | undefined>>;

/** How the request reached the app, for `cookie.secure: 'auto'`. */
export interface RequestProtocol {
  /** Whether the request came over HTTPS as the framework or the socket sees it. */
  secure: boolean;
  /**
   * Let the first `X-Forwarded-Proto` value decide instead, when present (behind a TLS-terminating
   * proxy you run). @default false
   */
  trustProxy?: boolean | undefined;
}

/** What the adapter must add to the response after {@link SessionManager.commit}. */
export interface CommitResult {
  /** A `Set-Cookie` header value to append, if any. */
  setCookie: string | undefined;
  /** Extra response headers (the id header in header mode), lower-case names. */
  headers: Record<string, string>;
}

/** What the edge read from one request, kept beside its session until the commit. */
export interface Incoming {
  /** A validated id from the request, or undefined. */
  id: string | undefined;
  /** An older secret verified the id: the cookie is re-issued, signed with the current one. */
  rotated: boolean;
  /** The request carried a cookie/header value that was not a usable id (`destroy()` expires it). */
  presented: boolean;
  /** Whether the request came over HTTPS, for `cookie.secure: 'auto'`. */
  secure: boolean;
}

/** Longest cookie/header value looked at; anything longer is not a session id. */
const MAX_RAW_LENGTH = 512;

/**
 * How many recently verified signed values a manager remembers, so that the next request with the
 * same cookie skips the HMAC (about 6 µs). Only values that verified are kept; the oldest goes first.
 */
export const VERIFIED_CACHE_SIZE = 1024;

/**
 * Remembers a signed value that verified, with what it verified to, in `cache`, dropping the oldest
 * entry beyond {@link VERIFIED_CACHE_SIZE}: the cache of core's managers, and of compat layers that
 * verify their own cookie format. Only remember values that verified.
 */
export function rememberVerified<K, V>(cache: Map<K, V>, signed: K, result: V): void {
  if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(signed, result);
}

function header(headers: RequestHeaders, name: string): string | string[] | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  return (headers as Readonly<Record<string, string | string[] | undefined>>)[name];
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A {@link Incoming}, always of the same object shape (a hot path: kept monomorphic). */
function incoming(id: string | undefined, rotated: boolean, presented: boolean, secure: boolean): Incoming {
  return { id, rotated, presented, secure };
}

/**
 * The {@link RequestInfo} of a request: its `Cookie` header, the id header named `idHeader` (when
 * configured; lower-case), and its protocol (from the first `X-Forwarded-Proto` value when
 * `trustProxy` is set and the header is there).
 */
export function requestInfo(
  headers: RequestHeaders,
  idHeader: string | undefined,
  protocol: RequestProtocol,
): RequestInfo {
  const forwarded =
    protocol.trustProxy === true ? forwardedHttps(first(header(headers, 'x-forwarded-proto'))) : undefined;
  return {
    cookie: first(header(headers, 'cookie')),
    header: idHeader === undefined ? undefined : header(headers, idHeader),
    secure: forwarded ?? protocol.secure,
  };
}

/** Reads ids from requests and writes them into responses, for one manager's options. */
export class HttpEdge {
  readonly #o: ResolvedOptions;
  /** Signed values that verified, with their result (see {@link VERIFIED_CACHE_SIZE}). */
  readonly #verified = new Map<string, Unsigned>();

  constructor(options: ResolvedOptions) {
    this.#o = options;
  }

  /**
   * Where the request's session comes from. Reads the id from the configured header, then the
   * cookie; a malformed, unsigned or forged value counts as no id.
   */
  read(request: RequestInfo): Incoming {
    const o = this.#o;
    const secure = request.secure ?? false;
    let raw: string | undefined;
    if (o.header !== undefined) raw = first(request.header);
    if (raw === undefined || raw === '') raw = readCookie(request.cookie, o.cookie.name);
    if (raw === undefined) return incoming(undefined, false, false, secure);
    // Present but unusable: no storage call, but destroy() still expires the cookie.
    if (raw.length > MAX_RAW_LENGTH) return incoming(undefined, false, true, secure);
    if (o.secrets.length === 0) {
      return isValidId(raw) ? incoming(raw, false, false, secure) : incoming(undefined, false, true, secure);
    }
    let unsigned = this.#verified.get(raw);
    if (unsigned === undefined) {
      unsigned = unsign(raw, o.secrets);
      if (unsigned === undefined || !isValidId(unsigned.value))
        return incoming(undefined, false, true, secure);
      rememberVerified(this.#verified, raw, unsigned);
    }
    return incoming(unsigned.value, unsigned.rotated, false, secure);
  }

  /** What a session known only by its id (no request) counts as: that id, nothing presented. */
  known(id: string | undefined): Incoming {
    return incoming(id, false, false, false);
  }

  /** The headers that tell the client what a commit did. */
  respond(request: Incoming, outcome: CommitOutcome): CommitResult {
    const o = this.#o;
    const id = outcome.id;
    const headers: Record<string, string> = {};
    const secure = o.cookie.secure === 'auto' ? request.secure : o.cookie.secure;
    const send =
      id !== undefined &&
      (outcome.issued || o.rolling || outcome.refresh || (request.rotated && id === request.id));
    if (!send) {
      const clear = outcome.destroyed && (request.id !== undefined || request.presented);
      return { setCookie: clear ? sessionCookie(o.cookie, undefined, secure) : undefined, headers };
    }
    const value = o.secrets.length > 0 ? sign(id, o.secrets[0]!) : id;
    if (o.header !== undefined && (outcome.issued || request.rotated)) headers[o.header] = value;
    return {
      setCookie: sessionCookie(
        o.cookie,
        value,
        secure,
        o.rolling || o.cookie.persistent ? outcome.maxAge : undefined,
      ),
      headers,
    };
  }
}
