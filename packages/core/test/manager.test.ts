import { generateId, SessionManager, StorageMemory, sign } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { forwardedHttps, readCookie } from '../src/cookie.js';
import { CountingStorage, cookieOf, SECRET } from './helpers.js';

async function storedId(manager: SessionManager): Promise<string> {
  const s = manager.session();
  await s.set('a', 1);
  await manager.commit(s);
  return s.id;
}

describe('incoming cookie and header', () => {
  const valid = generateId();
  it.each([
    ['empty value', 'sid='],
    ['too short', 'sid=abc'],
    ['path traversal', 'sid=..%2F..%2Fetc%2Fpasswd'],
    ['a dot (signed-looking) without secrets', `sid=${valid}.abc`],
    ['spaces and quotes', `sid="${valid} x"`],
    ['a newline', `sid=${valid}%0A`],
    ['bad percent-encoding', `sid=%E0%A4%A${valid}`],
    ['non-ASCII', `sid=${valid.slice(0, 30)}%C3%A9`],
    ['over 512 characters', `sid=${'a'.repeat(600)}`],
    ['257 valid characters', `sid=${'a'.repeat(257)}`],
    ['only another cookie', `other=${valid}`],
    ['a prefix of the name', `xsid=${valid}`],
    ['garbage header', ';;;==;sid'],
  ])('malformed cookie (%s) makes no storage call and counts as no session', async (_, cookie) => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const s = manager.session({ cookie });
    expect(await s.data()).toEqual({});
    expect(await s.get('a')).toBeUndefined();
    expect((await manager.commit(s)).setCookie).toBeUndefined();
    expect(storage.count()).toBe(0);
  });

  it('malformed signed cookies make no storage call either', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    for (const cookie of [`sid=${valid}`, `sid=${valid}.`, `sid=.${valid}`, `sid=${sign('short', SECRET)}`]) {
      const s = manager.session({ cookie });
      expect(await s.data()).toEqual({});
    }
    expect(storage.count()).toBe(0);
  });

  it('destroy() expires a forged or malformed cookie too, still without a storage call', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    for (const cookie of [
      `sid=${valid}`,
      `sid=${sign(valid, 'another secret of 32 characters!')}`,
      'sid=..%2F',
    ]) {
      const s = manager.session({ cookie });
      await s.destroy();
      const { setCookie } = await manager.commit(s);
      expect(setCookie).toMatch(/^sid=; /);
      expect(setCookie).toMatch(/Max-Age=0/);
    }
    // No cookie at all: nothing to expire.
    const none = manager.session({ cookie: 'theme=dark' });
    await none.destroy();
    expect((await manager.commit(none)).setCookie).toBeUndefined();
    expect(storage.count()).toBe(0);
  });

  it('finds the session cookie among others', async () => {
    const manager = new SessionManager();
    const id = await storedId(manager);
    const s = manager.session({ cookie: `theme=dark; sid=${id}; lang=en` });
    expect(await s.get('a')).toBe(1);
    expect(readCookie(undefined, 'sid')).toBeUndefined();
    expect(readCookie('', 'sid')).toBeUndefined();
  });

  it('uses the configured cookie name', async () => {
    const manager = new SessionManager({ cookie: { name: 'app.sid' } });
    const s = manager.session();
    await s.set('a', 1);
    const { setCookie } = await manager.commit(s);
    expect(cookieOf(setCookie)).toBe(`app.sid=${s.id}`);
    expect(await manager.session({ cookie: `sid=${s.id}` }).get('a')).toBeUndefined();
    expect(await manager.session({ cookie: cookieOf(setCookie) }).get('a')).toBe(1);
  });
});

