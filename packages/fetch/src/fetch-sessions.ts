import {
  type InferSessionData,
  type ProxyOptions,
  type RegisteredSessionData,
  RequestSessions,
  type Session,
  SessionError,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import { applyCommit, errorResponse } from './fetch.js';

/** Options of the Fetch adapter that are not session options (`trustProxy`; default: the URL's protocol). */
export type FetchAdapterOptions = ProxyOptions;

/** Session options plus {@link FetchAdapterOptions}. */
export type FetchSessionOptions<Data extends object = RegisteredSessionData> = SessionOptions<Data> &
  FetchAdapterOptions;

function readRequest(request: Request): { headers: Headers; secure: boolean } {
  return { headers: request.headers, secure: request.url.startsWith('https:') };
}

/**
 * Sessions for any Web-standard `fetch(request) => Response` handler (Bun.serve, Deno.serve,
 * Next.js route handlers, Cloudflare-style workers, Hono). `session(request)` at the start,
 * `finalize(session, response)` at the end; or `handle(request, handler)` for both. `of(request)`
 * returns the session made for a request; `manager` is the core manager.
 */
export class FetchSessions<Data extends object = RegisteredSessionData> extends RequestSessions<
  Request,
  Data
> {
  constructor(options: FetchSessionOptions<Data> = {}) {
    super(options, readRequest);
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
    let response: Response;
    try {
      response = await handler(session, request);
    } catch (error) {
      if (!(error instanceof SessionError)) {
        await this.manager.commitAfterError(session);
        throw error;
      }
      this.manager.report(error, 'request');
      // After a failed handler its error response stands, with the cookie when the save worked.
      const result = await this.manager.commitAfterError(session);
      const failed = errorResponse(error);
      return result === undefined ? failed : applyCommit(failed, result);
    }
    try {
      return await this.finalize(session, response);
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      this.manager.report(error, 'commit');
      return errorResponse(error);
    }
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
