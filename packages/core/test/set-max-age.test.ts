import {
  type ApplyOptions,
  type ApplyResult,
  type ChangeSet,
  SessionDataError,
  SessionManager,
  StorageMemory,
  type StoredSession,
} from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { CountingStorage, cookieOf } from './helpers.js';

const DAY = 86_400_000;

/** CountingStorage that also records the maxAge each call was given. */
class MaxAgeStorage extends CountingStorage {
  readonly maxAges: [string, number][] = [];
  override async load(id: string, maxAgeMs: number): Promise<StoredSession | undefined> {
    this.maxAges.push(['load', maxAgeMs]);
    return super.load(id, maxAgeMs);
  }
  override async touch(id: string, maxAgeMs: number): Promise<void> {
    this.maxAges.push(['touch', maxAgeMs]);
    return super.touch(id, maxAgeMs);
  }
  override async apply(
    id: string,
    changes: ChangeSet,
    maxAgeMs: number,
    options: ApplyOptions,
  ): Promise<ApplyResult> {
    this.maxAges.push(['apply', maxAgeMs]);
    return super.apply(id, changes, maxAgeMs, options);
  }
}

/** A storage on a clock the test moves, and a manager with a 1-day maxAge over it. */
function setup(options: { rolling?: boolean } = {}) {
  const clock = { now: Date.now() };
  const storage = new MaxAgeStorage(new StorageMemory({ now: () => clock.now }));
  const manager = new SessionManager({ storage, maxAge: DAY, ...options });
  return { clock, storage, manager };
}

/** A stored session `{ user: 'ada' }` (with the option's lifetime); its cookie. The storage log is cleared. */
async function storedUser(manager: SessionManager, storage: MaxAgeStorage): Promise<string> {
  const first = manager.session();
  await first.set('user', 'ada');
  const cookie = cookieOf((await manager.commit(first)).setCookie);
  storage.maxAges.length = 0;
  return cookie;
}

describe('Session.setMaxAge(ms)', () => {
  it('a write after setMaxAge stores the record with that lifetime, not the maxAge option', async () => {
    const { clock, storage, manager } = setup();
    const s = manager.session();
    expect(s.maxAge).toBe(DAY);
    await s.setMaxAge(30 * DAY);
    expect(s.maxAge).toBe(30 * DAY);
    await s.set('user', 'ada');
    const cookie = cookieOf((await manager.commit(s)).setCookie);
    expect(storage.maxAges).toEqual([['apply', 30 * DAY]]);
    // Two days on, past the option's 1 day: still there.
    clock.now += 2 * DAY;
    expect(await manager.session({ cookie }).get('user')).toBe('ada');
  });

  it('the setting is per session: another session of the same manager keeps the option', async () => {
    const { storage, manager } = setup();
    const a = manager.session();
    await a.setMaxAge(30 * DAY);
    await a.set('x', 1);
    const b = manager.session();
    await b.set('x', 2);
    await manager.commit(a);
    await manager.commit(b);
    expect(storage.maxAges).toEqual([
      ['apply', 30 * DAY],
      ['apply', DAY],
    ]);
  });

  it('a clean loaded session is stored again with a longer lifetime (its __kv.maxAge), and lives past the option', async () => {
    const { clock, storage, manager } = setup();
    const cookie = await storedUser(manager, storage);

    const s = manager.session({ cookie });
    expect(await s.get('user')).toBe('ada');
    await s.setMaxAge(7 * DAY);
    await manager.commit(s);
    // Without setMaxAge this read-only request would write nothing (the expiry is recent); the
    // lifetime is kept with the session, so the write sets both it and the expiry.
    expect(storage.maxAges).toEqual([
      ['load', DAY],
      ['apply', 7 * DAY],
    ]);
    clock.now += 3 * DAY;
    expect(await manager.session({ cookie }).get('user')).toBe('ada');
  });

  it('a shorter lifetime is applied too (the stored expiry is beyond it), so "remember me" can be turned off', async () => {
    const { clock, storage, manager } = setup();
    const cookie = await storedUser(manager, storage);

    const s = manager.session({ cookie });
    await s.get('user');
    await s.setMaxAge(60_000);
    await manager.commit(s);
    expect(storage.maxAges).toEqual([
      ['load', DAY],
      ['apply', 60_000],
    ]);
    clock.now += 61_000;
    expect(await manager.session({ cookie }).data()).toEqual({});
  });

  it('kept with the session: a later request knows it without calling setMaxAge again (no extra write or touch)', async () => {
    const { clock, storage, manager } = setup();
    const first = manager.session();
    await first.setMaxAge(2 * DAY);
    await first.set('user', 'ada');
    const cookie = cookieOf((await manager.commit(first)).setCookie);
    storage.maxAges.length = 0;

    const s = manager.session({ cookie });
    expect(await s.get('user')).toBe('ada');
    expect(s.maxAge).toBe(2 * DAY);
    await manager.commit(s);
    // Loaded before its lifetime is known (the option's); the stored expiry is already right.
    expect(storage.maxAges).toEqual([['load', DAY]]);
    // Calling it again with the same value changes nothing.
    const again = manager.session({ cookie });
    await again.setMaxAge(2 * DAY);
    await manager.commit(again);
    expect(storage.maxAges).toEqual([
      ['load', DAY],
      ['load', DAY],
    ]);
    // 1.5 days on, past the option's 1 day: still there.
    clock.now += 1.5 * DAY;
    expect(await manager.session({ cookie }).get('user')).toBe('ada');
  });

  it('a dirty session applies its change set with the session lifetime', async () => {
    const { storage, manager } = setup();
    const first = manager.session();
    await first.set('a', 1);
    const cookie = cookieOf((await manager.commit(first)).setCookie);
    storage.maxAges.length = 0;
    const s = manager.session({ cookie });
    await s.set('b', 2);
    await s.setMaxAge(3 * DAY);
    await manager.commit(s);
    expect(storage.maxAges.at(-1)).toEqual(['apply', 3 * DAY]);
  });

  it('regenerate keeps the session lifetime for the new id', async () => {
    const { storage, manager } = setup();
    const s = manager.session();
    await s.set('a', 1);
    await s.setMaxAge(5 * DAY);
    await s.regenerate();
    await s.set('b', 2);
    await manager.commit(s);
    expect(storage.maxAges.filter(([op]) => op === 'apply').map(([, ms]) => ms)).toEqual([5 * DAY, 5 * DAY]);
  });

  it('with rolling, the cookie Max-Age follows the session lifetime', async () => {
    const { manager } = setup({ rolling: true });
    const s = manager.session();
    await s.set('a', 1);
    await s.setMaxAge(30 * DAY);
    const { setCookie } = await manager.commit(s);
    expect(setCookie).toContain(`Max-Age=${(30 * DAY) / 1000}`);
    const t = manager.session();
    await t.set('a', 1);
    expect((await manager.commit(t)).setCookie).toContain(`Max-Age=${DAY / 1000}`);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000'])(
    'rejects %s with a SessionDataError and keeps the lifetime it had',
    async (bad) => {
      const { manager } = setup();
      const s = manager.session();
      await s.setMaxAge(2 * DAY);
      await expect(s.setMaxAge(bad as number)).rejects.toBeInstanceOf(SessionDataError);
      expect(s.maxAge).toBe(2 * DAY);
    },
  );
});
