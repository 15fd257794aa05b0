// A kv-session adapter for h3 v2, a framework kv-session does not ship an adapter for.
// docs/writing-an-adapter.md shows this file; h3-session.test.ts runs it on a real server.
import { type Session, type SessionData, SessionManager, type SessionOptions } from '@kv-session/core';
import type { H3Event, Middleware } from 'h3';

declare module 'h3' {
  interface H3EventContext {
    kvSession?: Session;
  }
}

/** `app.use(kvSession(options))`, then `useKvSession(event)` in handlers. */
export function kvSession(options: SessionOptions = {}): Middleware {
  const manager = new SessionManager(options); // validates options once
  return async (event, next) => {
    // 1. Request -> session (no I/O yet): the cookie, or the id header when configured.
    const session = manager.sessionFromHeaders(event.req.headers, {
      secure: event.url.protocol === 'https:',
    });
    event.context.kvSession = session;
    // 2. The handler runs; if it throws, nothing is saved and h3 answers the error.
    const result = await next();
    // 3. Save before the response leaves. A SessionError thrown here reaches h3's error
    //    handling, which answers its `status` (503 when storage is unavailable).
    const { setCookie, headers } = await manager.commit(session);
    // 4. Add the headers, then let h3 send the response.
    if (setCookie !== undefined) event.res.headers.append('set-cookie', setCookie);
    for (const [name, value] of Object.entries(headers)) event.res.headers.set(name, value);
    return result;
  };
}

/** The event's session (throws when the middleware is missing). */
export function useKvSession<Data extends SessionData = SessionData>(event: H3Event): Session<Data> {
  const session = event.context.kvSession;
  if (session === undefined) throw new Error('kvSession() middleware is not installed');
  return session as unknown as Session<Data>;
}
