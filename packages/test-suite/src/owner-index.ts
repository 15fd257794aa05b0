// The owner index, an optional Storage capability (addOwned, listOwned, removeOwned, with peek):
// what `manager.listSessions()` and `destroySessions()` stand on. One of `storageSuites`
// (`ownerIndex`); its tests are skipped for a storage without the capability.
import { generateId, redactId, SessionManager, type Storage } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { LONG_MS, NO_LIMIT, SHORT_MS, type SuiteContext } from './context.js';
import { changeSet, sleep } from './fixtures.js';

type OwnerStorage = Storage & Required<Pick<Storage, 'addOwned' | 'listOwned' | 'removeOwned' | 'peek'>>;

function hasOwnerIndex(s: Storage): s is OwnerStorage {
  return (['addOwned', 'listOwned', 'removeOwned', 'peek'] as const).every((m) => typeof s[m] === 'function');
}

/** A fresh owner name (tests share the backend). */
function owner(label = 'user'): string {
  return `${label}-${generateId().slice(0, 12)}`;
}

/** A cookie header for a `Set-Cookie` value. */
function cookieOf(setCookie: string | undefined): string {
  if (setCookie === undefined) throw new Error('expected a Set-Cookie header');
  return setCookie.split(';')[0]!;
}

/** Checks the owner index and `peek`, directly and through a SessionManager (skipped without them). */
export function ownerIndexSuite(t: SuiteContext): void {
  const graceMs = t.grace;
  const storage = (skip: (note: string) => void): OwnerStorage => {
    const s = t.storage;
    if (!hasOwnerIndex(s)) {
      skip('storage has no owner index (addOwned, listOwned, removeOwned, peek)');
      throw new Error('unreachable');
    }
    return s;
  };

  describe('owner index (optional): addOwned / listOwned / removeOwned / peek', () => {
    it('lists what was added, per owner; an unknown owner lists nothing', async (ctx) => {
      const s = storage(ctx.skip);
      const [a, b] = [owner(), owner()];
      const [id1, id2, id3] = [generateId(), generateId(), generateId()];
      const at = Date.now() + LONG_MS;
      await s.addOwned(a, id1, at);
      await s.addOwned(a, id2, at + 1000);
      await s.addOwned(b, id3, at);
      const listed = await s.listOwned(a);
      expect(listed.map((e) => e.id).sort()).toEqual([id1, id2].sort());
      expect(listed.find((e) => e.id === id2)!.expiresAt).toBeCloseTo(at + 1000, -3);
      expect((await s.listOwned(b)).map((e) => e.id)).toEqual([id3]);
      expect(await s.listOwned(owner('nobody'))).toEqual([]);
    });

    it('adding an id again updates its expiry, never duplicates it', async (ctx) => {
      const s = storage(ctx.skip);
      const o = owner();
      const id = generateId();
      await s.addOwned(o, id, Date.now() + 1000);
      await s.addOwned(o, id, Date.now() + LONG_MS);
      const listed = await s.listOwned(o);
      expect(listed).toHaveLength(1);
      expect(listed[0]!.expiresAt).toBeGreaterThan(Date.now() + LONG_MS / 2);
    });

    it('removeOwned removes only the ids given; unknown ids and owners are ignored', async (ctx) => {
      const s = storage(ctx.skip);
      const o = owner();
      const ids = [generateId(), generateId(), generateId()];
      for (const id of ids) await s.addOwned(o, id, Date.now() + LONG_MS);
      await s.removeOwned(o, [ids[0]!, generateId()]);
      await s.removeOwned(owner('nobody'), [ids[1]!]);
      expect((await s.listOwned(o)).map((e) => e.id).sort()).toEqual([ids[1]!, ids[2]!].sort());
      await s.removeOwned(o, [ids[1]!, ids[2]!]);
      expect(await s.listOwned(o)).toEqual([]);
    });

    it('the index never collides with a session record, whatever the owner string', async (ctx) => {
      const s = storage(ctx.skip);
      const id = generateId();
      await s.save(id, { user: 'ann' }, LONG_MS);
      // An owner equal to a session id, and owners with separators, unicode and the longest length.
      const owners = [id, `${id}:x`, 'owner: with spaces/and:colons', 'ユーザー😀', 'o'.repeat(256)];
      for (const o of owners) await s.addOwned(o, id, Date.now() + LONG_MS);
      expect((await s.load(id, LONG_MS))!.data).toEqual({ user: 'ann' });
      for (const o of owners) expect((await s.listOwned(o)).map((e) => e.id)).toContain(id);
      for (const o of owners) await s.removeOwned(o, [id]);
      expect((await s.load(id, LONG_MS))!.data).toEqual({ user: 'ann' });
    });

    it('peek reads a record with its expiry, without refreshing it; missing, expired and moved read undefined', async (ctx) => {
      const s = storage(ctx.skip);
      const id = generateId();
      expect(await s.peek(id)).toBeUndefined();
      const before = Date.now();
      await s.save(id, { a: 1, __kv: { created: before } }, SHORT_MS);
      const peeked = await s.peek(id);
      expect(peeked!.data).toEqual({ a: 1, __kv: { created: before } });
      expect(peeked!.expiresAt).toBeGreaterThanOrEqual(before + SHORT_MS - 1000);
      expect(peeked!.expiresAt).toBeLessThanOrEqual(Date.now() + SHORT_MS + 1000);
      // Peeking again and again does not keep it alive.
      await sleep(SHORT_MS / 2);
      await s.peek(id);
      await sleep(SHORT_MS / 2 + graceMs + 100);
      expect(await s.peek(id)).toBeUndefined();
      if (s.move !== undefined) {
        const from = generateId();
        await s.save(from, { a: 1 }, LONG_MS);
        await s.move(from, generateId(), changeSet(), LONG_MS, { maxSize: NO_LIMIT });
        expect(await s.peek(from)).toBeUndefined();
      }
    });
  });

  describe('owner index through a SessionManager: listSessions / destroySessions', () => {
    /** A session of `o` with `data`, committed; its cookie and full id. */
    async function signIn(m: SessionManager, o: string, data: Record<string, string>) {
      const s = m.session();
      await s.setMany(data);
      await s.setOwner(o);
      const cookie = cookieOf((await m.commit(s)).setCookie);
      return { cookie, id: s.id };
    }

    it('two browsers of one owner: listed (current marked), then both destroyed by one call', async (ctx) => {
      const s = storage(ctx.skip);
      const m = new SessionManager({ storage: s, maxAge: LONG_MS });
      const o = owner();
      const phone = await signIn(m, o, { device: 'phone' });
      const laptop = await signIn(m, o, { device: 'laptop' });
      const other = await signIn(m, owner(), { device: 'someone else' });

      const listed = await m.listSessions(o, { current: laptop.id });
      expect(listed.map((l) => l.id).sort()).toEqual([redactId(phone.id), redactId(laptop.id)].sort());
      expect(listed.find((l) => l.current)!.id).toBe(redactId(laptop.id));
      for (const l of listed) {
        expect(l.created).toBeLessThanOrEqual(l.lastActive);
        expect(l.expiresAt).toBeGreaterThan(Date.now());
      }
      // The records never show the metadata to the app.
      expect(await m.session({ cookie: phone.cookie }).data()).toEqual({ device: 'phone' });

      expect(await m.destroySessions(o)).toBe(2);
      expect(await m.session({ cookie: phone.cookie }).data()).toEqual({});
      expect(await m.session({ cookie: laptop.cookie }).data()).toEqual({});
      expect(await m.listSessions(o)).toEqual([]);
      expect(await s.listOwned(o)).toEqual([]);
      expect(await m.session({ cookie: other.cookie }).data()).toEqual({ device: 'someone else' });
    });

    it('destroySessions keeps the session given as except', async (ctx) => {
      const s = storage(ctx.skip);
      const m = new SessionManager({ storage: s, maxAge: LONG_MS });
      const o = owner();
      const a = await signIn(m, o, { n: 'a' });
      const b = await signIn(m, o, { n: 'b' });
      expect(await m.destroySessions(o, { except: b.id })).toBe(1);
      expect(await m.session({ cookie: a.cookie }).data()).toEqual({});
      expect(await m.session({ cookie: b.cookie }).data()).toEqual({ n: 'b' });
      expect((await m.listSessions(o)).map((l) => l.id)).toEqual([redactId(b.id)]);
    });

    it('destroyed and expired sessions leave the listing and the index; a listed session is always live', async (ctx) => {
      const s = storage(ctx.skip);
      const m = new SessionManager({ storage: s, maxAge: SHORT_MS, refreshWindow: 0 });
      const long = new SessionManager({ storage: s, maxAge: LONG_MS });
      const o = owner();
      const shortLived = await signIn(m, o, { n: 'short' });
      const destroyed = await signIn(long, o, { n: 'destroyed' });
      const kept = await signIn(long, o, { n: 'kept' });
      const d = long.session({ cookie: destroyed.cookie });
      await d.get('n');
      await d.destroy();
      await long.commit(d);
      expect((await s.listOwned(o)).map((e) => e.id).sort()).toEqual([shortLived.id, kept.id].sort());
      await sleep(SHORT_MS + graceMs + 100);
      // Expired: still in the index until read, never listed, pruned by the listing.
      expect((await long.listSessions(o)).map((l) => l.id)).toEqual([redactId(kept.id)]);
      expect((await s.listOwned(o)).map((e) => e.id)).toEqual([kept.id]);
    });

    it('regenerate() moves the index entry to the new id; a new owner takes the session from the old one', async (ctx) => {
      const s = storage(ctx.skip);
      const m = new SessionManager({ storage: s, maxAge: LONG_MS });
      const [o, p] = [owner(), owner()];
      const first = await signIn(m, o, { n: '1' });
      const r = m.session({ cookie: first.cookie });
      await r.regenerate();
      const cookie = cookieOf((await m.commit(r)).setCookie);
      expect(r.id).not.toBe(first.id);
      expect((await s.listOwned(o)).map((e) => e.id)).toEqual([r.id]);
      const t = m.session({ cookie });
      await t.setOwner(p);
      await m.commit(t);
      expect(await m.listSessions(o)).toEqual([]);
      expect((await m.listSessions(p)).map((l) => l.id)).toEqual([redactId(r.id)]);
      const record = await m.getSession(r.id);
      expect(record).toMatchObject({ id: r.id, data: { n: '1' }, meta: { owner: p } });
      expect(record!.meta.created).toBeTypeOf('number');
    });
  });
}
