/**
 * What a read-only request costs under each expiry-refresh strategy, counted with INFO commandstats
 * on a private server. Command counts are asserted; wall-clock figures are printed only when
 * KV_MEASURE=1 (then with more iterations):
 *
 *   KV_MEASURE=1 npx vitest run packages/redis/test/cost.test.ts
 *
 * The GETEX read, the write and the 50-writer figures are measured for every client library in
 * test/clients.ts, on a single node and on a 3-master Cluster.
 */
import { SessionManager } from '@kv-session/core';
import { StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, type TestClient } from './clients.js';
import { idFrom, quiet, request, stats } from './helpers.js';

const MEASURE = process.env['KV_MEASURE'] === '1';
const N = MEASURE ? 20_000 : 300;
const MAX_AGE = 60_000;

const cachedClientFor = (url: string) =>
  createClient({ url, RESP: 3, clientSideCache: { maxEntries: 1000 } });

let server: RedisServer;
let cluster: RedisCluster;
let client: ReturnType<typeof createClient>;
let cached: ReturnType<typeof cachedClientFor>;

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
  client = createClient({ url: server.url });
  cached = cachedClientFor(server.url);
  quiet(client);
  quiet(cached);
  await Promise.all([client.connect(), cached.connect()]);
});

afterAll(async () => {
  await Promise.allSettled([client?.close(), cached?.close()]);
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

/** The commands of one deployment: a single server, or every node of the Cluster summed. */
interface Deployment {
  resetStats(): Promise<void>;
  /**
   * Commands since the reset, without INFO/CONFIG and a Cluster client's own calls: CLUSTER and
   * COMMAND, and the HELLO of a connection that a Cluster client (ioredis 6) opens on first use.
   */
  stats(): Promise<Record<string, number>>;
  /** The stored JSON of a key. */
  get(key: string): Promise<string>;
}

const single = (): Deployment => ({
  resetStats: () => server.resetStats(),
  stats: () => stats(server),
  get: (key) => server.cli('GET', key),
});

const clustered = (): Deployment => ({
  resetStats: async () => {
    await Promise.all(cluster.nodes.map((n) => n.resetStats()));
  },
  stats: async () => {
    const out: Record<string, number> = {};
    for (const node of cluster.nodes) {
      for (const [name, calls] of Object.entries(await stats(node))) {
        if (/^(cluster|command)(\||$)|^hello$/.test(name)) continue;
        out[name] = (out[name] ?? 0) + calls;
      }
    }
    return out;
  },
  get: async (key) => {
    for (const node of cluster.nodes) {
      // A node that does not own the key answers with a MOVED redirection.
      const value = await node.cli('GET', key);
      if (value !== '' && !value.startsWith('MOVED')) return value;
    }
    return '';
  },
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
async function readOnlyRequests(name: string, storage: StorageRedisKV, where: Deployment = single()) {
  const manager = new SessionManager({ storage, maxAge: MAX_AGE });
  const first = await request(manager, undefined, (s) => s.set('time', 1));
  await where.resetStats();
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await request(manager, first.cookie, (s) => s.get('time'));
  const commands = await where.stats();
  report(name, started, commands);
  return { commands, cookie: first.cookie };
}

describe.each(
  CLIENT_KINDS.flatMap((kind) => [
    { name: `${kind.name}, single node`, connect: () => kind.single(server.url), where: single },
    {
      name: `${kind.name}, 3-master Cluster`,
      connect: () => kind.cluster(cluster.rootNodes),
      where: clustered,
    },
  ]),
)('cost per request ($name)', ({ name, connect, where }) => {
  let clients: TestClient[] = [];
  beforeAll(async () => {
    // Two app nodes for the write test; the first also serves the read test.
    clients = await Promise.all([connect(), connect()]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('read-only: 1 command per request (GETEX), the refresh included', async () => {
    const storage = new StorageRedisKV({ client: clients[0]!.client });
    const { commands } = await readOnlyRequests(`GETEX (${name})`, storage, where());
    expect(commands).toEqual({ getex: N });
  });

  it('write of a loaded session: GETEX + one EVALSHA (the GET and SET of the script counted inside it)', async () => {
    const storage = new StorageRedisKV({ client: clients[0]!.client });
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    const first = await request(manager, undefined, (s) => s.set('time', 1));
    // Loads the script on the node of this key (first EVALSHA answers NOSCRIPT, then EVAL).
    await request(manager, first.cookie, (s) => s.set('time', 2));
    const deployment = where();
    await deployment.resetStats();
    for (let i = 0; i < 10; i++) await request(manager, first.cookie, (s) => s.set('time', i));
    expect(await deployment.stats()).toEqual({ getex: 10, evalsha: 10, get: 10, set: 10 });
    await deployment.resetStats();
    // A new session is one plain SET NX.
    await request(manager, undefined, (s) => s.set('time', 1));
    expect(await deployment.stats()).toEqual({ set: 1 });
  });

  it.each([
    ['one app node', 1],
    ['two app nodes', 2],
  ])(
    '50 concurrent writers of one session through %s: every key kept, EVALSHA counted',
    async (nodes, count) => {
      const managers = clients
        .slice(0, count)
        .map(
          (c) => new SessionManager({ storage: new StorageRedisKV({ client: c.client }), maxAge: MAX_AGE }),
        );
      const deployment = where();
      const rounds = MEASURE ? 10 : 1;
      let attempts = 0;
      for (let round = 0; round < rounds; round++) {
        const first = await request(managers[0]!, undefined, (s) => s.set('start', true));
        await deployment.resetStats();
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            request(managers[i % count]!, first.cookie, (s) => s.set(`k${i}`, i)),
          ),
        );
        const commands = await deployment.stats();
        attempts += (commands['evalsha'] ?? 0) + (commands['eval'] ?? 0);
        expect(commands['getex']).toBe(50);
        const stored = JSON.parse(await deployment.get(`kv-session:${idFrom(first.cookie)}`));
        expect(Object.keys(stored)).toHaveLength(51);
      }
      if (MEASURE)
        console.log(
          `50 writers, ${name}, ${nodes}: ${(attempts / rounds / 50).toFixed(2)} EVALSHA per write`,
        );
      expect(attempts).toBeGreaterThanOrEqual(50 * rounds);
    },
    120_000,
  );
});

describe('read-only request cost by refresh strategy', () => {
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
      new StorageRedisKV({ client: cached, refreshInterval: 1000 }),
    );
    const total = (commands['get'] ?? 0) + (commands['getex'] ?? 0);
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThan(N / 10);
    expect(idFrom(cookie)).toHaveLength(43);
  });
});

describe('a change set that changes nothing writes nothing', () => {
  it('StorageRedisKV: remove() of an absent key costs the GETEX alone', async () => {
    const manager = new SessionManager({ storage: new StorageRedisKV({ client }), maxAge: MAX_AGE });
    const first = await request(manager, undefined, (s) => s.setMany({ user: 'ann', flash: {} }));
    await server.resetStats();
    await request(manager, first.cookie, (s) => s.remove('absent'));
    await request(manager, first.cookie, (s) => s.remove('absent', 'also-absent'));
    expect(await stats(server)).toEqual({ getex: 2 });
    // A real change still writes, and the stored data is what was set.
    await server.resetStats();
    await request(manager, first.cookie, (s) => s.remove('flash'));
    expect(await stats(server)).toMatchObject({ getex: 1, evalsha: 1 });
    expect(JSON.parse(await server.cli('GET', `kv-session:${idFrom(first.cookie)}`))).toEqual({
      user: 'ann',
    });
  });

  it('StorageRedisHash: remove() of an absent key costs the size read alone (no apply script)', async () => {
    const storage = new StorageRedisHash({ client });
    const manager = new SessionManager({ storage, maxAge: MAX_AGE });
    const first = await request(manager, undefined, (s) => s.set('user', 'ann'));
    // warm the script cache
    await request(manager, first.cookie, (s) => s.set('x', 1));
    await server.resetStats();
    await request(manager, first.cookie, (s) => s.remove('absent'));
    const commands = await stats(server);
    expect(commands['evalsha']).toBe(1);
    expect(commands['hset']).toBeUndefined();
    expect(commands['hdel']).toBeUndefined();
    expect((await storage.load(idFrom(first.cookie), MAX_AGE))!.data).toEqual({ user: 'ann', x: 1 });
  });
});