describe('Set-Cookie', () => {
  it('defaults: HttpOnly, SameSite=Lax, Path=/, not Secure, a browser-session cookie (no Max-Age)', async () => {
    const manager = new SessionManager();
    const s = manager.session();
    await s.set('a', 1);
    const { setCookie, headers } = await manager.commit(s);
    expect(setCookie).toBe(`sid=${s.id}; Path=/; HttpOnly; SameSite=Lax`);
    expect(headers).toEqual({});
  });

  it('every cookie option is reflected', async () => {
    const manager = new SessionManager({
      cookie: {
        name: 'k',
        path: '/p',
        domain: 'example.com',
        httpOnly: false,
        secure: true,
        sameSite: 'strict',
        partitioned: true,
      },
    });
    const s = manager.session();
    await s.set('a', 1);
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toMatch(/^k=/);
    expect(setCookie).toContain('Path=/p');
    expect(setCookie).toContain('Domain=example.com');
    expect(setCookie).not.toContain('HttpOnly');
    expect(setCookie).toContain('Secure');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Partitioned');

    const noSameSite = new SessionManager({ cookie: { sameSite: false } });
    const t = noSameSite.session();
    await t.set('a', 1);
    expect((await noSameSite.commit(t)).setCookie).not.toContain('SameSite');
  });

  it("secure 'auto' follows the request's protocol", async () => {
    const manager = new SessionManager({ cookie: { secure: 'auto' } });
    const https = manager.session({ secure: true });
    await https.set('a', 1);
    expect((await manager.commit(https)).setCookie).toContain('Secure');
    const http = manager.session({ secure: false });
    await http.set('a', 1);
    expect((await manager.commit(http)).setCookie).not.toContain('Secure');
    const unknown = manager.session();
    await unknown.set('a', 1);
    expect((await manager.commit(unknown)).setCookie).not.toContain('Secure');
  });

  it('the cookie is sent only when the id is new or changed (not on every response)', async () => {
    const manager = new SessionManager();
    const id = await storedId(manager);
    const s = manager.session({ cookie: `sid=${id}` });
    await s.set('b', 2);
    expect((await manager.commit(s)).setCookie).toBeUndefined();
  });

  it('rolling with a sub-second maxAge still sends a live cookie (Max-Age=1, not 0)', async () => {
    const manager = new SessionManager({ rolling: true, maxAge: 500 });
    const s = manager.session();
    await s.set('a', 1);
    expect((await manager.commit(s)).setCookie).toContain('Max-Age=1;');
  });

  it('rolling: a live session re-sends the cookie with Max-Age = maxAge in seconds (rounded up) on every response', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, rolling: true, maxAge: 90_500 });
    const id = await storedId(manager);
    storage.reset();
    const s = manager.session({ cookie: `sid=${id}` });
    await s.get('a');
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toBe(`sid=${id}; Max-Age=91; Path=/; HttpOnly; SameSite=Lax`);
    // A request that does not touch the session sends no cookie (its expiry was not refreshed either).
    const untouched = manager.session({ cookie: `sid=${id}` });
    expect((await manager.commit(untouched)).setCookie).toBeUndefined();
    // No session, no cookie.
    const none = manager.session({ cookie: `sid=${generateId()}` });
    await none.data();
    expect((await manager.commit(none)).setCookie).toBeUndefined();
  });
});

describe('header mode', () => {
  it('reads the id from the header before the cookie and sends new ids back in the header', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, header: 'X-Session-Id' });
    const s = manager.session();
    await s.set('a', 1);
    const first = await manager.commit(s);
    expect(first.headers).toEqual({ 'x-session-id': s.id });
    expect(cookieOf(first.setCookie)).toBe(`sid=${s.id}`);

    const byHeader = manager.session({ header: s.id });
    expect(await byHeader.get('a')).toBe(1);
    await byHeader.set('b', 2);
    const again = await manager.commit(byHeader);
    expect(again.headers).toEqual({});
    expect(again.setCookie).toBeUndefined();

    const other = await storedId(manager);
    const both = manager.session({ header: s.id, cookie: `sid=${other}` });
    expect(await both.getId()).toBe(s.id);
    const arrayHeader = manager.session({ header: [s.id, other] });
    expect(await arrayHeader.getId()).toBe(s.id);
    const emptyHeader = manager.session({ header: '', cookie: `sid=${other}` });
    expect(await emptyHeader.getId()).toBe(other);
  });

  it('a malformed header value makes no storage call', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, header: 'x-session-id' });
    const s = manager.session({ header: '../etc/passwd' });
    expect(await s.data()).toEqual({});
    expect(storage.count()).toBe(0);
  });

  it('headers are ignored when no header option is set', async () => {
    const manager = new SessionManager();
    const id = await storedId(manager);
    expect(await manager.session({ header: id }).get('a')).toBeUndefined();
  });

  it('signed header values', async () => {
    const manager = new SessionManager({ header: 'x-sid', secret: SECRET });
    const s = manager.session();
    await s.set('a', 1);
    const { headers } = await manager.commit(s);
    expect(headers['x-sid']).toBe(sign(s.id, SECRET));
    expect(await manager.session({ header: headers['x-sid'] }).get('a')).toBe(1);
    expect(await manager.session({ header: s.id }).get('a')).toBeUndefined();
  });

  it('regenerate sends the new id in the header', async () => {
    const manager = new SessionManager({ header: 'x-sid' });
    const id = await storedId(manager);
    const s = manager.session({ header: id });
    await s.regenerate();
    const { headers } = await manager.commit(s);
    expect(headers['x-sid']).toBe(s.id);
    expect(s.id).not.toBe(id);
  });
});

