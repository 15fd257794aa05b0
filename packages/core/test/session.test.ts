import {
  generateId,
  SessionConflictError,
  SessionManager,
  SessionNotLoadedError,
  StorageMemory,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { CountingStorage, cookieOf } from './helpers.js';

async function stored(manager: SessionManager, data: Record<string, unknown>): Promise<string> {
  const s = manager.session();
  await s.setMany(data as never);
  return cookieOf((await manager.commit(s)).setCookie);
}

describe('lazy loading', () => {
  it('a request that never touches the session makes zero storage calls', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    storage.reset();
    const s = manager.session({ cookie });
    // Before a load the carried id is not known to exist: reading it throws, and does not load.
    expect(() => s.id).toThrow(SessionNotLoadedError);
    const result = await manager.commit(s);
    expect(storage.count()).toBe(0);
    expect(result.setCookie).toBeUndefined();
  });

  it('many reads cost exactly one load (also when issued concurrently)', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1, b: 2 });
    storage.reset();
    const s = manager.session({ cookie });
    const results = await Promise.all([s.get('a'), s.has('b'), s.data(), s.get('missing')]);
    expect(results).toEqual([1, true, { a: 1, b: 2 }, undefined]);
    for (let i = 0; i < 10; i++) await s.get('a');
    await s.set('c', 3);
    await s.remove('a');
    expect(storage.count('load')).toBe(1);
    await manager.commit(s);
    expect(storage.calls.map((c) => c.op)).toEqual(['load', 'apply']);
  });

  it('a new session (no cookie) makes no load at all, and one apply when written', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    expect(await s.data()).toEqual({});
    await s.set('a', 1);
    await manager.commit(s);
    expect(storage.calls.map((c) => c.op)).toEqual(['apply']);
  });

  it('a failed load is retried by the next access', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    storage.failures.set('load', new Error('boom'));
    const s = manager.session({ cookie });
    await expect(s.get('a')).rejects.toThrow(/boom/);
    storage.failures.clear();
    expect(await s.get('a')).toBe(1);
  });
});

describe('unknown ids are never adopted', () => {
  it('a well-formed id that does not exist: the first write goes to a fresh id', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const attacker = generateId();
    const s = manager.session({ cookie: `sid=${attacker}` });
    // Never the attacker's value: unreadable before the load, a fresh id after it.
    expect(() => s.id).toThrow(SessionNotLoadedError);
    expect(await s.get('x')).toBeUndefined();
    expect(s.id).not.toBe(attacker);
    await s.set('user', 'victim');
    const { setCookie } = await manager.commit(s);
    expect(s.id).not.toBe(attacker);
    expect(cookieOf(setCookie)).toBe(`sid=${s.id}`);
    expect(await storage.inner.load(attacker)).toBeUndefined();
    expect((await storage.inner.load(s.id))!.data).toEqual({ user: 'victim' });
    expect(storage.calls.find((c) => c.op === 'apply')!.id).toBe(s.id);
  });

  it('an expired session is not revived under its old id', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    const oldId = cookie.slice(4);
    await storage.remove(oldId);
    const s = manager.session({ cookie });
    await s.set('b', 2);
    await manager.commit(s);
    expect(s.id).not.toBe(oldId);
    expect(await storage.load(oldId)).toBeUndefined();
  });

  it('removing keys of a session that does not exist writes nothing and sends no cookie', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const s = manager.session({ cookie: `sid=${generateId()}` });
    await s.remove('a', 'b');
    expect((await manager.commit(s)).setCookie).toBeUndefined();
    expect(storage.calls.map((c) => c.op)).toEqual(['load']);
  });

  it('sessionById loads a known id, and ignores a malformed one', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { job: 'x' });
    expect(await manager.sessionById(cookie.slice(4)).get('job')).toBe('x');
    storage.reset();
    const bad = manager.sessionById('../../etc/passwd');
    expect(await bad.data()).toEqual({});
    expect(storage.count()).toBe(0);
  });
});

