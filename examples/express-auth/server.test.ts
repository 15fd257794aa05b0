// Runs `node examples/express-auth/server.js` (the built packages, as a user's app would) on a
// private redis-server and walks Express's auth flow through it: flash on a failed login, login,
// the restricted page, logout (the logged-in id is dead), flash messages shown once.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../shared/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let redis: RedisServer;
let child: ChildProcess;
let base: string;

beforeAll(async () => {
  assertBuilt();
  redis = await startRedis();
  const port = await freePort();
  child = spawn(process.execPath, ['examples/express-auth/server.js'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      REDIS_URL: redis.url,
      SESSION_SECRET: 'example-test-secret-0123456789',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server.js exited (${code}):\n${out}`)));
  });
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  if (child?.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
});

/** A browser: keeps the connect.sid cookie, reports redirects. */
class Browser {
  cookie: string | undefined;
  async go(method: string, path: string, form?: Record<string, string>) {
    const headers: Record<string, string> = {};
    if (this.cookie !== undefined) headers.cookie = this.cookie;
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(base + path, {
      method,
      headers,
      redirect: 'manual',
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    });
    for (const line of res.headers.getSetCookie()) this.cookie = line.split(';')[0];
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  }
  get id(): string {
    const raw = decodeURIComponent(this.cookie!.slice(this.cookie!.indexOf('=') + 1));
    return raw.slice(2, raw.lastIndexOf('.'));
  }
}

const messages = (html: string) => [...html.matchAll(/<p class="msg">([^<]*)<\/p>/g)].map((m) => m[1]);

describe('examples/express-auth', () => {
  it('restricted page, failed login, login, logout, each flash message shown once', async () => {
    const b = new Browser();
    const denied = await b.go('GET', '/restricted');
    expect(denied.location).toBe('/login');
    expect(messages((await b.go('GET', '/login')).body)).toEqual(['Access denied!']);
    expect(messages((await b.go('GET', '/login')).body)).toEqual([]);

    const wrong = await b.go('POST', '/login', { username: 'tj', password: 'nope' });
    expect(wrong.location).toBe('/login');
    expect(messages((await b.go('GET', '/login')).body)).toEqual([
      'Authentication failed, please check your username and password.',
    ]);

    const before = b.id;
    const login = await b.go('POST', '/login', { username: 'tj', password: 'foobar' });
    expect(login.location).toBe('/restricted');
    expect(b.id).not.toBe(before);
    expect(await redis.cli('EXISTS', `sess:${before}`)).toBe('0');
    const stored = JSON.parse(await redis.cli('GET', `sess:${b.id}`)) as Record<string, unknown>;
    expect(stored.passport).toEqual({ user: 'tj' });
    const page = await b.go('GET', '/restricted');
    expect(page.body).toContain('Wahoo! restricted area, TJ.');
    expect(messages(page.body)).toEqual(['Welcome, TJ.']);
    expect(messages((await b.go('GET', '/restricted')).body)).toEqual([]);

    const loggedIn = b.id;
    const out = await b.go('POST', '/logout');
    expect(out.location).toBe('/login');
    expect(await redis.cli('EXISTS', `sess:${loggedIn}`)).toBe('0');
    expect(messages((await b.go('GET', '/login')).body)).toEqual(['You are logged out.']);
    expect((await b.go('GET', '/restricted')).location).toBe('/login');
  });
});
