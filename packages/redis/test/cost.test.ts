/**
 * What a read-only request costs under each expiry-refresh strategy, counted with INFO commandstats
 * on a private server. Command counts are asserted; wall-clock figures are printed only when
 * KV_MEASURE=1 (then with more iterations):
 *
 *   KV_MEASURE=1 npx vitest run packages/redis/test/cost.test.ts
 */
import { SessionManager } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idFrom, quiet, request, stats } from './helpers.js';

const MEASURE = process.env['KV_MEASURE'] === '1';
const N = MEASURE ? 20_000 : 300;
const MAX_AGE = 60_000;

const cachedClientFor = (url: string) =>
  createClient({ url, RESP: 3, clientSideCache: { maxEntries: 1000 } });

let server: RedisServer;
let client: ReturnType<typeof createClient>;
let cached: ReturnType<typeof cachedClientFor>;

beforeAll(async () => {
  server = await startRedis();
  client = createClient({ url: server.url });
  cached = cachedClientFor(server.url);
  quiet(client);
  quiet(cached);
  await Promise.all([client.connect(), cached.connect()]);
});

afterAll(async () => {
  await Promise.allSettled([client?.close(), cached?.close()]);
  await server?.stop();
});

function report(name: string, started: bigint, commands: Record<string, number>): void {
  if (!MEASURE) return;
  const us = Number(process.hrtime.bigint() - started) / 1000 / N;
  const total = Object.values(commands).reduce((a, b) => a + b, 0);
  console.log(
    `${name}: ${(total / N).toFixed(3)} commands/request ${JSON.stringify(commands)}, ${us.toFixed(1)} µs/request`,
  );
}

/** N read-only requests on one new session through `storage`: the commands they cost, and the cookie. */
async function readOnlyRequests(name: string, storage: StorageRedisKV) {
  const manager = new SessionManager({ storage, maxAge: MAX_AGE });
  const first = await request(manager, undefined, (s) => s.set('time', 1));
  await server.resetStats();
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await request(manager, first.cookie, (s) => s.get('time'));
  const commands = await stats(server);
  report(name, started, commands);
  return { commands, cookie: first.cookie };
}

describe('read-only request cost by refresh strategy', () => {
  it('GETEX (chosen): 1 command per request, the refresh included', async () => {
    const { commands } = await readOnlyRequests('GETEX', new StorageRedisKV({ client }));
    expect(commands).toEqual({ getex: N });
  });

  it('threshold: GET + PTTL in one pipeline, PEXPIRE when the TTL fell below maxAge - 10%', async () => {
    const key = 'threshold:0000000000000000000000';
    await client.set(key, '{"time":1}', { expiration: { type: 'PX', value: MAX_AGE } });
    await server.resetStats();
    const started = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const [value, ttl] = await Promise.all([client.get(key), client.pTTL(key)]);
      expect(value).not.toBeNull();
      if (ttl < MAX_AGE * 0.9) await client.pExpire(key, MAX_AGE);
    }
    const commands = await stats(server);
    report('GET+PTTL threshold', started, commands);
    expect(commands['get']).toBe(N);
    expect(commands['pttl']).toBe(N);
  });

  it('batched: GET, and one pipelined PEXPIRE per session per second (the reference loop)', async () => {
    const key = 'batched:000000000000000000000000';
    await client.set(key, '{"time":1}', { expiration: { type: 'PX', value: MAX_AGE } });
    const pending = new Set<string>();
    const flush = async () => {
      const keys = [...pending];
      pending.clear();
      await Promise.all(keys.map((k) => client.pExpire(k, MAX_AGE)));
    };
    const timer = setInterval(() => void flush(), 1000);
    await server.resetStats();
    const started = process.hrtime.bigint();
    try {
      for (let i = 0; i < N; i++) {
        expect(await client.get(key)).not.toBeNull();
        pending.add(key);
      }
      await flush();
    } finally {
      clearInterval(timer);
    }
    const commands = await stats(server);
    report('GET + batched PEXPIRE', started, commands);
    expect(commands['get']).toBe(N);
    expect(commands['pexpire']).toBeGreaterThanOrEqual(1);
  });

  it('client-side cache: GETEX once per refresh interval, one GET to fill the cache, then 0', async () => {
    const { commands, cookie } = await readOnlyRequests(
      'client-side cache',
      new StorageRedisKV({ client: cached, refreshIntervalMs: 1000 }),
    );
    const total = (commands['get'] ?? 0) + (commands['getex'] ?? 0);
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThan(N / 10);
    expect(idFrom(cookie)).toHaveLength(43);
  });
});

describe('write cost', () => {
  it.each([
    ['one app node', 1],
    ['two app nodes', 2],
  ])(
    '50 concurrent writers of one session through %s: every key kept, EVALSHA counted',
    async (name, nodes) => {
      const clients = [client];
      if (nodes === 2) {
        const second = createClient({ url: server.url });
        quiet(second);
        await second.connect();
        clients.push(second);
      }
      try {
        const managers = clients.map(
          (c) => new SessionManager({ storage: new StorageRedisKV({ client: c }), maxAge: MAX_AGE }),
        );
        const rounds = MEASURE ? 10 : 1;
        let attempts = 0;
        for (let round = 0; round < rounds; round++) {
          const first = await request(managers[0]!, undefined, (s) => s.set('start', true));
          await server.resetStats();
          await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              request(managers[i % nodes]!, first.cookie, (s) => s.set(`k${i}`, i)),
            ),
          );
          const commands = await stats(server);
          attempts += commands['evalsha'] ?? 0;
          expect(commands['getex']).toBe(50);
          const stored = JSON.parse(await server.cli('GET', `kv-session:${idFrom(first.cookie)}`));
          expect(Object.keys(stored)).toHaveLength(51);
        }
        if (MEASURE)
          console.log(`50 writers, ${name}: ${(attempts / rounds / 50).toFixed(2)} EVALSHA per write`);
        expect(attempts).toBeGreaterThanOrEqual(50 * rounds);
      } finally {
        if (clients[1] !== undefined) await clients[1].close();
      }
    },
    120_000,
  );
});
