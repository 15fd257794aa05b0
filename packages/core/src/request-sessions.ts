import type { RequestHeaders } from './http.js';
import { SessionManager } from './manager.js';
import type { SessionOptions } from './options.js';
import type { RegisteredSessionData } from './schema.js';
import type { Session } from './session.js';

/** Options of the request/response adapters (Fetch, node:http) that are not session options. */
export interface ProxyOptions {
  /**
   * Take the protocol from the first `X-Forwarded-Proto` value (for `cookie.secure: 'auto'`
   * behind a TLS-terminating proxy). Enable only when a proxy you run sets that header.
   * @default false (the request's own protocol: the URL's, or whether the socket is TLS)
   */
  trustProxy?: boolean;
}

/** What {@link RequestSessions} needs from a request: its headers and whether it came over HTTPS. */
export type ReadRequest<Request> = (request: Request) => { headers: RequestHeaders; secure: boolean };

/**
 * The shared body of adapters that are called with a request object rather than installed as
 * middleware (`FetchSessions`, `NodeSessions`): one manager, `session(request)` at the start,
 * `of(request)` later, `close()`. Subclasses add the way their framework sends a response.
 */
export class RequestSessions<Request extends object, Data extends object = RegisteredSessionData> {
  /** The core manager (validated options, `sessionById()` for jobs and admin tools, `close()`). */
  readonly manager: SessionManager<Data>;
  readonly #trustProxy: boolean;
  readonly #read: ReadRequest<Request>;
  /**
   * The field of a request where {@link session} keeps its session: a private symbol of this
   * instance, rather than a WeakMap entry (a lookup and an entry per request).
   */
  readonly #field = Symbol('kv-session.request-session');

  /** Validates the options (throws `ConfigError`); `read` takes what core needs from a request. */
  constructor(options: SessionOptions<Data> & ProxyOptions, read: ReadRequest<Request>) {
    const { trustProxy, ...sessionOptions } = options;
    this.manager = new SessionManager<Data>(sessionOptions);
    this.#trustProxy = trustProxy ?? false;
    this.#read = read;
  }

  /** The session of a request. No I/O: storage is read on the first data access. */
  session(request: Request): Session<Data> {
    const { headers, secure } = this.#read(request);
    const session = this.manager.sessionFromHeaders(headers, { secure, trustProxy: this.#trustProxy });
    (request as Record<symbol, unknown>)[this.#field] = session;
    return session;
  }

  /** The session {@link session} last made for `request`; throws when there is none. */
  of(request: Request): Session<Data> {
    const session = (request as Record<symbol, unknown>)[this.#field] as Session<Data> | undefined;
    if (session === undefined) throw new Error('kv-session: no session was created for this request');
    return session;
  }

  /** Closes the storage. */
  close(): Promise<void> {
    return this.manager.close();
  }
}
