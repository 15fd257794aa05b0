/**
 * Shared pieces of the reliability suite: the four adapters served on real HTTP servers (the
 * adapters' own test apps, reused), a private redis-server with StorageRedisKV, a command counter
 * and a raw HTTP/1.1 client that can send bytes `fetch` refuses to send.
 */
import { connect } from 'node:net';
import type { SessionOptions } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { redisClient, type TestApp } from '@kv-session/testing/adapters';
import { startExpress } from '../../packages/express/test/support/app.js';
import { startFastify } from '../../packages/fastify/test/support/app.js';
import { startHono } from '../../packages/hono/test/support/app.js';
import { startKoa } from '../../packages/koa/test/support/app.js';

export type { TestApp } from '@kv-session/testing/adapters';

/** The adapters under test, each serving the shared adapter-suite routes (/set, /get, /data, ...). */
export const adapters: [string, (options: SessionOptions) => Promise<TestApp>][] = [
  ['express', (o) => startExpress(o)],
  ['fastify', startFastify],
  ['koa', startKoa],
  ['hono', startHono],
];

/** A signing secret of the apps under test. */
export const SECRET = 'reliability-secret-0123456789abcdef';

type Client = Awaited<ReturnType<typeof redisClient>>;

/** A private redis-server, a client on it, and a command counter. */
export interface PrivateRedis {
  server: RedisServer;
  client: Client;
  /** Commands executed by everyone but the counter itself (INFO / CONFIG RESETSTAT excluded). */
  commands(): Promise<number>;
  /** A StorageRedisKV on its own connection (so the counter's INFO calls never queue behind it). */
  storage(options?: { commandTimeoutMs?: number }): Promise<StorageRedisKV>;
  close(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const server = await startRedis();
  const clients: Client[] = [];
  const connectClient = async () => {
    const c = await redisClient(server.url);
    clients.push(c);
    return c;
  };
  const client = await connectClient();
  return {
    server,
    client,
    async commands() {
      const info = await client.info('commandstats');
      let total = 0;
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (m[1] !== 'info' && m[1] !== 'config|resetstat') total += Number(m[2]);
      }
      return total;
    },
    async storage(options = {}) {
      return new StorageRedisKV({ client: await connectClient(), ...options });
    },
    async close() {
      for (const c of clients) await c.close().catch(() => undefined);
      await server.stop();
    },
  };
}

/** A parsed raw HTTP response. */
export interface RawResponse {
  status: number;
  /** Header lines as sent, `[name (lower case), value]`. */
  headers: [string, string][];
  /** The whole header section (status line included), as latin1 text. */
  head: string;
  body: string;
}

/**
 * Sends one GET over a fresh TCP connection, header values written as UTF-8 bytes exactly as given
 * (CR, LF, NUL and all), and reads the answer until the server closes the connection.
 */
export function rawGet(url: string, path: string, headers: [string, string][]): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  const request = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      if (chunks.length === 0) reject(e); // a reset after the answer (431 on a huge request) is fine
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`incomplete response: ${JSON.stringify(text.slice(0, 200))}`));
      const head = text.slice(0, end);
      const [statusLine = '', ...rest] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
      const parsed: [string, string][] = rest.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      });
      let body = text.slice(end + 4);
      if (parsed.some(([k, v]) => k === 'transfer-encoding' && v === 'chunked')) body = dechunk(body);
      resolve({ status, headers: parsed, head, body: Buffer.from(body, 'latin1').toString('utf8') });
    });
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** `sid=<value>` of a list of Set-Cookie values, if any. */
export const sidOf = (setCookies: string[], name = 'sid'): string | undefined =>
  setCookies
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0]
    ?.slice(name.length + 1);
