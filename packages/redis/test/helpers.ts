import type { SessionManager } from '@kv-session/core';

/** The part of a node-redis client with client-side caching that {@link invalidation} uses. */
interface CachingClient {
  clientSideCache?:
    | {
        on(event: 'invalidate', listener: (key: unknown) => void): unknown;
        off(event: 'invalidate', listener: (key: unknown) => void): unknown;
      }
    | undefined;
}

/** Resolves when the client's cache receives Redis's invalidation message for `key`. */
export function invalidation(client: CachingClient, key: string): Promise<void> {
  const cache = client.clientSideCache!;
  return new Promise((resolve) => {
    const listener = (k: unknown) => {
      if (k === null || String(k) === key) {
        cache.off('invalidate', listener);
        resolve();
      }
    };
    cache.on('invalidate', listener);
  });
}

/** The cookie header a browser would send back after `setCookie`. */
export function cookieFrom(setCookie: string | undefined, previous?: string): string | undefined {
  if (setCookie === undefined) return previous;
  return setCookie.split(';')[0];
}

/** The session id inside a `sid=<id>` cookie. */
export function idFrom(cookie: string | undefined): string {
  if (cookie === undefined) throw new Error('no cookie');
  return cookie.slice(cookie.indexOf('=') + 1);
}

/**
 * One request the way an adapter runs it: session() (no I/O), the handler, then commit() before the
 * response. Returns the handler's result and the cookie the browser holds afterwards.
 */
export async function request<T>(
  manager: SessionManager,
  cookie: string | undefined,
  handler: (session: ReturnType<SessionManager['session']>) => Promise<T>,
): Promise<{ result: T; cookie: string | undefined; setCookie: string | undefined }> {
  const session = manager.session({ cookie });
  const result = await handler(session);
  const { setCookie } = await manager.commit(session);
  return { result, cookie: cookieFrom(setCookie, cookie), setCookie };
}

/** An error listener, so that connection errors during tests never become unhandled events. */
export function quiet(client: { on(event: 'error', listener: (error: unknown) => void): unknown }): void {
  client.on('error', () => undefined);
}

/** `INFO commandstats` calls since the last reset, without the test's own INFO/CONFIG calls. */
export async function stats(server: {
  commandStats(): Promise<Record<string, number>>;
}): Promise<Record<string, number>> {
  const out = await server.commandStats();
  delete out['info'];
  delete out['config|resetstat'];
  return out;
}
