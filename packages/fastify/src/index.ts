import { STATUS_CODES } from 'node:http';
import {
  type CommitResult,
  type InferSessionData,
  type RegisteredSessionData,
  type Session,
  type SessionData,
  SessionError,
  SessionManager,
  type SessionOptions,
  type SessionSchema,
} from '@kv-session/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The shape of `request.session` data. Empty by default (any key, JSON values); augment it to type
 * your keys: `declare module '@kv-session/fastify' { interface AppSessionData { userId: string } }`.
 */
export interface AppSessionData extends SessionData {}

/**
 * The data type of `request.session`: core's registered `SessionTypes['data']` when the app declared one
 * (unknown keys are then type errors), else {@link AppSessionData}.
 */
export type RequestSessionData = RegisteredSessionData<AppSessionData>;

export type { FastifyRequestSession } from './request-session.js';

declare module 'fastify' {
  interface KvSessionApis {
    /** `request.session` as the `@kv-session/fastify` plugin sets it (see docs/fastify.md on /compat). */
    // Spelt out: inside this block `Session` would name the compat's data interface in `fastify`.
    native: import('@kv-session/core').Session<RequestSessionData>;
  }
  interface FastifyInstance {
    /** The session manager of the `@kv-session/fastify` plugin. */
    sessionManager: SessionManager<RequestSessionData>;
  }
}

/** Options of the {@link session} plugin: the shared kv-session options (see docs/core.md). */
export type FastifySessionOptions = SessionOptions<RequestSessionData>;

/** The plugin returned by {@link sessionPlugin}: register it without options. */
export type SessionPlugin<Data extends object = RequestSessionData> = FastifyPluginAsync & {
  /** The session manager (validated options, `sessionById()` for use outside requests). */
  readonly manager: SessionManager<Data>;
  /**
   * `request.session` typed with this plugin's data type (the `schema`'s output when it has one).
   * Throws when the plugin has not run for `request`.
   */
  of(request: FastifyRequest): Session<Data>;
  /** Closes the storage (the plugin also closes it when the app closes). */
  close(): Promise<void>;
};

/** SessionErrors not safe to show (`expose` false) that are being answered, by request. */
const failures = new WeakMap<FastifyRequest, SessionError>();

/**
 * Fastify's error serialization (`{ statusCode, code, error, message }`, from its default error
 * handler or a `reply.send(error)`) with the message of `failure` replaced by the status text: the
 * message names internals (a Redis timeout, a Lua error) and belongs in logs, not in responses.
 * Any other payload (an error handler's own body) is left as it is.
 */
function withoutDetail(payload: unknown, failure: SessionError, status: number): string | undefined {
  if (typeof payload !== 'string' || !payload.includes('"message"')) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (
    typeof body !== 'object' ||
    body === null ||
    (body as { message?: unknown }).message !== failure.message
  ) {
    return undefined;
  }
  return JSON.stringify({ ...body, message: STATUS_CODES[status] ?? 'Error' });
}

/** The request's session once the handler touched `request.session` (null until then). */
const SESSION = Symbol.for('kv-session.fastify.session');
/**
 * The request's session was committed (onSend runs again for the error response of a failed save).
 * A field decorated on every request rather than a `WeakSet` entry: no entry per request for the
 * garbage collector to process.
 */
const COMMITTED = Symbol.for('kv-session.fastify.committed');

interface LazyRequest {
  [SESSION]: Session<RequestSessionData> | null;
  [COMMITTED]: boolean;
}

