import {
  ConfigError,
  META_KEY,
  SessionDataError,
  SessionManager,
  type SessionOptions,
  StorageCapabilityError,
  StorageMemory,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CountingStorage, cookieOf } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request: runs `fn` on the session of `cookie`, commits; the new cookie (or the old one) and Set-Cookie. */
async function request(
  m: SessionManager,
  cookie: string | undefined,
  fn: (s: ReturnType<SessionManager['session']>) => Promise<unknown>,
) {
  const s = m.session(cookie === undefined ? {} : { cookie });
  const result = await fn(s);
  const { setCookie } = await m.commit(s);
  const next = setCookie === undefined || /Max-Age=0/.test(setCookie) ? cookie : cookieOf(setCookie);
  return { session: s, setCookie, cookie: next, result };
}

function maxAgeOf(setCookie: string | undefined): number | undefined {
  const m = /Max-Age=(\d+)/.exec(setCookie ?? '');
  return m === null ? undefined : Number(m[1]);
}

describe('__kv metadata is hidden from the app and protected', () => {
  it('get, has and data() never show it; set, setMany and remove of it throw SessionDataError and change nothing', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const { cookie, session } = await request(m, undefined, async (s) => {
      await s.set('user', 'ada');
      await s.setOwner('user-1');
    });
    // Stored as a plain JSON field of the record, beside the data.
    const stored = (await storage.load(session.id))!.data;
    expect(stored).toMatchObject({ user: 'ada', [META_KEY]: { owner: 'user-1' } });
    expect((stored[META_KEY] as { created: number }).created).toBeTypeOf('number');

    const s = m.session({ cookie: cookie! });
    expect(await s.get(META_KEY)).toBeUndefined();
    expect(await s.has(META_KEY)).toBe(false);
    expect(await s.data()).toEqual({ user: 'ada' });
    await expect(s.set(META_KEY, { owner: 'mallory' })).rejects.toBeInstanceOf(SessionDataError);
    await expect(s.setMany({ a: 1, [META_KEY]: {} })).rejects.toBeInstanceOf(SessionDataError);
    await expect(s.remove(META_KEY)).rejects.toBeInstanceOf(SessionDataError);
    expect(await s.data()).toEqual({ user: 'ada' });
    await m.commit(s);
    expect((await storage.load(session.id))!.data).toEqual(stored);
    expect(s.owner).toBe('user-1');
  });

  it('a schema never sees it: no off-schema report, data() typed by the schema alone', async () => {
    const errors: unknown[] = [];
    const m = new SessionManager({
      storage: new StorageMemory(),
      schema: z.object({ user: z.string() }),
      onError: (e) => errors.push(e),
    });
    const { cookie } = await request(m, undefined, async (s) => {
      await s.set('user', 'ada');
      await s.setOwner('user-1');
    });
    expect(await m.session({ cookie: cookie! }).data()).toEqual({ user: 'ada' });
    expect(errors).toEqual([]);
  });

  it('an app that uses no lifecycle feature stores no __kv (records stay exactly its data)', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const { session } = await request(m, undefined, (s) => s.set('a', 1));
    expect((await storage.load(session.id))!.data).toEqual({ a: 1 });
  });

  it('a hand-edited __kv of the wrong shape is ignored field by field, not an error', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 60_000 });
    const { session, cookie } = await request(m, undefined, (s) => s.set('a', 1));
    await storage.save(
      session.id,
      { a: 1, [META_KEY]: { created: 'yesterday', maxAge: -5, owner: 7 } },
      60_000,
    );
    const s = m.session({ cookie: cookie! });
    expect(await s.data()).toEqual({ a: 1 });
    expect(s.maxAge).toBe(60_000);
    expect(s.owner).toBeUndefined();
  });
});

