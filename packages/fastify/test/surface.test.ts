import { StorageMemory } from '@kv-session/core';
import { sessionPlugin } from '@kv-session/fastify';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

describe('sessionPlugin(options): the plugin bound to its options, with .manager and .of()', () => {
  it('kv.of(request) is request.session; kv.manager reads what requests stored', async () => {
    const storage = new StorageMemory();
    const kv = sessionPlugin({ storage, schema: z.object({ userId: z.string() }) });
    const app = Fastify();
    await app.register(kv);
    app.get('/set', async (request) => {
      expect(kv.of(request)).toBe(request.session);
      await kv.of(request).set('userId', 'u1');
      return 'ok';
    });
    const res = await app.inject('/set');
    expect(res.statusCode).toBe(200);
    const id = /^sid=([^;]+)/.exec(String(res.headers['set-cookie']))![1]!;
    expect(await kv.manager.sessionById(id).get('userId')).toBe('u1');
    expect(app.sessionManager).toBe(kv.manager);
    await app.close();
  });

  it('validates its options when called (ConfigError), and of() throws outside the plugin', () => {
    expect(() => sessionPlugin({ maxAge: -1 })).toThrow(/maxAge/);
    const kv = sessionPlugin();
    expect(() => kv.of({ session: null } as never)).toThrow(/has not run/);
  });
});