describe('manager', () => {
  it('close() closes the storage', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    await manager.close();
    expect(storage.count('close')).toBe(1);
    const plain = new SessionManager({
      storage: {
        load: async () => undefined,
        save: async () => {},
        touch: async () => {},
        remove: async () => {},
      },
    });
    await expect(plain.close()).resolves.toBeUndefined();
  });
});

describe('forwardedHttps', () => {
  it('reads the first X-Forwarded-Proto entry, undefined when absent', () => {
    expect(forwardedHttps('https')).toBe(true);
    expect(forwardedHttps(' HTTPS , http')).toBe(true);
    expect(forwardedHttps('http, https')).toBe(false);
    expect(forwardedHttps('')).toBeUndefined();
    expect(forwardedHttps(null)).toBeUndefined();
    expect(forwardedHttps(undefined)).toBeUndefined();
  });
});

describe('a commit with nothing to store is synchronous', () => {
  /** Whether `promise` settles within one microtask turn (the session's commit took no await). */
  async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
    let settled = false;
    void promise.then(() => {
      settled = true;
    });
    await Promise.resolve();
    return settled;
  }

  it('an untouched session, fresh or with a cookie: no storage call, settled in one microtask turn', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    const id = await storedId(manager);
    storage.reset();
    expect(await settlesAtOnce(manager.commit(manager.session()))).toBe(true);
    const withCookie = manager.session({ cookie: `sid=${sign(id, SECRET)}` });
    expect(await settlesAtOnce(manager.commit(withCookie))).toBe(true);
    expect(await settlesAtOnce(manager.save(manager.session()))).toBe(true);
    expect(await manager.commit(manager.session())).toEqual({ setCookie: undefined, headers: {} });
    expect(storage.count()).toBe(0);
  });

  it('a read-only session whose expiry needs no refresh settles at once; one that needs a touch does not', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    const cookie = `sid=${sign(await storedId(manager), SECRET)}`;
    const fresh = manager.session({ cookie });
    expect(await fresh.get('a')).toBe(1);
    expect(await settlesAtOnce(manager.commit(fresh))).toBe(true);
    expect(storage.count('touch')).toBe(0);
    // Stored with a longer lifetime than this manager's maxAge: the read sets the expiry to it.
    const shorter = new CountingStorage(storage.inner);
    const stale = new SessionManager({ storage: shorter, secret: SECRET, maxAge: 10_000 });
    const read = stale.session({ cookie });
    expect(await read.get('a')).toBe(1);
    const touched = stale.commit(read);
    expect(await settlesAtOnce(touched)).toBe(false);
    await touched;
    expect(shorter.count('touch')).toBe(1);
  });
});

describe('commitNow', () => {
  it('answers the headers themselves when nothing is stored, and a promise when the session writes', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    const cookie = `sid=${sign(await storedId(manager), SECRET)}`;
    storage.reset();
    // Never used: nothing to store, no storage call.
    expect(manager.commitNow(manager.session())).toEqual({ setCookie: undefined, headers: {} });
    // Read, with an expiry that needs no refresh: the same, after the one load.
    const read = manager.session({ cookie });
    expect(await read.get('a')).toBe(1);
    expect(manager.commitNow(read)).toEqual({ setCookie: undefined, headers: {} });
    expect(storage.count()).toBe(1);
    // A write: a promise of what commit answers.
    const written = manager.session();
    await written.set('b', 2);
    const result = manager.commitNow(written);
    expect(result).toBeInstanceOf(Promise);
    expect((await result).setCookie).toMatch(/^sid=/);
    expect(storage.count('apply') + storage.count('save')).toBe(1);
  });

  it('never throws: a failed save is a rejected promise, as with commit', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    await s.set('a', 1);
    storage.failures.set('apply', new Error('down'));
    storage.failures.set('save', new Error('down'));
    let result: unknown;
    expect(() => {
      result = manager.commitNow(s);
    }).not.toThrow();
    await expect(result).rejects.toThrow();
  });
});
