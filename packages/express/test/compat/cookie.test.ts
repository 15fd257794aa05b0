import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionCookie } from '../../src/compat-cookie.js';

const HOUR = 3_600_000;

describe('SessionCookie (the drop-in req.session.cookie)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('keeps originalMaxAge at the maxAge given when the millisecond turns while it is set', () => {
    // Every Date.now() a millisecond later, as when the clock ticks between two reads of it.
    let now = 1_800_000_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now++);
    const cookie = SessionCookie.fromOptions({ maxAge: HOUR }, false);
    expect(cookie.originalMaxAge).toBe(HOUR);
    // touch() on every request restores the same lifetime, never one millisecond less.
    for (let i = 0; i < 5; i += 1) cookie.maxAge = cookie.originalMaxAge;
    expect(cookie.originalMaxAge).toBe(HOUR);
    expect(cookie.data.originalMaxAge).toBe(HOUR);
  });

  it('sets originalMaxAge from expires when expires is set directly, and null with no expiry', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_800_000_000_000);
    const cookie = SessionCookie.fromOptions({}, false);
    cookie.expires = new Date(1_800_000_000_000 + 5_000);
    expect(cookie.originalMaxAge).toBe(5_000);
    cookie.maxAge = null;
    expect(cookie.originalMaxAge).toBeNull();
    expect(cookie.expires).toBeNull();
  });
});
