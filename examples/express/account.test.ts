// The sign-in pages of the Express example (account.js) over HTTP, with one cookie jar per device:
// "keep me signed in" outlives the default maxAge, and one call signs a user out of every device.
import { type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, type ExampleServer, sleep, startExample } from '../shared/harness.js';

/** One browser: keeps the `sid` cookie, follows nothing (redirects are asserted). */
class Device {
  cookie: string | undefined;
  /** The Set-Cookie lines of the last answer. */
  setCookie: string[] = [];

  constructor(readonly baseUrl: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.cookie !== undefined) headers.cookie = this.cookie;
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      redirect: 'manual',
      ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    });
    this.setCookie = res.headers.getSetCookie();
    for (const line of this.setCookie) {
      this.cookie = /max-age=0/i.test(line) ? undefined : line.split(';')[0];
    }
    const body = await res.text();
    return { status: res.status, location: res.headers.get('location'), body };
  }

  signIn(username: string, password: string, remember = false) {
    return this.request('POST', '/login', { username, password, ...(remember ? { remember: 'on' } : {}) });
  }

  /** The account page as JSON, or the redirect to /login. */
  async account(): Promise<{ status: number; location: string | null; sessions?: Listed[] }> {
    const res = await this.request('GET', '/account');
    if (res.status !== 200) return res;
    return { ...res, sessions: (JSON.parse(res.body) as { sessions: Listed[] }).sessions };
  }

  get id(): string | undefined {
    return this.cookie?.slice(this.cookie.indexOf('=') + 1);
  }
}

interface Listed {
  id: string;
  created: number;
  lastActive: number;
  expiresAt: number;
  current: boolean;
}

/**
 * A private redis-server and the Express example on it, with `env` on top of `REDIS_URL`, for the
 * tests of the enclosing describe.
 */
function exampleWith(env: Record<string, string>): { redis: RedisServer; server: ExampleServer } {
  const running = {} as { redis: RedisServer; server: ExampleServer };
  beforeAll(async () => {
    assertBuilt();
    running.redis = await startRedis();
    running.server = await startExample('express', { REDIS_URL: running.redis.url, ...env });
  });
  afterAll(async () => {
    await running.server?.stop();
    await running.redis?.stop();
  });
  return running;
}

