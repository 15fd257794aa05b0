import type { SessionError } from './errors.js';
import {
  type CommitResult,
  HttpEdge,
  type Incoming,
  type RequestHeaders,
  type RequestInfo,
  type RequestProtocol,
  requestInfo,
} from './http.js';
import { isValidId } from './id.js';
import {
  type DestroySessionsOptions,
  destroySession,
  destroySessions,
  getSession,
  type ListSessionsOptions,
  listSessions,
  type SessionInfo,
  type SessionRecord,
} from './lifecycle.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import type { RegisteredSessionData } from './schema.js';
import { type CommitOutcome, commitSession, Session, sessionEdge, sessionIncoming } from './session.js';

/**
 * The framework-agnostic engine the adapters call: `session()` at the start of a request (no I/O),
 * `commit()` before the response is sent. Options are validated once, here. `Data` is inferred from
 * the `schema` option (`z.output<typeof schema>`); without one it is the type registered in
 * `SessionTypes`, else JSON values under any key.
 *
 * HTTP stays here, at the edge: the manager reads the id from the cookie or header, verifies its
 * signature, and after the session's commit writes the cookie. A `Session` holds data only.
 */
export class SessionManager<Data extends object = RegisteredSessionData> {
  /** The validated options with defaults filled in. */
  readonly options: ResolvedOptions;
  /** Also kept on each session it makes, with what the request carried (see {@link #incoming}). */
  readonly #edge: HttpEdge;

  constructor(options: SessionOptions<Data> = {}) {
    this.options = resolveOptions(options);
    this.#edge = new HttpEdge(this.options);
  }

  /**
   * The session of a request. Reads the id from the configured header, then the cookie; a
   * malformed, unsigned or forged value counts as no id, and no storage call is ever made for it.
   */
  session(request: RequestInfo = {}): Session<Data> {
    const edge = this.#edge;
    const incoming = edge.read(request);
    const session = new Session<Data>(this.options, incoming.id);
    session[sessionEdge] = edge;
    session[sessionIncoming] = incoming;
    return session;
  }

  /**
   * The session of a request, from its headers (a Web `Headers` or Node's `req.headers`) and
   * protocol: what adapters call instead of building a {@link RequestInfo}. No I/O.
   */
  sessionFromHeaders(headers: RequestHeaders, protocol: RequestProtocol): Session<Data> {
    return this.session(requestInfo(headers, this.options.header, protocol));
  }

  /**
   * A session by a known id: for use outside HTTP (jobs, admin tools), and for compat layers that
   * read and verify their own cookie format, then save with {@link save} and write their own
   * cookie. The id must match `ID_PATTERN` (else the session starts empty under a fresh id); an id
   * with nothing stored under it is not adopted.
   */
  sessionById(id: string): Session<Data> {
    const valid = isValidId(id) ? id : undefined;
    const session = new Session<Data>(this.options, valid);
    session[sessionEdge] = this.#edge;
    session[sessionIncoming] = this.#edge.known(valid);
    return session;
  }

  /**
   * Saves the session (or refreshes its expiry) and says what happened, without any HTTP: the
   * stored id, whether it is live, newly issued, or destroyed. For edges that write their own
   * cookie; HTTP adapters call {@link commit}. Rejects with a `SessionError` (`status` 503 when
   * storage is unavailable).
   */
  save(session: Session<Data>): Promise<CommitOutcome> {
    try {
      const outcome = session[commitSession]();
      return outcome instanceof Promise ? outcome : Promise.resolve(outcome);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Saves the session (or refreshes its expiry) and returns the headers to send. Call it before the
   * response is sent; it rejects with a `SessionError` (`status` 503 when storage is unavailable).
   */
  commit(session: Session<Data>): Promise<CommitResult> {
    const result = this.commitNow(session);
    // Nothing to store (the session was never used, or its expiry needs no refresh): no await.
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  /**
   * {@link commit}, answering the headers themselves instead of a promise when the session has
   * nothing to store (no storage call): an adapter that holds the response until the save is done
   * sends it in the same tick. Never throws: a failure is a rejected promise, as with `commit`.
   */
  commitNow(session: Session<Data>): CommitResult | Promise<CommitResult> {
    try {
      const request = this.#incoming(session);
      const outcome = session[commitSession]();
      if (!(outcome instanceof Promise)) return this.#edge.respond(request, outcome);
      return outcome.then((done) => this.#edge.respond(request, done));
    } catch (error) {
      // A promise either way, as commit: never a synchronous throw.
      return Promise.reject(error);
    }
  }

  /** What the request of a session this manager made carried; for any other session, nothing. */
  #incoming(session: Session<Data>): Incoming {
    return session[sessionEdge] === this.#edge
      ? (session[sessionIncoming] as Incoming)
      : this.#edge.known(undefined);
  }

  /**
   * {@link commit} for a request whose handler already failed: the handler's error wins, so a
   * failed save is reported through the `onError` option instead of thrown. Returns the headers to
   * send with the error response, or `undefined` when the save failed.
   */
  async commitAfterError(session: Session<Data>): Promise<CommitResult | undefined> {
    try {
      return await this.commit(session);
    } catch (error) {
      this.report(error as SessionError, 'commit');
      return undefined;
    }
  }

  /** Reports an error that is not thrown to the request through the `onError` option. */
  report(error: SessionError, operation: string): void {
    this.options.onError(error, { operation });
  }

  /**
   * The live sessions of an owner (`session.setOwner(owner)`), most recently active first: id
   * redacted, created, last active, expires, and `current` for the id given as `options.current`.
   * Each is verified against its record (the index may be stale, e.g. on Redis Cluster where it
   * lives in another slot); stale entries are removed from the index. Throws
   * `StorageCapabilityError` when the storage has no owner index.
   */
  listSessions(owner: string, options?: ListSessionsOptions): Promise<SessionInfo[]> {
    return listSessions(this.options, owner, options);
  }

  /**
   * Destroys every live session of an owner ("sign out everywhere"), except the id given as
   * `options.except` (the caller's own), and returns how many it destroyed. Their records are
   * deleted and they leave the owner's index; a request of one of them already in flight cannot
   * bring it back (see `destroy()`). Throws `StorageCapabilityError` when the storage has no owner index.
   */
  destroySessions(owner: string, options?: DestroySessionsOptions): Promise<number> {
    return destroySessions(this.options, owner, options);
  }

  /**
   * Reads one stored session for operators, without refreshing it: its data, its metadata
   * (`created`, `owner`, `maxAge`) and its expiry; `undefined` when there is none (or it is past
   * `absoluteTimeout`). Throws `StorageCapabilityError` when the storage has no `peek`.
   */
  getSession(id: string): Promise<SessionRecord | undefined> {
    return getSession(this.options, id);
  }

  /** Destroys one session by id (and takes it out of its owner's index); true when a live one was there. */
  destroySession(id: string): Promise<boolean> {
    return destroySession(this.options, id);
  }

  /** Closes the storage (flushes pending work). */
  async close(): Promise<void> {
    await this.options.storage.close?.();
  }
}
