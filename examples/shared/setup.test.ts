// Issue 14, item 5: the examples' choice between Redis and memory. Run in-process, because the branch
// that falls back to memory needs "no Redis on the default URL", and this machine's 127.0.0.1:6379
// belongs to others: the test gives the default-URL branch a closed port instead.
import { freePort } from '@kv-session/testing';
import { describe, expect, it, vi } from 'vitest';
// @ts-expect-error plain ESM JavaScript without types (the examples have no build step)
import { createStorage, readConfig } from './setup.js';

describe('examples/shared/setup.js: Redis or memory', () => {
  it('REDIS_URL set explicitly is required; unset means the local default, which may fall back', () => {
    expect(readConfig({})).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', redisUrlExplicit: false });
    expect(readConfig({ REDIS_URL: '' })).toMatchObject({ redisUrlExplicit: false });
    expect(readConfig({ REDIS_URL: 'redis://10.0.0.1:6380' })).toMatchObject({
      redisUrl: 'redis://10.0.0.1:6380',
      redisUrlExplicit: true,
    });
  });

  it('with no REDIS_URL and nothing on the default URL, runs on StorageMemory and says so', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const port = await freePort();
      const store = await createStorage({
        ...readConfig({}),
        redisUrl: `redis://127.0.0.1:${port}`,
        redisUrlExplicit: false,
      });
      expect(store.description).toBe('in process memory (StorageMemory; they will NOT survive a restart)');
      expect(store.storage.constructor.name).toBe('StorageMemory');
      expect(warn.mock.calls.flat().join('\n')).toContain(
        'REDIS_URL is not set, so falling back to StorageMemory',
      );
      // It works as a storage.
      await store.storage.save('m'.repeat(22), { a: 1 }, 60_000);
      expect((await store.storage.load('m'.repeat(22)))?.data).toEqual({ a: 1 });
      await store.close();
    } finally {
      warn.mockRestore();
    }
  });
});
