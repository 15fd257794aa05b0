import { StorageMemory } from '@kv-session/core';
import { type SessionEnv, session } from '@kv-session/hono';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

describe('the Hono middleware has .manager and .of(c) like the other adapters', () => {
  it('mw.of(c) is the context session; mw.manager reads what requests stored', async () => {
    const mw = session({ storage: new StorageMemory(), schema: z.object({ userId: z.string() }) });
    const app = new Hono<SessionEnv<{ userId: string }>>();
    app.use(mw);
    app.get('/set', async (c) => {
      expect(mw.of(c)).toBe(c.get('session'));
      await mw.of(c).set('userId', 'u1');
      return c.text('ok');
    });
    const res = await app.request('http://example.test/set');
    const id = /^sid=([^;]+)/.exec(res.headers.getSetCookie()[0]!)![1]!;
    expect(await mw.manager.sessionById(id).get('userId')).toBe('u1');
  });

  it('of(c) throws where the middleware has not run', async () => {
    const mw = session({ storage: new StorageMemory() });
    const app = new Hono();
    let thrown: unknown;
    app.get('/of', (c) => {
      try {
        mw.of(c);
      } catch (error) {
        thrown = error;
      }
      return c.text('ok');
    });
    await app.request('http://example.test/of');
    expect(String(thrown)).toMatch(/has not run/);
  });
});
