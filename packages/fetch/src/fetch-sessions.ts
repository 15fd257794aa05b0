import {
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  SessionError,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
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
export type FetchSessionOptions<Data extends object = RegisteredSessionData> = SessionOptions<Data> &
  FetchAdapterOptions;

/**
 * Sessions for any Web-standard `fetch(request) => Response` handler (Bun.serve, Deno.serve,
 * Next.js route handlers, Cloudflare-style workers, Hono). `session(request)` at the start,
 * `finalize(session, response)` at the end; or `handle(request, handler)` for both.
 */
export class FetchSessions<Data extends object = RegisteredSessionData> {
  /** The core manager (validated options, `close()`). */
  readonly manager: SessionManager<Data>;
  readonly #trustProxy: boolean;

  constructor(options: FetchSessionOptions<Data> = {}) {
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
   * the `onError` option. When the handler fails, its writes are still saved (like the other
   * adapters); a `SessionError` response then carries the cookie, any other error is rethrown after
   * the save (the runtime answers it, so a brand-new session's cookie cannot be sent).
   */
  async handle(
    request: Request,
    handler: (session: Session<Data>, request: Request) => Response | Promise<Response>,
  ): Promise<Response> {
    const session = this.session(request);
    const report = (error: SessionError, operation: string) =>
      this.manager.options.onError(error, { operation });
    let response: Response;
    let failed = false;
    try {
      response = await handler(session, request);
    } catch (error) {
      if (!(error instanceof SessionError)) {
        await this.manager.commit(session).catch((failure: SessionError) => report(failure, 'commit'));
        throw error;
      }
      report(error, 'request');
      response = errorResponse(error);
      failed = true;
    }
    try {
      return await this.finalize(session, response);
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      report(error, 'commit');
      // After a failed handler its error response stands; otherwise the save failure answers.
      return failed ? response : errorResponse(error);
    }
  }

  /** Closes the storage. */
  close(): Promise<void> {
    return this.manager.close();
  }
}

/**
 * Creates {@link FetchSessions}; options are validated here (throws `ConfigError`). With a `schema`
 * option the data type is inferred from it.
 */
export function createFetchSessions<S extends SessionSchema>(
  options: FetchSessionOptions<InferSessionData<S>> & { schema: S },
): FetchSessions<InferSessionData<S>>;
/** Creates {@link FetchSessions}; `Data` types the sessions. */
export function createFetchSessions<Data extends object = RegisteredSessionData>(
  options?: FetchSessionOptions<NoInfer<Data>>,
): FetchSessions<Data>;
export function createFetchSessions(options: FetchSessionOptions<object> = {}): FetchSessions<object> {
  return new FetchSessions<object>(options);
}
