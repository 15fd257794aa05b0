import { generateId, ID_PATTERN, isValidId, redactId, SessionManager, sign, unsign } from '@kv-session/core';
import { describe, expect, it } from 'vitest';
import { VERIFIED_CACHE_SIZE } from '../src/http.js';
import { CountingStorage, cookieOf, cookieValue, OLD_SECRET, SECRET } from './helpers.js';

describe('ids', () => {
  it('default ids are 43 base64url characters (256 bits) and match ID_PATTERN', () => {
    const id = generateId();
    expect(id).toHaveLength(43);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(isValidId(id)).toBe(true);
    expect(Buffer.from(id, 'base64url')).toHaveLength(32);
  });

  it('10 000 ids are unique and well spread over the alphabet', () => {
    const ids = new Set<string>();
    const chars = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateId();
      expect(id).toHaveLength(43);
      ids.add(id);
      for (const c of id.slice(0, 42)) chars.set(c, (chars.get(c) ?? 0) + 1);
    }
    expect(ids.size).toBe(10_000);
    // All 64 symbols appear; none is wildly over-represented (expected 6562 each).
    expect(chars.size).toBe(64);
    for (const n of chars.values()) expect(n).toBeGreaterThan(5000);
  });

  it.each([
    ['22 characters', 'a'.repeat(22), true],
    ['256 characters', 'a'.repeat(256), true],
    ['leading dash and underscore', '-_abcdefghijklmnopqrstuv', true],
    ['21 characters', 'a'.repeat(21), false],
    ['257 characters', 'a'.repeat(257), false],
    ['a dot', `${'a'.repeat(22)}.`, false],
    ['a space', `${'a'.repeat(22)} `, false],
    ['a newline', `${'a'.repeat(22)}\n`, false],
    ['plus and slash (base64, not base64url)', `${'a'.repeat(22)}+/`, false],
    ['non-ASCII letters', 'é'.repeat(22), false],
    ['a path', '../../../../etc/passwd/x', false],
  ])('id with %s: valid=%s', (_, id, valid) => {
    expect(isValidId(id)).toBe(valid);
    expect(ID_PATTERN.test(id)).toBe(valid);
  });

  it('isValidId rejects non-strings; redactId never shows a full id', () => {
    expect(isValidId(undefined)).toBe(false);
    expect(isValidId(123)).toBe(false);
    const id = generateId();
    expect(redactId(id)).toBe(`${id.slice(0, 6)}…`);
    expect(redactId('abc')).toBe('…');
  });
});