describe('absoluteTimeout', () => {
  it('ends an active session: reads are empty, the record is deleted, the cookie expired', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 10_000, absoluteTimeout: 300 });
    let { cookie, session } = await request(m, undefined, (s) => s.set('user', 'ada'));
    const id = session.id;
    // Used every 100 ms (well within maxAge), and still alive before 300 ms.
    for (let i = 0; i < 2; i++) {
      await sleep(100);
      const r = await request(m, cookie, (s) => s.get('user'));
      expect(r.result).toBe('ada');
      cookie = r.cookie;
    }
    await sleep(150);
    const last = await request(m, cookie, (s) => s.get('user'));
    expect(last.result).toBeUndefined();
    expect(last.setCookie).toMatch(/Max-Age=0/);
    expect(await storage.load(id)).toBeUndefined();
  });

  it('a record past its deadline that is still stored (a longer TTL) is deleted on read', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 60_000, absoluteTimeout: 300 });
    const { cookie, session } = await request(m, undefined, (s) => s.set('user', 'ada'));
    // As if created long ago (an operator's edit, or a TTL set before the option was lowered).
    await storage.save(session.id, { user: 'ada', [META_KEY]: { created: Date.now() - 1_000 } }, 60_000);
    const r = await request(m, cookie, (s) => s.data());
    expect(r.result).toEqual({});
    expect(r.setCookie).toMatch(/Max-Age=0/);
    expect(await storage.load(session.id)).toBeUndefined();
  });

  it('bounds the stored expiry and setMaxAge(): never past created + absoluteTimeout', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 60_000, absoluteTimeout: 5_000 });
    const before = Date.now();
    const { session } = await request(m, undefined, async (s) => {
      await s.set('a', 1);
      await s.setMaxAge(30 * 86_400_000);
    });
    const peeked = (await storage.peek(session.id))!;
    expect(peeked.expiresAt).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(peeked.expiresAt).toBeGreaterThanOrEqual(before + 4_000);
    const record = (await m.getSession(session.id))!;
    expect(record.meta.maxAge).toBe(30 * 86_400_000);
    expect(record.expiresAt).toBeLessThanOrEqual(record.meta.created! + 5_000);
  });

  it('a record written before __kv counts from its first save under the option: nobody is logged out', async () => {
    const storage = new StorageMemory();
    const before = new SessionManager({ storage, maxAge: 60_000 });
    const { cookie, session } = await request(before, undefined, (s) => s.set('user', 'ada'));
    expect((await storage.load(session.id))!.data).toEqual({ user: 'ada' });
    await sleep(350);
    const m = new SessionManager({ storage, maxAge: 60_000, absoluteTimeout: 300 });
    const r = await request(m, cookie, (s) => s.get('user'));
    expect(r.result).toBe('ada');
    const created = ((await storage.load(session.id))!.data[META_KEY] as { created: number }).created;
    expect(created).toBeGreaterThanOrEqual(Date.now() - 200);
    await sleep(350);
    expect((await request(m, cookie, (s) => s.get('user'))).result).toBeUndefined();
  });

  it('survives regenerate(): the new id keeps the creation time', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 60_000, absoluteTimeout: 400 });
    const { cookie } = await request(m, undefined, (s) => s.set('user', 'ada'));
    await sleep(200);
    const r = await request(m, cookie, (s) => s.regenerate());
    expect(r.cookie).not.toBe(cookie);
    await sleep(250);
    expect((await request(m, r.cookie, (s) => s.get('user'))).result).toBeUndefined();
  });
});

describe('setMaxAge is kept with the session', () => {
  it('a remembered session outlives the default maxAge; another one does not', async () => {
    const m = new SessionManager({ storage: new StorageMemory(), maxAge: 200 });
    const remembered = await request(m, undefined, async (s) => {
      await s.set('user', 'ada');
      await s.setMaxAge(5_000);
    });
    const plain = await request(m, undefined, (s) => s.set('user', 'bob'));
    await sleep(350);
    expect((await request(m, remembered.cookie, (s) => s.get('user'))).result).toBe('ada');
    expect((await request(m, plain.cookie, (s) => s.get('user'))).result).toBeUndefined();
  });

  it('survives regenerate()', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 200 });
    const first = await request(m, undefined, async (s) => {
      await s.set('user', 'ada');
      await s.setMaxAge(5_000);
    });
    const r = await request(m, first.cookie, (s) => s.regenerate());
    expect(r.session.maxAge).toBe(5_000);
    await sleep(350);
    const later = await request(m, r.cookie, (s) => s.get('user'));
    expect(later.result).toBe('ada');
    expect(later.session.maxAge).toBe(5_000);
  });
});