describe('Express example: keep me signed in, sign out everywhere', { timeout: 60_000 }, () => {
  // A default lifetime of 2 s, 60 s for "keep me signed in".
  const example = exampleWith({ SESSION_MAX_AGE: '2', REMEMBER_MAX_AGE: '60' });

  beforeEach(async () => {
    await example.redis.cli('FLUSHALL');
  });

  /** The session keys in Redis (the owner indexes left out). */
  async function sessionKeys(): Promise<string[]> {
    const keys = (await example.redis.cli('KEYS', 'kv-session:*')).split('\n').filter((k) => k !== '');
    return keys.filter((k) => !k.startsWith('kv-session:owner:')).sort();
  }

  it('refuses a wrong password, and a remembered session outlives the default maxAge', async () => {
    const remembered = new Device(example.server.baseUrl);
    const plain = new Device(example.server.baseUrl);

    const wrong = await plain.signIn('ada', 'nope');
    expect(wrong.status).toBe(401);
    expect(plain.cookie).toBeUndefined();

    expect(await remembered.signIn('ada', 'lovelace', true)).toMatchObject({
      status: 303,
      location: '/account',
    });
    expect(remembered.setCookie[0]).toMatch(/; Max-Age=60(;|$)/i);
    expect(await plain.signIn('ada', 'lovelace')).toMatchObject({ status: 303, location: '/account' });
    expect(plain.setCookie[0]).toMatch(/; Max-Age=2(;|$)/i);

    const ttl = async (d: Device) => Number(await example.redis.cli('PTTL', `kv-session:${d.id}`));
    expect(await ttl(remembered)).toBeGreaterThan(50_000);
    expect(await ttl(plain)).toBeLessThanOrEqual(2_000);

    // Both idle for longer than the default maxAge.
    await sleep(3_000);
    const kept = await remembered.account();
    expect(kept.status).toBe(200);
    expect(kept.sessions).toHaveLength(1);
    expect(kept.sessions![0]!.current).toBe(true);
    expect(await plain.account()).toMatchObject({ status: 303, location: '/login' });
    expect(await sessionKeys()).toEqual([`kv-session:${remembered.id}`]);
  });

  it('"sign out everywhere" ends both devices of the user with one call, and no one else', async () => {
    const laptop = new Device(example.server.baseUrl);
    const phone = new Device(example.server.baseUrl);
    const otherUser = new Device(example.server.baseUrl);
    await laptop.signIn('ada', 'lovelace', true);
    await phone.signIn('ada', 'lovelace', true);
    await otherUser.signIn('grace', 'hopper', true);
    expect(new Set([laptop.id, phone.id, otherUser.id]).size).toBe(3);

    const listed = await laptop.account();
    expect(listed.status).toBe(200);
    expect(listed.sessions).toHaveLength(2);
    // Ids are listed shortened; the caller's own is marked.
    expect(listed.sessions!.filter((s) => s.current).map((s) => s.id)).toEqual([
      `${laptop.id!.slice(0, 6)}…`,
    ]);
    expect(listed.sessions!.map((s) => s.id).sort()).toEqual(
      [laptop.id!, phone.id!].map((id) => `${id.slice(0, 6)}…`).sort(),
    );

    const out = await laptop.request('POST', '/logout/everywhere');
    expect(out).toMatchObject({ status: 303, location: '/login' });
    expect(laptop.cookie).toBeUndefined(); // the answer expired the cookie

    expect(await sessionKeys()).toEqual([`kv-session:${otherUser.id}`]);
    // The phone still sends its cookie: it finds nothing behind it.
    expect(await phone.account()).toMatchObject({ status: 303, location: '/login' });
    expect((await otherUser.account()).status).toBe(200);
  });

  it('"sign out other devices" keeps the caller signed in', async () => {
    const laptop = new Device(example.server.baseUrl);
    const phone = new Device(example.server.baseUrl);
    await laptop.signIn('ada', 'lovelace', true);
    await phone.signIn('ada', 'lovelace', true);

    expect(await phone.request('POST', '/logout/others')).toMatchObject({
      status: 303,
      location: '/account',
    });
    const after = await phone.account();
    expect(after.status).toBe(200);
    expect(after.sessions).toEqual([expect.objectContaining({ current: true })]);
    expect(await laptop.account()).toMatchObject({ status: 303, location: '/login' });
    expect(await sessionKeys()).toEqual([`kv-session:${phone.id}`]);
  });
});

describe('Express example: absolute timeout', { timeout: 60_000 }, () => {
  // Idle sessions live 2 s; any session dies 4 s after sign-in, however active.
  const example = exampleWith({ SESSION_MAX_AGE: '2', SESSION_ABSOLUTE_TIMEOUT: '4' });

  it('ends a session that is used every 300 ms once it is 4 s old, and expires its cookie', async () => {
    const device = new Device(example.server.baseUrl);
    const signedIn = Date.now();
    await device.signIn('ada', 'lovelace', true);
    const key = `kv-session:${device.id}`;
    const created = JSON.parse(await example.redis.cli('GET', key)).__kv.created as number;
    expect(created).toBeGreaterThanOrEqual(signedIn - 1000);

    // Used all along, and remembered (a 30-day idle lifetime): only the absolute timeout can end it.
    let answer = await device.account();
    let lastAlive = 0;
    while (answer.status === 200 && Date.now() < created + 8_000) {
      lastAlive = Date.now();
      await sleep(300);
      answer = await device.account();
    }
    expect(answer).toMatchObject({ status: 303, location: '/login' });
    // It lived past the default idle lifetime, and died at (not before) the absolute timeout.
    expect(lastAlive - created).toBeGreaterThan(2_500);
    expect(Date.now() - created).toBeGreaterThanOrEqual(4_000);
    expect(device.cookie).toBeUndefined(); // the answer expired it
    expect(await example.redis.cli('EXISTS', key)).toBe('0');
  });
});
