import {
  type Session,
  type SessionData,
  SessionError,
  SessionManager,
  type SessionOptions,
} from '@kv-session/core';
import { applyCommit, errorResponse, requestInfo } from './fetch.js';

/** Options of the Fetch adapter that are not session options. */
export interface FetchAdapterOptions {
  /**
   * Take the protocol from the first `X-Forwarded-Proto` value (for `cookie.secure: 'auto'`
   * behind a TLS-terminating proxy). Enable only when a proxy you run sets that header.
   * @default false (the protocol of `request.url`)
   */
  trustProxy?: boolean;
}

/** Session options plus {@link FetchAdapterOptions}. */
export type FetchSessionOptions = SessionOptions & FetchAdapterOptions;

/**
 * Sessions for any Web-standard `fetch(request) => Response` handler (Bun.serve, Deno.serve,
 * Next.js route handlers, Cloudflare-style workers, Hono). `session(request)` at the start,
 * `finalize(session, response)` at the end; or `handle(request, handler)` for both.
 */
export class FetchSessions<Data extends SessionData = SessionData> {
  /** The core manager (validated options, `close()`). */
  readonly manager: SessionManager<Data>;
  readonly #trustProxy: boolean;

  constructor(options: FetchSessionOptions = {}) {
    const { trustProxy, ...sessionOptions } = options;
    this.manager = new SessionManager<Data>(sessionOptions);
    this.#trustProxy = trustProxy ?? false;
  }

  /** The session of a request. No I/O: storage is read on the first data access. */
  session(request: Request): Session<Data> {
    return this.manager.session(
      requestInfo(request, { header: this.manager.options.header, trustProxy: this.#trustProxy }),
    );
  }

  /**
   * Saves the session (or refreshes its expiry), then returns the response with `Set-Cookie` and the
   * id header added (a copy when its headers are immutable). Await it before returning the response.
   * Rejects with a {@link SessionError} (`status` 503 when storage is unavailable).
   */
  async finalize(session: Session<Data>, response: Response): Promise<Response> {
    return applyCommit(response, await this.manager.commit(session));
  }

  /**
   * Runs `handler` with the request's session and finalizes its response. A `SessionError` (from the
   * handler or the save) becomes an error response with the error's `status` and is reported through
   * the `onError` option; any other error is rethrown, and nothing is saved when the handler throws.
   */
  async handle(
    request: Request,
    handler: (session: Session<Data>, request: Request) => Response | Promise<Response>,
  ): Promise<Response> {
    const session = this.session(request);
    try {
      return await this.finalize(session, await handler(session, request));
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      this.manager.options.onError(error, { operation: 'request' });
      return errorResponse(error);
    }
  }

  /** Closes the storage. */
  close(): Promise<void> {
    return this.manager.close();
  }
}

/** Creates {@link FetchSessions}; options are validated here (throws `ConfigError`). */
export function createFetchSessions<Data extends SessionData = SessionData>(
  options: FetchSessionOptions = {},
): FetchSessions<Data> {
  return new FetchSessions<Data>(options);
}
