import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageMemory } from '@kv-session/core';
import { createNodeSessions } from '@kv-session/node';
import { describe, expect, it } from 'vitest';

describe('NodeSessions: .manager and .of(req)', () => {
  it('of(req) is the session made for that request; of() throws for a request without one', async () => {
    const kv = createNodeSessions<{ userId: string }>({ storage: new StorageMemory() });
    const seen: boolean[] = [];
    const server = createServer(
      kv.handler(async (req, _res, s) => {
        seen.push(kv.of(req) === s);
        await kv.of(req).set('userId', 'u1');
        return 'ok';
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await res.text()).toBe('ok');
      const id = /^sid=([^;]+)/.exec(res.headers.getSetCookie()[0]!)![1]!;
      expect(seen).toEqual([true]);
      expect(await kv.manager.sessionById(id).get('userId')).toBe('u1');
      expect(() => kv.of({} as never)).toThrow(/no session/);
    } finally {
      server.close();
    }
  });
});
