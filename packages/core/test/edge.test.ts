// The seam between HTTP and sessions: what an edge (an adapter, or a compat layer with its own
// cookie format) gets from the manager, and what it gives back.
import {
  generateId,
  type SessionError,
  SessionManager,
  StorageMemory,
  StorageUnavailableError,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';

/** A cookie format of a compat layer's own, verified by that layer (here: `c:<id>`). */
const ownCookie = (id: string) => `c:${id}`;
const readOwnCookie = (value: string) => (value.startsWith('c:') ? value.slice(2) : undefined);

describe('a compat layer with its own cookie: sessionById() + save()', () => {
  it('a new session: save() says it is live and issued under its id; no HTTP is involved', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const s = m.sessionById(generateId()); // an id nobody stored: not adopted
    await s.set('user', 'ada');
    const outcome = await m.save(s);
    expect(outcome).toEqual({
      id: s.id,
      live: true,
      issued: true,
      destroyed: false,
      maxAge: 86_400_000,
      refresh: false,
    });
    expect((await storage.load(s.id))?.data).toEqual({ user: 'ada' });
  });

  it('a verified id of a stored session: read, changed and saved under it, not issued again', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage });
    const first = m.sessionById(generateId());
    await first.set('n', 1);
    const { id } = await m.save(first);
    const s = m.sessionById(readOwnCookie(ownCookie(id!))!);
    expect(await s.get('n')).toBe(1);
    await s.set('n', 2);
    expect(await m.save(s)).toEqual({
      id,
      live: true,
      issued: false,
      destroyed: false,
      maxAge: 86_400_000,
      refresh: false,
    });
    expect((await storage.load(id!))?.data).toEqual({ n: 2 });
  });

  it('regenerate() issues a new id; destroy() says destroyed and not live', async () => {
    const m = new SessionManager();
    const s = m.sessionById(generateId());
    await s.set('n', 1);
    const { id } = await m.save(s);
    const again = m.sessionById(id!);
    await again.regenerate();
    const regenerated = await m.save(again);
    expect(regenerated.issued).toBe(true);
    expect(regenerated.id).not.toBe(id);
    const gone = m.sessionById(regenerated.id!);
    await gone.destroy();
    expect(await m.save(gone)).toEqual({
      id: undefined,
      live: false,
      issued: false,
      destroyed: true,
      maxAge: 86_400_000,
      refresh: false,
    });
  });

  it('an id that does not match ID_PATTERN never reaches storage: the session starts fresh', async () => {
    const calls: string[] = [];
    const inner = new StorageMemory();
    const m = new SessionManager({
      storage: {
        load: (id) => {
          calls.push(id);
          return inner.load(id);
        },
        save: (id, d, ms) => inner.save(id, d, ms),
        touch: (id, ms) => inner.touch(id, ms),
        remove: (id) => inner.remove(id),
      },
    });
    const s = m.sessionById('../../etc/passwd');
    expect(await s.data()).toEqual({});
    expect(calls).toEqual([]);
    expect(s.id).not.toBe('../../etc/passwd');
  });
});

describe('sessionFromHeaders()', () => {
  it('reads the cookie from a Web Headers object and from a Node headers record alike', async () => {
    const m = new SessionManager();
    const s = m.sessionById(generateId());
    await s.set('k', 'v');
    const { id } = await m.save(s);
    const web = m.sessionFromHeaders(new Headers({ cookie: `a=1; sid=${id}` }), { secure: false });
    const node = m.sessionFromHeaders({ cookie: `sid=${id}` }, { secure: false });
    expect(await web.get('k')).toBe('v');
    expect(await node.get('k')).toBe('v');
  });

  it('reads the configured id header, and takes the protocol from X-Forwarded-Proto only when trusted', async () => {
    const m = new SessionManager({ header: 'X-Session-Id', cookie: { secure: 'auto' } });
    const created = m.sessionFromHeaders({}, { secure: false });
    await created.set('k', 'v');
    const id = (await m.commit(created)).headers['x-session-id']!;
    const headers = { 'x-session-id': id, 'x-forwarded-proto': 'https' };
    const trusted = m.sessionFromHeaders(headers, { secure: false, trustProxy: true });
    expect(await trusted.get('k')).toBe('v');
    await trusted.regenerate();
    expect((await m.commit(trusted)).setCookie).toMatch(/; Secure/);
    const untrusted = m.sessionFromHeaders(
      { 'x-session-id': trusted.id, 'x-forwarded-proto': 'https' },
      {
        secure: false,
      },
    );
    await untrusted.regenerate();
    expect((await m.commit(untrusted)).setCookie).not.toMatch(/; Secure/);
  });
});

describe('commitAfterError()', () => {
  it('a failed save is reported through onError (operation commit), not thrown; undefined is returned', async () => {
    const reported: [SessionError, string][] = [];
    const inner = new StorageMemory();
    const m = new SessionManager({
      onError: (error, context) => reported.push([error, context.operation]),
      storage: {
        load: (id) => inner.load(id),
        save: async () => {
          throw new StorageUnavailableError();
        },
        touch: (id, ms) => inner.touch(id, ms),
        remove: (id) => inner.remove(id),
      },
    });
    const s = m.session({});
    await s.set('k', 'v');
    expect(await m.commitAfterError(s)).toBeUndefined();
    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBeInstanceOf(StorageUnavailableError);
    expect(reported[0]![1]).toBe('commit');
  });

  it('a save that works returns the headers, as commit() does', async () => {
    const m = new SessionManager();
    const s = m.session({});
    await s.set('k', 'v');
    expect((await m.commitAfterError(s))?.setCookie).toMatch(/^sid=/);
  });
});
