// Issue 14, item 2: headers written with res.writeHead() or res.flushHeaders() (a redirect written by
// hand, an SSE route) left without the session cookie while the session was saved, the old record
// deleted: the user was logged out. Real Express 4 and 5 servers, real Redis, a raw HTTP client.
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { session } from '@kv-session/express';
import { MOVED_MARKER } from '@kv-session/redis';
import { useRedisStorage } from '@kv-session/testing/adapters';
import express5 from 'express';
import express4 from 'express4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET over a fresh connection; the reply as the wire carried it. */
function rawGet(url: string, cookie?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: cookie === undefined ? {} : { cookie } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const sid = (r: RawReply): string => {
  const cookies = r.headers['set-cookie'] ?? [];
  expect(cookies).toHaveLength(1);
  return cookies[0]!.split(';')[0]!.slice('sid='.length);
};

for (const [name, factory] of [
  ['express 5', express5],
  ['express 4', express4],
] as const) {
  describe(`${name}: headers written with writeHead() / flushHeaders()`, () => {
    const redis = useRedisStorage();
    let server: Server;
    let url: string;

    beforeAll(async () => {
      const app = factory();
      app.use(session({ storage: redis.storage }));
      app.get('/login', async (req, res) => {
        await req.session.set('user', 'ada');
        res.type('text/plain').send('ok');
      });
      // Fixation protection on privilege change, then a redirect written by hand.
      app.get('/elevate', async (req, res) => {
        await req.session.regenerate();
        await req.session.set('role', 'admin');
        res.writeHead(302, { Location: '/me' }).end();
      });
      app.get('/me', async (req, res) => {
        res.json(await req.session.data());
      });
      // Server-sent events: headers flushed first, the body streamed after.
      app.get('/events', async (req, res) => {
        await req.session.set('subscribed', true);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        res.write('data: one\n\n');
        setTimeout(() => res.end('data: two\n\n'), 20);
      });
      app.get('/flush', async (req, res) => {
        await req.session.set('flushed', true);
        res.status(202).setHeader('content-type', 'text/plain');
        res.flushHeaders();
        res.end('flushed');
      });
      app.get('/own-cookie', async (req, res) => {
        await req.session.set('theme', 'dark');
        res.writeHead(200, 'Fine', { 'Set-Cookie': 'theme=dark; Path=/', 'content-type': 'text/plain' });
        res.end('ok');
      });
      server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });

    /** Keys holding a session: every key but the marks regenerate() leaves under old ids. */
    const sessionKeys = async (): Promise<string[]> => {
      const keys: string[] = [];
      for (const key of await redis.client.keys('*')) {
        if ((await redis.client.get(key)) !== MOVED_MARKER) keys.push(key);
      }
      return keys;
    };

    it('a regenerate + writeHead(302) redirect carries the new cookie, and the new record holds the data', async () => {
      const login = await rawGet(`${url}/login`);
      const oldId = sid(login);
      const elevated = await rawGet(`${url}/elevate`, `sid=${oldId}`);
      expect(elevated.status).toBe(302);
      expect(elevated.headers.location).toBe('/me');
      const newId = sid(elevated);
      expect(newId).not.toBe(oldId);
      // The old key holds only regenerate()'s short-lived mark (MOVED_MARKER), no session data.
      const keys = await sessionKeys();
      expect(keys).toHaveLength(1);
      expect(keys[0]!.endsWith(newId)).toBe(true);
      expect(JSON.parse((await redis.client.get(keys[0]!))!)).toEqual({ user: 'ada', role: 'admin' });
      const marks = (await redis.client.keys('*')).filter((k) => !keys.includes(k));
      expect(marks).toHaveLength(1);
      expect(marks[0]!.endsWith(oldId)).toBe(true);
      expect(await redis.client.get(marks[0]!)).toBe(MOVED_MARKER);
      const me = await rawGet(`${url}/me`, `sid=${newId}`);
      expect(JSON.parse(me.body)).toEqual({ user: 'ada', role: 'admin' });
    });

    it('an SSE route (writeHead, flushHeaders, write, end) sends the cookie with its headers', async () => {
      const events = await rawGet(`${url}/events`);
      expect(events.status).toBe(200);
      expect(events.headers['content-type']).toBe('text/event-stream');
      expect(events.body).toBe('data: one\n\ndata: two\n\n');
      const id = sid(events);
      const keys = await redis.client.keys('*');
      expect(keys).toHaveLength(1);
      expect(keys[0]!.endsWith(id)).toBe(true);
      expect(JSON.parse((await redis.client.get(keys[0]!))!)).toEqual({ subscribed: true });
    });

    it('flushHeaders() after setHeader waits for the save and keeps the status', async () => {
      const flushed = await rawGet(`${url}/flush`);
      expect(flushed.status).toBe(202);
      expect(flushed.body).toBe('flushed');
      const id = sid(flushed);
      const keys = await redis.client.keys('*');
      expect(keys).toHaveLength(1);
      expect(keys[0]!.endsWith(id)).toBe(true);
    });

    it("a Set-Cookie in writeHead()'s headers object is sent next to the session cookie", async () => {
      const r = await rawGet(`${url}/own-cookie`);
      expect(r.status).toBe(200);
      const cookies = r.headers['set-cookie'] ?? [];
      expect(cookies).toHaveLength(2);
      expect(cookies[0]).toBe('theme=dark; Path=/');
      expect(cookies[1]).toMatch(/^sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    });
  });
}