describe('expiry refresh', () => {
  it('a read-only request skips touch while the stored expiry is recent', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, maxAge: 60_000 });
    const cookie = await stored(manager, { a: 1 });
    storage.reset();
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    await manager.commit(s);
    expect(storage.calls.map((c) => c.op)).toEqual(['load']);
  });

  it('a read-only request touches when the stored expiry fell behind by more than refreshWindow', async () => {
    let now = 1_000_000;
    const storage = new CountingStorage(new StorageMemory({ now: () => now }));
    const manager = new SessionManager({ storage, maxAge: 60_000, refreshWindow: 6_000 });
    const cookie = await stored(manager, { a: 1 });
    // core compares the storage's expiresAt with the real clock: move the storage clock back.
    now -= 7_000;
    storage.reset();
    const s = manager.session({ cookie });
    expect(await s.get('a')).toBe(1);
    await manager.commit(s);
    expect(storage.calls.map((c) => c.op)).toEqual(['load', 'touch']);
  });

  it('touches when the storage does not report expiresAt', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, maxAge: 60_000 });
    const cookie = await stored(manager, { a: 1 });
    const inner = storage.inner;
    const load = inner.load.bind(inner);
    inner.load = async (id: string) => {
      const r = await load(id);
      return r === undefined ? undefined : { data: r.data };
    };
    storage.reset();
    const s = manager.session({ cookie });
    await s.has('a');
    await manager.commit(s);
    expect(storage.calls.map((c) => c.op)).toEqual(['load', 'touch']);
  });

  it('refreshWindow 0 touches on every read-only request', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, maxAge: 60_000, refreshWindow: 0 });
    const cookie = await stored(manager, { a: 1 });
    await new Promise((r) => setTimeout(r, 5));
    storage.reset();
    const s = manager.session({ cookie });
    await s.get('a');
    await manager.commit(s);
    expect(storage.count('touch')).toBe(1);
  });
});

describe('removeAll and destroy', () => {
  it('removeAll deletes the record now; the cookie is left alone; a later write starts a fresh id', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    const oldId = cookie.slice(4);
    const s = manager.session({ cookie });
    await s.removeAll();
    expect(await storage.inner.load(oldId)).toBeUndefined();
    expect(await s.data()).toEqual({});
    expect((await manager.commit(s)).setCookie).toBeUndefined();

    const t = manager.session({ cookie });
    await t.removeAll();
    await t.set('b', 2);
    const { setCookie } = await manager.commit(t);
    expect(t.id).not.toBe(oldId);
    expect(cookieOf(setCookie)).toBe(`sid=${t.id}`);
    expect((await storage.inner.load(t.id))!.data).toEqual({ b: 2 });
  });

  it('removeAll on an untouched session removes without loading', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    storage.reset();
    const s = manager.session({ cookie });
    await s.removeAll();
    expect(storage.calls.map((c) => c.op)).toEqual(['remove']);
  });

  it('removeAll on a brand-new session makes no storage call', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const s = manager.session();
    await s.set('a', 1);
    await s.removeAll();
    await manager.commit(s);
    expect(storage.count()).toBe(0);
  });

  it('destroy removes the record and expires the cookie', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, cookie: { path: '/app', domain: 'example.com' } });
    const cookie = await stored(manager, { a: 1 });
    const s = manager.session({ cookie });
    await s.destroy();
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toMatch(/^sid=;/);
    expect(setCookie).toMatch(/Max-Age=0/);
    expect(setCookie).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    expect(setCookie).toMatch(/Path=\/app/);
    expect(setCookie).toMatch(/Domain=example\.com/);
    expect(await storage.inner.load(cookie.slice(4))).toBeUndefined();
  });

  it('destroy without an incoming cookie sends nothing; destroy then set issues a new session', async () => {
    const manager = new SessionManager();
    const s = manager.session();
    await s.destroy();
    expect((await manager.commit(s)).setCookie).toBeUndefined();

    const cookie = await stored(manager, { a: 1 });
    const t = manager.session({ cookie });
    await t.destroy();
    await t.set('fresh', true);
    const { setCookie } = await manager.commit(t);
    expect(cookieOf(setCookie)).toBe(`sid=${t.id}`);
    expect(t.id).not.toBe(cookie.slice(4));
  });
});

describe('concurrency', () => {
  it('concurrent requests changing different keys of one session all keep their changes', async () => {
    const manager = new SessionManager();
    const cookie = await stored(manager, { base: 0 });
    const sessions = Array.from({ length: 20 }, () => manager.session({ cookie }));
    await Promise.all(sessions.map((s) => s.data()));
    await Promise.all(sessions.map((s, i) => s.set(`k${i}`, i)));
    await Promise.all(sessions.map((s) => manager.commit(s)));
    const data = await manager.session({ cookie }).data();
    expect(Object.keys(data)).toHaveLength(21);
    for (let i = 0; i < 20; i++) expect(data[`k${i}`]).toBe(i);
  });

  it('a session destroyed by one request is not resurrected by a concurrent stale save', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { user: 'ada' });
    const slow = manager.session({ cookie });
    expect(await slow.get('user')).toBe('ada');

    const logout = manager.session({ cookie });
    await logout.destroy();
    await manager.commit(logout);

    await slow.set('cart', ['item']);
    const result = await manager.commit(slow);
    expect(result.setCookie).toBeUndefined();
    expect(await storage.inner.load(cookie.slice(4))).toBeUndefined();
    expect(storage.inner.size).toBe(0);
  });

  it('a stale read-only request does not resurrect a destroyed session either', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage, refreshWindow: 0 });
    const cookie = await stored(manager, { user: 'ada' });
    const slow = manager.session({ cookie });
    await slow.get('user');
    await storage.remove(cookie.slice(4));
    await manager.commit(slow);
    expect(storage.size).toBe(0);
  });
});

