// Shared by the express-session drop-in tests: a cookie-jar HTTP client that does not follow
// redirects, an HTTP listener on 127.0.0.1, and reading the session id out of a cookie.
import type { RequestListener, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const SECRET = 'compat-test-secret-0123456789abcdef';

export interface Reply {
  status: number;
  body: string;
  location: string | null;
  setCookies: string[];
}

/** A browser-like client: keeps cookies, sends forms, reports redirects instead of following them. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  /** The jar's value of `name` (URL-encoded, as on the wire). */
  cookie(name = 'connect.sid'): string | undefined {
    return this.cookies.get(name);
  }

  async request(method: string, path: string, form?: Record<string, string>): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const init: RequestInit = { method, headers, redirect: 'manual' };
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(form).toString();
    }
    const res = await fetch(this.base + path, init);
    const body = await res.text();
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return { status: res.status, body, location: res.headers.get('location'), setCookies };
  }

  get(path: string): Promise<Reply> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string> = {}): Promise<Reply> {
    return this.request('POST', path, form);
  }
}

/** The session id inside an express-session cookie value as it travels (`s%3A<id>.<signature>`). */
export function idOf(cookieValue: string | undefined): string {
  if (cookieValue === undefined) throw new Error('no session cookie');
  const raw = decodeURIComponent(cookieValue);
  if (!raw.startsWith('s:')) throw new Error(`not an express-session cookie: ${raw}`);
  return raw.slice(2, raw.lastIndexOf('.'));
}

/** Serves `handler` (an Express app or a plain listener) on 127.0.0.1; returns its URL and a closer. */
export async function listen(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