describe('cookie.persistent', () => {
  const options: SessionOptions = { maxAge: 10_000, refreshWindow: 300, cookie: { persistent: true } };

  it('sends Max-Age (the session lifetime), re-sent at most once per refresh window of use', async () => {
    const m = new SessionManager({ storage: new StorageMemory(), ...options });
    const first = await request(m, undefined, (s) => s.set('a', 1));
    expect(maxAgeOf(first.setCookie)).toBe(10);
    // Within the window: no Set-Cookie, however many requests (reads or writes).
    for (let i = 0; i < 3; i++) {
      const r = await request(m, first.cookie, (s) => (i === 1 ? s.set('b', i) : s.get('a')));
      expect(r.setCookie).toBeUndefined();
    }
    await sleep(350);
    const due = await request(m, first.cookie, (s) => s.get('a'));
    expect(maxAgeOf(due.setCookie)).toBe(10);
    expect((await request(m, first.cookie, (s) => s.get('a'))).setCookie).toBeUndefined();
  });

  it('setMaxAge() re-sends the cookie with the new Max-Age at once', async () => {
    const m = new SessionManager({ storage: new StorageMemory(), ...options });
    const first = await request(m, undefined, (s) => s.set('a', 1));
    const r = await request(m, first.cookie, (s) => s.setMaxAge(30 * 86_400_000));
    expect(maxAgeOf(r.setCookie)).toBe(30 * 86_400);
  });

  it('Max-Age is bounded by what absoluteTimeout leaves', async () => {
    const m = new SessionManager({ storage: new StorageMemory(), ...options, absoluteTimeout: 4_000 });
    const first = await request(m, undefined, (s) => s.set('a', 1));
    expect(maxAgeOf(first.setCookie)).toBe(4);
  });

  it('a session that never stores anything sends no cookie', async () => {
    const m = new SessionManager({ storage: new StorageMemory(), ...options });
    expect((await request(m, undefined, (s) => s.get('a'))).setCookie).toBeUndefined();
  });
});

describe('option and argument validation', () => {
  it('rejects invalid lifecycle options with a ConfigError naming each', () => {
    expect(() => new SessionManager({ cookie: { persistent: true }, rolling: true })).toThrow(
      /cookie\.persistent: choose one/,
    );
    expect(() => new SessionManager({ absoluteTimeout: 0 })).toThrow(ConfigError);
    expect(() => new SessionManager({ absoluteTimeout: 1.5 })).toThrow(ConfigError);
    expect(() => new SessionManager({ absoluteTimeout: 1000, refreshWindow: 1000, maxAge: 5000 })).toThrow(
      /refreshWindow: must be smaller than absoluteTimeout/,
    );
  });

  it('setOwner() takes a string of 1 to 256 characters', async () => {
    const m = new SessionManager();
    const s = m.session();
    for (const bad of ['', 'x'.repeat(257), 42, null, undefined]) {
      await expect(s.setOwner(bad as string)).rejects.toBeInstanceOf(SessionDataError);
    }
    await s.setOwner('x'.repeat(256));
    expect(s.owner).toBe('x'.repeat(256));
  });

  it('a storage without an owner index: setOwner, listSessions and destroySessions throw StorageCapabilityError', async () => {
    // CountingStorage has load/save/touch/remove/apply only.
    const m = new SessionManager({ storage: new CountingStorage() });
    await expect(m.session().setOwner('u')).rejects.toBeInstanceOf(StorageCapabilityError);
    await expect(m.listSessions('u')).rejects.toThrow(/listSessions\(\) needs a storage with addOwned/);
    await expect(m.destroySessions('u')).rejects.toBeInstanceOf(StorageCapabilityError);
    await expect(m.getSession('x'.repeat(43))).rejects.toBeInstanceOf(StorageCapabilityError);
  });
});

describe('listSessions / destroySessions / getSession', () => {
  it('lists live sessions only (expired ones pruned from the index), with lastActive from the expiry', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, maxAge: 300, refreshWindow: 0 });
    const long = new SessionManager({ storage, maxAge: 60_000 });
    const a = await request(m, undefined, async (s) => {
      await s.set('n', 1);
      await s.setOwner('u');
    });
    const b = await request(long, undefined, async (s) => {
      await s.set('n', 2);
      await s.setOwner('u');
    });
    expect(await m.listSessions('u')).toHaveLength(2);
    await sleep(400);
    const listed = await long.listSessions('u', { current: b.session.id });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: `${b.session.id.slice(0, 6)}…`, current: true });
    expect(listed[0]!.lastActive).toBeGreaterThanOrEqual(listed[0]!.created);
    expect(listed[0]!.expiresAt - listed[0]!.lastActive).toBe(60_000);
    expect((await storage.listOwned('u')).map((e) => e.id)).toEqual([b.session.id]);
    expect(await m.getSession(a.session.id)).toBeUndefined();
  });

  it('destroySession(id) removes one session and its index entry', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const a = await request(m, undefined, async (s) => {
      await s.set('n', 1);
      await s.setOwner('u');
    });
    expect(await m.destroySession(a.session.id)).toBe(true);
    expect(await m.destroySession(a.session.id)).toBe(false);
    expect(await storage.listOwned('u')).toEqual([]);
    expect((await request(m, a.cookie, (s) => s.data())).result).toEqual({});
  });
});
