import { StorageMemory } from '@kv-session/core';
import { createFetchSessions } from '@kv-session/fetch';
import { describe, expect, it } from 'vitest';

describe('FetchSessions: .manager and .of(request)', () => {
  it('of(request) is the session made for that request; of() throws for a request without one', async () => {
    const kv = createFetchSessions<{ userId: string }>({ storage: new StorageMemory() });
    const request = new Request('http://example.test/set');
    const response = await kv.handle(request, async (s) => {
      expect(kv.of(request)).toBe(s);
      await kv.of(request).set('userId', 'u1');
      return new Response('ok');
    });
    const id = /^sid=([^;]+)/.exec(response.headers.getSetCookie()[0]!)![1]!;
    expect(await kv.manager.sessionById(id).get('userId')).toBe('u1');
    expect(() => kv.of(new Request('http://example.test/'))).toThrow(/no session/);
  });
});
