import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  type CommitResult,
  type InferSessionData,
  type ProxyOptions,
  type RegisteredSessionData,
  RequestSessions,
  type Session,
  SessionError,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';

/** Options of the node:http adapter that are not session options (`trustProxy`; default: HTTPS when the socket is TLS). */
export type NodeAdapterOptions = ProxyOptions;

/** Session options plus {@link NodeAdapterOptions}. */
export type NodeSessionOptions<Data extends object = RegisteredSessionData> = SessionOptions<Data> &
  NodeAdapterOptions;

/**
 * What {@link NodeSessions.handler} calls: set status and headers on `res`, return the body (or
 * nothing). Do not call `res.end()` or write the body yourself: the wrapper saves first, then sends.
 */
export type NodeSessionHandler<Data extends object> = (
  req: IncomingMessage,
  res: ServerResponse,
  session: Session<Data>,
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers that send no body just return
) => string | Uint8Array | undefined | void | Promise<string | Uint8Array | undefined | void>;

/** Where {@link NodeSessions.handler} sends errors; it must answer `res`. */
export type NodeErrorHandler = (error: unknown, req: IncomingMessage, res: ServerResponse) => void;

function readRequest(req: IncomingMessage): { headers: IncomingMessage['headers']; secure: boolean } {
  return { headers: req.headers, secure: (req.socket as Partial<TLSSocket>).encrypted === true };
}

function setHeaders(res: ServerResponse, { setCookie, headers }: CommitResult): void {
  if (setCookie !== undefined) res.appendHeader('set-cookie', setCookie);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}

/** Answers a plain-text error: the error's `status` for a SessionError (503: storage down), else 500. */
function defaultErrorHandler(error: unknown, _req: IncomingMessage, res: ServerResponse): void {
  const status = error instanceof SessionError ? error.status : 500;
  if (status >= 500) console.error('[kv-session] request failed:', error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text =
    error instanceof SessionError && error.expose ? error.message : (STATUS_CODES[status] ?? 'Error');
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

/**
 * Sessions for plain `node:http` / `node:https` servers: `session(req)` at the start of a request,
 * `await commit(session, res)` before `res.end()`; or `handler(fn)` to do both. `of(req)` returns the
 * session made for a request; `manager` is the core manager.
 */
export class NodeSessions<Data extends object = RegisteredSessionData> extends RequestSessions<
  IncomingMessage,
  Data
> {
  constructor(options: NodeSessionOptions<Data> = {}) {
    super(options, readRequest);
  }

  /**
   * Saves the session (or refreshes its expiry) and sets `Set-Cookie` and the id header on `res`.
   * Await it before `res.end()`. Rejects with a `SessionError` (`status` 503 when storage is
   * unavailable), and with an `Error` when the response headers were already sent (nothing is saved).
   */
  async commit(session: Session<Data>, res: ServerResponse): Promise<void> {
    if (res.headersSent) {
      throw new Error('kv-session: commit() must be awaited before the response headers are sent');
    }
    setHeaders(res, await this.manager.commit(session));
  }

  /**
   * Wraps a handler into a `(req, res)` request listener: runs it with the session, saves, then ends
   * the response with the body it returned. Errors (thrown by the handler or the save) go to
   * `onError`, which by default answers `error.status` (503 when storage is unavailable) or 500.
   * When the handler throws, its writes are still saved first and the cookie goes out with the
   * error response (a save failure then is reported through the `onError` session option).
   */
  handler(
    fn: NodeSessionHandler<Data>,
    onError: NodeErrorHandler = defaultErrorHandler,
  ): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return async (req, res) => {
      let session: Session<Data> | undefined;
      let saving = false;
      try {
        session = this.session(req);
        const body = await fn(req, res, session);
        saving = true;
        await this.commit(session, res);
        res.end(body ?? undefined);
      } catch (error) {
        if (!saving && session !== undefined && !res.headersSent) {
          // The handler failed: keep its writes and send the cookie with the error response, like
          // the other adapters. The handler's error wins; a save failure now is only reported.
          const result = await this.manager.commitAfterError(session);
          if (result !== undefined) setHeaders(res, result);
        }
        try {
          onError(error, req, res);
        } catch (failure) {
          // A throwing error handler must not become an unhandled rejection (which ends the process).
          console.error('[kv-session] error handler failed:', failure);
          res.destroy();
        }
      }
    };
  }
}

/**
 * Creates {@link NodeSessions}; options are validated here (throws `ConfigError`). With a `schema`
 * option the data type is inferred from it.
 */
export function createNodeSessions<S extends SessionSchema>(
  options: NodeSessionOptions<InferSessionData<S>> & { schema: S },
): NodeSessions<InferSessionData<S>>;
/** Creates {@link NodeSessions}; `Data` types the sessions. */
export function createNodeSessions<Data extends object = RegisteredSessionData>(
  options?: NodeSessionOptions<NoInfer<Data>>,
): NodeSessions<Data>;
export function createNodeSessions(options: NodeSessionOptions<object> = {}): NodeSessions<object> {
  return new NodeSessions<object>(options);
}
