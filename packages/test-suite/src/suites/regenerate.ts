import { type Session, SessionConflictError, type SessionData, SessionManager } from '@kv-session/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LONG_MS, type SuiteContext } from '../context.js';

/** Checks `regenerate()` racing other requests, through a `SessionManager` on the storage (with or without `move`). */
export function regenerateSuite(t: SuiteContext): void {
  describe('regenerate() races, through a SessionManager on this storage (issue 14)', () => {
    let manager: SessionManager;
    beforeAll(() => {
      manager = new SessionManager({ storage: t.storage, maxAge: LONG_MS });
    });
    const cookieOf = (setCookie: string | undefined): string | undefined => setCookie?.split(';')[0];
    const open = (cookie: string | undefined): Session => manager.session({ cookie });
    const start = async (data: SessionData): Promise<string> => {
      const s = manager.session();
      await s.setMany(data);
      return cookieOf((await manager.commit(s)).setCookie)!;
    };

    it('regenerate() after a concurrent destroy() committed does not revive the session', async () => {
      const cookie = await start({ user: 'ann', secret: 'old data' });
      const r = open(cookie);
      expect(await r.get('user')).toBe('ann');
      const d = open(cookie);
      await d.destroy();
      expect((await manager.commit(d)).setCookie).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
      await r.regenerate();
      expect(await r.data()).toEqual({});
      const committed = await manager.commit(r);
      // Nothing to send: the session is empty and stored nowhere.
      expect(committed.setCookie).toBeUndefined();
      expect(await t.storage.load(r.id, LONG_MS)).toBeUndefined();
      // A write after the failed move starts a fresh session that holds only the new data.
      const w = open(cookie);
      await w.regenerate();
      await w.set('fresh', true);
      const fresh = await manager.commit(w);
      expect(fresh.setCookie).toBeDefined();
      expect(await open(cookieOf(fresh.setCookie)).data()).toEqual({ fresh: true });
    });

    it('a write racing regenerate() lands in the new session or fails with SessionConflictError; never vanishes', async (ctx) => {
      if (t.storage.move === undefined) {
        return ctx.skip(
          'storage has no move(): core falls back to load, save and remove, which can lose that write',
        );
      }
      const cookie = await start({ user: 'ann' });
      const w = open(cookie);
      await w.get('user');
      await w.set('cart', ['book']);
      const g = open(cookie);
      await g.regenerate();
      const regenerated = await manager.commit(g);
      const newCookie = cookieOf(regenerated.setCookie);
      expect(newCookie).toBeDefined();
      const error = await manager.commit(w).then(
        () => undefined,
        (e: unknown) => e,
      );
      const after = await open(newCookie).data();
      if (error === undefined) expect(after).toEqual({ user: 'ann', cart: ['book'] });
      else {
        expect(error).toBeInstanceOf(SessionConflictError);
        expect(error).toMatchObject({ code: 'SESSION_CONFLICT', status: 409 });
        expect(after).toEqual({ user: 'ann' });
      }
      // The old id stays dead either way.
      expect(await open(cookie).data()).toEqual({});
    });

    it("regenerate() keeps this request's earlier changes and a concurrent request's committed ones", async () => {
      const cookie = await start({ user: 'ann' });
      const r = open(cookie);
      await r.set('step', 1);
      const other = open(cookie);
      await other.set('theme', 'dark');
      await manager.commit(other);
      await r.regenerate();
      const { setCookie } = await manager.commit(r);
      const data = await open(cookieOf(setCookie)).data();
      expect(data['user']).toBe('ann');
      expect(data['step']).toBe(1);
      // With move() the concurrent write moves too; the fallback reads the old record again.
      expect(data['theme']).toBe('dark');
    });
  });
}
