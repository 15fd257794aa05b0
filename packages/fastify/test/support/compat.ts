import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** A response as the compat tests see it. */
export interface JarReply {
  status: number;
  body: string;
  location: string | null;
  setCookies: string[];
}

/**
 * A browser-like client: one cookie jar, redirects not followed (so each hop is a request the test
 * sees). Expired cookies leave the jar, as in a browser.
 */
export class Jar {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async get(path: string): Promise<JarReply> {
    return this.request('GET', path);
  }

  async post(path: string, body: unknown): Promise<JarReply> {
    return this.request('POST', path, body);
  }

  async request(method: string, path: string, body?: unknown): Promise<JarReply> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method,
      headers,
      redirect: 'manual',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired = /max-age=0/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, body: text, location: res.headers.get('location'), setCookies };
  }

  /** A second client holding the same cookies (another tab of the same browser). */
  clone(base = this.base): Jar {
    const other = new Jar(base);
    for (const [k, v] of this.cookies) other.cookies.set(k, v);
    return other;
  }
}

/** Listens on 127.0.0.1 and returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/**
 * Seeds a session, then sets `count` different keys of it in concurrent requests (`/set?k&v&delay`:
 * the delay widens each request's load-to-save window so that they all overlap). Returns how many
 * of the keys a later `/get` sees.
 */
export async function concurrentWrites(jar: Jar, count = 50): Promise<number> {
  await jar.get('/set?k=seed&v=0');
  const replies = await Promise.all(
    Array.from({ length: count }, (_, n) => jar.clone().get(`/set?k=key${n}&v=${n}&delay=30`)),
  );
  for (const r of replies) if (r.status !== 200) throw new Error(`write failed: ${r.status} ${r.body}`);
  const data = JSON.parse((await jar.get('/get')).body) as Record<string, unknown>;
  return Array.from({ length: count }, (_, n) => n).filter((n) => data[`key${n}`] === String(n)).length;
}

/** A promise that a test resolves when it chooses: holds a request open at a known point. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open: () => void = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
