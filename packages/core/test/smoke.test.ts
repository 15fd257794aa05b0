import { SessionManager, StorageMemory } from '@kv-session/core';
import { describe, expect, it } from 'vitest';

describe('smoke', () => {
  it('round trips through a cookie', async () => {
    const storage = new StorageMemory();
    const m = new SessionManager({ storage, secret: 'x'.repeat(32) });
    const s1 = m.session({});
    await s1.set('a', { b: [1, 2] });
    const r1 = await m.commit(s1);
    expect(r1.setCookie).toMatch(/^sid=/);
    const cookie = r1.setCookie!.split(';')[0]!;
    const s2 = m.session({ cookie });
    expect(await s2.get('a')).toEqual({ b: [1, 2] });
    expect(s2.id).toBe(s1.id);
    const r2 = await m.commit(s2);
    expect(r2.setCookie).toBeUndefined();
  });
});
