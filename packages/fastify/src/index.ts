import {
  type RegisteredSessionData,
  type Session,
  type SessionData,
  SessionManager,
  type SessionOptions,
} from '@kv-session/core';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
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

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session, set by the `@kv-session/fastify` plugin. */
    session: Session<RequestSessionData>;
  }
  interface FastifyInstance {
    /** The session manager of the `@kv-session/fastify` plugin. */
    sessionManager: SessionManager<RequestSessionData>;
  }
}

/** Options of the {@link session} plugin: the shared kv-session options (see docs/core.md). */
export type FastifySessionOptions = SessionOptions<RequestSessionData>;

const committed = new WeakSet<FastifyRequest>();

const plugin: FastifyPluginAsync<FastifySessionOptions> = async (app, options) => {
  const manager = new SessionManager<RequestSessionData>(options);
  const headerName = manager.options.header;
  app.decorate('sessionManager', manager);
  app.decorateRequest('session', null as unknown as Session<RequestSessionData>);
  app.addHook('onClose', () => manager.close());

  app.addHook('onRequest', async (request) => {
    request.session = manager.session({
      cookie: request.headers.cookie,
      header: headerName === undefined ? undefined : request.headers[headerName],
      secure: request.protocol === 'https',
    });
  });

  // onSend runs before the payload is written, so the save completes before the response leaves.
  // It runs again for the error response when the save fails: commit once per request.
  app.addHook('onSend', async (request, reply) => {
    if (committed.has(request) || request.session === null) return;
    committed.add(request);
    const { setCookie, headers } = await manager.commit(request.session);
    if (setCookie !== undefined) reply.header('set-cookie', setCookie);
    reply.headers(headers);
  });
};

/**
 * Fastify 5 plugin giving `request.session`: `app.register(session, options)`. Sessions are created
 * in `onRequest` (no I/O) and saved in `onSend`, before the payload is sent; a failed save goes to
 * Fastify's error handler with the `SessionError`'s `statusCode` (503 when storage is unavailable).
 * `cookie.secure: 'auto'` follows `request.protocol` (set `trustProxy` behind a proxy).
 */
export const session = fp(plugin, { fastify: '5.x', name: '@kv-session/fastify' });

export default session;