/** Adds `request.session` to `app`, with sessions from `manager`. */
function install(app: FastifyInstance, manager: SessionManager<RequestSessionData>): void {
  app.decorate('sessionManager', manager);
  // No onRequest hook: the session (cookie parsing and signature check included) is made on the
  // first read of `request.session`, so a route that never touches it pays for nothing.
  app.decorateRequest(SESSION as unknown as string, null);
  app.decorateRequest(COMMITTED as unknown as string, false);
  app.decorateRequest('session', {
    getter(this: FastifyRequest): Session<RequestSessionData> {
      const lazy = this as unknown as LazyRequest;
      let s = lazy[SESSION];
      if (s === null) {
        s = manager.sessionFromHeaders(this.headers, { secure: this.protocol === 'https' });
        lazy[SESSION] = s;
      }
      return s;
    },
    setter(this: FastifyRequest, value: Session<RequestSessionData>) {
      (this as unknown as LazyRequest)[SESSION] = value;
    },
  } as unknown as Session<RequestSessionData>);
  app.addHook('onClose', () => manager.close());

  // An async handler that calls `reply.send(x)` without `return reply` resolves (undefined) while
  // the save below is still running, and Fastify then sends a second, empty reply without the
  // cookie. Such a handler's promise is made to wait for the reply started by its own send (a Reply
  // is a thenable that settles once the response is finished), so Fastify sees it sent, as with
  // `return reply`. Other handlers' results pass through unchanged.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      const result: unknown = handler.call(this, request, reply);
      if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') return result;
      return (result as PromiseLike<unknown>).then((value) =>
        value === undefined && (request as unknown as LazyRequest)[COMMITTED] && !reply.sent ? reply : value,
      );
    };
  });

  // onSend runs before the payload is written, so the save completes before the response leaves.
  // It runs again for the error response when the save fails: commit once per request.
  app.addHook('onError', async (request, _reply, error) => {
    if (error instanceof SessionError && !error.expose) failures.set(request, error);
  });

  // Not async: an untouched session (and no failure to hide) finishes synchronously.
  app.addHook('onSend', (request, reply, payload, done) => {
    const lazy = request as unknown as LazyRequest;
    const s = lazy[SESSION];
    if (s !== null && !lazy[COMMITTED]) {
      lazy[COMMITTED] = true;
      // A session with nothing to store commits synchronously (no promise, no extra tick).
      const result = manager.commitNow(s);
      if (result instanceof Promise) {
        result.then(
          (headers) => sendWith(headers, request, reply, payload, done),
          (error: unknown) => done(error as Error),
        );
      } else {
        sendWith(result, request, reply, payload, done);
      }
      return;
    }
    hideDetail(request, reply, payload, done);
  });
}

/** The end of onSend after a commit: its headers on the reply, then {@link hideDetail}. */
function sendWith(
  { setCookie, headers }: CommitResult,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error?: Error | null, payload?: unknown) => void,
): void {
  if (setCookie !== undefined) reply.header('set-cookie', setCookie);
  reply.headers(headers);
  hideDetail(request, reply, payload, done);
}

/** The end of onSend: a non-exposed SessionError's message is replaced by the status text. */
function hideDetail(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error?: Error | null, payload?: unknown) => void,
): void {
  const failure = failures.get(request);
  const generic = failure === undefined ? undefined : withoutDetail(payload, failure, reply.statusCode);
  if (generic === undefined) {
    done(null, payload);
    return;
  }
  reply.header('content-length', Buffer.byteLength(generic));
  done(null, generic);
}

const plugin: FastifyPluginAsync<FastifySessionOptions> = async (app, options) => {
  install(app, new SessionManager<RequestSessionData>(options));
};

const fpOptions = { fastify: '5.x', name: '@kv-session/fastify' } as const;

/**
 * Fastify 5 plugin giving `request.session`: `app.register(session, options)`. A session is made on
 * the first read of `request.session` (no I/O; a route that never reads it costs nothing) and saved
 * in `onSend`, before the payload is sent; a failed save goes to
 * Fastify's error handler with the `SessionError`'s `statusCode` (503 when storage is unavailable).
 * `cookie.secure: 'auto'` follows `request.protocol` (set `trustProxy` behind a proxy).
 */
export const session = fp(plugin, fpOptions);

/**
 * The {@link session} plugin bound to `options` (validated here, throws `ConfigError`), with its
 * `manager` and `of(request)`: `const kv = sessionPlugin({ schema }); app.register(kv);` then
 * `kv.of(request)` is the session typed by the schema.
 */
export function sessionPlugin<S extends SessionSchema>(
  options: SessionOptions<InferSessionData<S>> & { schema: S },
): SessionPlugin<InferSessionData<S>>;
/** The {@link session} plugin bound to `options`; `Data` types `kv.of(request)` and `kv.manager`. */
export function sessionPlugin<Data extends object = RequestSessionData>(
  options?: SessionOptions<NoInfer<Data>>,
): SessionPlugin<Data>;
export function sessionPlugin(options: SessionOptions<object> = {}): SessionPlugin<object> {
  const manager = new SessionManager<object>(options);
  const bound: FastifyPluginAsync = async (app) => {
    install(app, manager as unknown as SessionManager<RequestSessionData>);
  };
  const of = (request: FastifyRequest): Session<object> => {
    if (request.session === null || request.session === undefined) {
      throw new Error('kv-session: the session plugin has not run for this request');
    }
    return request.session as unknown as Session<object>;
  };
  return Object.assign(fp(bound, fpOptions), { manager, of, close: () => manager.close() });
}

export default session;