describe('signing', () => {
  it('sign/unsign round trips, and the signature is HMAC-SHA256 base64url', () => {
    const id = generateId();
    const signed = sign(id, SECRET);
    expect(signed).toMatch(new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
    expect(unsign(signed, [SECRET])).toEqual({ value: id, rotated: false });
  });

  it('tampered, truncated, unsigned and unknown-secret values are rejected', () => {
    const id = generateId();
    const signed = sign(id, SECRET);
    const sig = signed.slice(id.length + 1);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    expect(unsign(`${flip(id, 0)}.${sig}`, [SECRET])).toBeUndefined();
    expect(unsign(`${id}.${flip(sig, 10)}`, [SECRET])).toBeUndefined();
    expect(unsign(signed.slice(0, -1), [SECRET])).toBeUndefined();
    expect(unsign(`${id}.`, [SECRET])).toBeUndefined();
    expect(unsign(`${signed}x`, [SECRET])).toBeUndefined();
    expect(unsign(id, [SECRET])).toBeUndefined();
    expect(unsign(`.${sig}`, [SECRET])).toBeUndefined();
    expect(unsign(signed, ['another-secret-0123456789'])).toBeUndefined();
    expect(unsign(signed, [])).toBeUndefined();
  });

  it('an older secret still verifies, flagged as rotated', () => {
    const id = generateId();
    expect(unsign(sign(id, OLD_SECRET), [SECRET, OLD_SECRET])).toEqual({ value: id, rotated: true });
    expect(unsign(sign(id, SECRET), [SECRET, OLD_SECRET])).toEqual({ value: id, rotated: false });
  });

  it('the manager signs cookies and reads signed cookies back', async () => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    const s = manager.session();
    await s.set('a', 1);
    const { setCookie } = await manager.commit(s);
    expect(cookieValue(setCookie)).toBe(sign(s.id, SECRET));
    const next = manager.session({ cookie: cookieOf(setCookie) });
    expect(await next.get('a')).toBe(1);
    expect(next.id).toBe(s.id);
  });

  it.each([
    ['unsigned id', (id: string) => id],
    ['tampered signature', (id: string) => `${sign(id, SECRET).slice(0, -2)}AA`],
    ['truncated', (id: string) => sign(id, SECRET).slice(0, -5)],
    ['signed by an unknown secret', (id: string) => sign(id, 'unknown-secret-0123456789')],
  ])('%s cookie: no storage call, treated as no session', async (_, make) => {
    const storage = new CountingStorage();
    const manager = new SessionManager({ storage, secret: SECRET });
    const first = manager.session();
    await first.set('secret', 'data');
    await manager.commit(first);
    storage.reset();

    const s = manager.session({ cookie: `sid=${make(first.id)}` });
    expect(s.id).not.toBe(first.id);
    expect(await s.get('secret')).toBeUndefined();
    expect(storage.count('load')).toBe(0);
    await s.set('x', 1);
    await manager.commit(s);
    expect(s.id).not.toBe(first.id);
    expect((await storage.inner.load(first.id))!.data).toEqual({ secret: 'data' });
  });

  describe('the cache of verified cookie values', () => {
    /** Stores sessions under `ids`, so that a session the manager accepts under one of them is live. */
    const live = async (manager: SessionManager, ...ids: string[]) => {
      for (const id of ids) await manager.options.storage.save(id, {}, 60_000);
    };
    /** The id of the session a cookie value leads to (`id` is readable only once the session is loaded). */
    const accepted = (manager: SessionManager, cookie: string) => manager.session({ cookie }).getId();

    it('a value verified once is not verified again (shown by swapping the secret afterwards)', async () => {
      const manager = new SessionManager({ secret: SECRET });
      const seen = generateId();
      const unseen = generateId();
      await live(manager, seen, unseen);
      expect(await accepted(manager, `sid=${sign(seen, SECRET)}`)).toBe(seen);
      (manager.options.secrets as string[])[0] = 'another-secret-0123456789abcdefghij';
      // From the cache: the HMAC is not computed again for the same value.
      expect(await accepted(manager, `sid=${sign(seen, SECRET)}`)).toBe(seen);
      // Not in the cache: verified against the (now different) secret, so refused.
      expect(await accepted(manager, `sid=${sign(unseen, SECRET)}`)).not.toBe(unseen);
    });

    it('only verified values are cached: tampered variants of a cached value are still refused', async () => {
      const manager = new SessionManager({ secret: SECRET });
      const id = generateId();
      await live(manager, id);
      const signed = sign(id, SECRET);
      expect(await accepted(manager, `sid=${signed}`)).toBe(id);
      for (let i = 0; i < signed.length; i++) {
        const ch = signed[i] === 'A' ? 'B' : 'A';
        const tampered = signed.slice(0, i) + ch + signed.slice(i + 1);
        expect(await accepted(manager, `sid=${tampered}`)).not.toBe(id);
      }
      expect(await accepted(manager, `sid=${signed}`)).toBe(id);
    });

    it(`stays bounded: after ${VERIFIED_CACHE_SIZE + 500} distinct values the first ones verify again`, async () => {
      const manager = new SessionManager({ secret: SECRET });
      const ids = Array.from({ length: VERIFIED_CACHE_SIZE + 500 }, () => generateId());
      await live(manager, ...ids);
      for (const id of ids) expect(await accepted(manager, `sid=${sign(id, SECRET)}`)).toBe(id);
      // The oldest were dropped: a swapped secret now refuses them, while recent ones are still cached.
      (manager.options.secrets as string[])[0] = 'another-secret-0123456789abcdefghij';
      expect(await accepted(manager, `sid=${sign(ids[0]!, SECRET)}`)).not.toBe(ids[0]);
      expect(await accepted(manager, `sid=${sign(ids.at(-1)!, SECRET)}`)).toBe(ids.at(-1));
    });

    it('a cached value signed by an older secret is re-issued on every request until replaced', async () => {
      const storage = new CountingStorage();
      const before = new SessionManager({ storage, secret: OLD_SECRET });
      const s = before.session();
      await s.set('user', 'ada');
      const cookie = cookieOf((await before.commit(s)).setCookie);
      const after = new SessionManager({ storage, secret: [SECRET, OLD_SECRET] });
      for (let i = 0; i < 2; i++) {
        const next = after.session({ cookie });
        expect(await next.get('user')).toBe('ada');
        expect(cookieValue((await after.commit(next)).setCookie)).toBe(sign(s.id, SECRET));
      }
    });
  });

  it('rotation: a cookie signed by an older secret is accepted and re-issued signed with the new one', async () => {
    const storage = new CountingStorage();
    const before = new SessionManager({ storage, secret: OLD_SECRET });
    const s = before.session();
    await s.set('user', 'ada');
    const old = await before.commit(s);
    expect(cookieValue(old.setCookie)).toBe(sign(s.id, OLD_SECRET));

    const after = new SessionManager({ storage, secret: [SECRET, OLD_SECRET] });
    const next = after.session({ cookie: cookieOf(old.setCookie) });
    expect(await next.get('user')).toBe('ada');
    const { setCookie } = await after.commit(next);
    expect(cookieValue(setCookie)).toBe(sign(s.id, SECRET));

    // Once re-issued, the new cookie is not re-sent.
    const third = after.session({ cookie: cookieOf(setCookie) });
    expect(await third.get('user')).toBe('ada');
    expect((await after.commit(third)).setCookie).toBeUndefined();

    // A secret dropped from the list no longer verifies.
    const dropped = new SessionManager({ storage, secret: SECRET });
    const lost = dropped.session({ cookie: cookieOf(old.setCookie) });
    expect(await lost.get('user')).toBeUndefined();
  });

  it('rotation in header mode re-sends the header signed with the new secret', async () => {
    const storage = new CountingStorage();
    const before = new SessionManager({ storage, secret: OLD_SECRET, header: 'x-session-id' });
    const s = before.session();
    await s.set('a', 1);
    const first = await before.commit(s);
    expect(first.headers['x-session-id']).toBe(sign(s.id, OLD_SECRET));
    const after = new SessionManager({ storage, secret: [SECRET, OLD_SECRET], header: 'x-session-id' });
    const next = after.session({ header: first.headers['x-session-id'] });
    expect(await next.get('a')).toBe(1);
    expect((await after.commit(next)).headers['x-session-id']).toBe(sign(s.id, SECRET));
  });
});