describe('a change set that changes nothing writes nothing', () => {
  it('remove() of keys not set makes no apply; real changes still do', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const first = manager.session();
    await first.setMany({ user: 'ann', flash: { info: ['hi'] } });
    const cookie = cookieOf((await manager.commit(first)).setCookie);

    storage.reset();
    const s = manager.session({ cookie });
    await s.remove('absent', 'also-absent');
    expect(await s.data()).toEqual({ user: 'ann', flash: { info: ['hi'] } });
    await manager.commit(s);
    expect(storage.count('apply')).toBe(0);
    expect(storage.count('save')).toBe(0);

    // Removing a key set earlier in the same request still removes it; changing a value writes.
    const t = manager.session({ cookie });
    await t.set('new', 1);
    await t.remove('new', 'flash');
    await t.set('user', 'bob');
    await manager.commit(t);
    expect(storage.count('apply')).toBe(1);
    expect((await storage.inner.load(first.id))!.data).toEqual({ user: 'bob' });
  });

  it('an object read, changed in place and set again is written (set() is never skipped as a no-op)', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const first = manager.session();
    await first.set('cart', { items: ['a'] });
    const cookie = cookieOf((await manager.commit(first)).setCookie);
    const s = manager.session({ cookie });
    const cart = (await s.get('cart')) as { items: string[] };
    cart.items.push('b');
    await s.set('cart', cart);
    await manager.commit(s);
    expect((await storage.inner.load(first.id))!.data).toEqual({ cart: { items: ['a', 'b'] } });
  });
});

describe('regenerate() races (issue 14)', () => {
  it('a write racing regenerate() is refused with SessionConflictError (409), never lost silently', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { user: 'ann' });
    const w = manager.session({ cookie });
    await w.get('user');
    await w.set('cart', ['book']);
    const g = manager.session({ cookie });
    await g.regenerate();
    const newCookie = cookieOf((await manager.commit(g)).setCookie);
    const error = await manager.commit(w).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionConflictError);
    expect(error).toMatchObject({ name: 'SessionConflictError', code: 'SESSION_CONFLICT', status: 409 });
    expect(await manager.session({ cookie: newCookie }).data()).toEqual({ user: 'ann' });
    expect(await manager.session({ cookie }).data()).toEqual({});
  });

  it('regenerate() after a concurrent destroy() yields an empty session, never the old data', async () => {
    const storage = new StorageMemory();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { user: 'ann' });
    const r = manager.session({ cookie });
    await r.get('user');
    const d = manager.session({ cookie });
    await d.destroy();
    await manager.commit(d);
    await r.regenerate();
    expect(await r.data()).toEqual({});
    expect((await manager.commit(r)).setCookie).toBeUndefined();
    expect(storage.size).toBe(0);
  });
});

describe('session.id is never an id not known to be live (issue 14, item 11)', () => {
  it('before a load it throws SessionNotLoadedError; getId() loads first; after a load it is the live id', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage });
    const cookie = await stored(manager, { a: 1 });
    const live = cookie.slice(4);
    const s = manager.session({ cookie });
    const error = (() => {
      try {
        return s.id;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SessionNotLoadedError);
    expect(error).toMatchObject({ code: 'SESSION_NOT_LOADED', status: 500 });
    storage.reset();
    expect(await s.getId()).toBe(live);
    expect(storage.count('load')).toBe(1);
    expect(s.id).toBe(live);
    // An id the storage does not know is replaced, never echoed back.
    const planted = generateId();
    const p = manager.session({ cookie: `sid=${planted}` });
    const id = await p.getId();
    expect(id).not.toBe(planted);
    expect(p.id).toBe(id);
    // A new session (no id carried) has a readable fresh id at once.
    expect(manager.session().id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
  });
});
