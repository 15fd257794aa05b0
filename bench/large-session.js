// Large-session case: one session of ~5 MB (50 values of 100 KB plus a small `user` key), read for
// one key per request (GET /user) or written for one key (GET /tick), on StorageRedisKV versus
// StorageRedisHash, against a private redis-server. Reports per request: storage round trips, Redis
// commands (commands run inside scripts included, as INFO commandstats counts them), bytes sent
// by Redis and bytes received by it; then req/s over HTTP (autocannon, one session per connection).
//
// Run: pnpm -s build && node bench/large-session.js [--duration 5] [--connections 4] [--mb 5] [--json]
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '4' },
    mb: { type: 'string', default: '5' },
    samples: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const SAMPLES = Number(args.samples);
const CHUNK = 100_000;
const CHUNKS = Math.round((Number(args.mb) * 1_000_000) / CHUNK);

const { SessionManager } = await import('@kv-session/core');
const { StorageRedisHash, StorageRedisKV } = await import('@kv-session/redis');
const { startRedis } = await import('@kv-session/testing');
const { createClient } = await import('redis');
const { default: autocannon } = await import('autocannon');

/** Counts storage calls (each is one round trip to Redis for these two storages). */
function counting(storage) {
  const calls = { n: 0 };
  const proxy = new Proxy(storage, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (['load', 'loadKeys', 'loadSizes', 'save', 'touch', 'remove', 'apply'].includes(prop)) {
        return (...a) => {
          calls.n++;
          return value.apply(target, a);
        };
      }
      return value.bind(target);
    },
  });
  return { storage: proxy, calls };
}

async function netBytes(server) {
  const info = await server.cli('INFO', 'stats');
  const num = (name) => Number(new RegExp(`${name}:(\\d+)`).exec(info)[1]);
  return { out: num('total_net_output_bytes'), in: num('total_net_input_bytes') };
}

async function commands(server) {
  return server.totalCommands(['info', 'config|resetstat']);
}

/** Error messages of failed requests, with counts (reported with the table). */
const failures = new Map();
/** Requests being handled; the client is closed only once none is left. */
let inflight = 0;

/** Handles one request the way the adapters do: session(), the route, commit(), then respond. */
function handler(manager) {
  let tick = 0;
  return async (req, res) => {
    inflight++;
    try {
      const session = manager.session({ cookie: req.headers.cookie });
      let body;
      if (req.url === '/user') body = JSON.stringify((await session.get('user')) ?? null);
      else if (req.url === '/tick') {
        await session.set('tick', ++tick);
        body = 'ok';
      } else body = 'not found';
      const { setCookie } = await manager.commit(session);
      if (setCookie !== undefined) res.setHeader('set-cookie', setCookie);
      res.end(body);
    } catch (error) {
      res.statusCode = error.status ?? 500;
      const key = `${error.name}: ${String(error.message).slice(0, 120)}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
      res.end(String(error.message));
    } finally {
      inflight--;
    }
  };
}

async function seed(manager) {
  const session = manager.session();
  const data = { user: { name: 'ada', roles: ['admin'] } };
  for (let i = 0; i < CHUNKS; i++) data[`blob${i}`] = String(i % 10).repeat(CHUNK);
  await session.setMany(data);
  const { setCookie } = await manager.commit(session);
  return setCookie.split(';')[0];
}

async function perRequest(server, manager, calls, cookie, path) {
  const handle = handler(manager);
  const run = () =>
    new Promise((resolve) => {
      const res = { statusCode: 200, setHeader() {}, end: resolve };
      handle({ url: path, headers: { cookie } }, res);
    });
  await run(); // warm up (script load)
  // Baseline: what the two INFO snapshots themselves cost.
  const b0 = await netBytes(server);
  const b1 = await netBytes(server);
  const infoOut = b1.out - b0.out;
  const infoIn = b1.in - b0.in;
  await server.resetStats();
  const c0 = calls.n;
  const n0 = await netBytes(server);
  for (let i = 0; i < SAMPLES; i++) await run();
  const n1 = await netBytes(server);
  const cmds = (await commands(server)) - 0;
  return {
    roundTrips: (calls.n - c0) / SAMPLES,
    commands: cmds / SAMPLES,
    bytesFromRedis: Math.round((n1.out - n0.out - infoOut) / SAMPLES),
    bytesToRedis: Math.round((n1.in - n0.in - infoIn) / SAMPLES),
  };
}

async function throughput(manager, cookies, path) {
  const server = createServer(handler(manager));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    duration: DURATION,
    setupClient: (client) => client.setHeaders({ cookie: cookies[next++ % cookies.length] }),
  });
  // autocannon stops waiting at the deadline; let the requests still in flight finish.
  while (inflight > 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => server.close(r));
  const reqPerSec = result.requests.total / DURATION;
  return {
    reqPerSec: reqPerSec >= 10 ? Math.round(reqPerSec) : Number(reqPerSec.toFixed(1)),
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const redis = await startRedis();
const results = [];
try {
  for (const kind of ['kv', 'hash']) {
    const client = createClient({ url: redis.url });
    client.on('error', (e) => console.error('[redis]', e));
    await client.connect();
    // 5 MB replies to several connections at once take long on a busy machine: a generous timeout,
    // so that req/s measures the work rather than 503s.
    const options = { client, commandTimeoutMs: 10_000 };
    const raw = kind === 'kv' ? new StorageRedisKV(options) : new StorageRedisHash(options);
    const { storage, calls } = counting(raw);
    const manager = new SessionManager({ storage, maxSize: 16 * 1024 * 1024, maxAge: 3_600_000 });
    const cookies = [];
    for (let i = 0; i < CONNECTIONS; i++) cookies.push(await seed(manager));
    for (const path of ['/user', '/tick']) {
      const exact = await perRequest(redis, manager, calls, cookies[0], path);
      const speed = await throughput(manager, cookies, path);
      results.push({
        storage: kind === 'kv' ? 'StorageRedisKV' : 'StorageRedisHash',
        path,
        ...exact,
        ...speed,
      });
    }
    await client.quit();
    await redis.cli('FLUSHALL');
  }
} finally {
  await redis.stop();
}

if (args.json) {
  console.log(
    JSON.stringify(
      {
        sessionBytes: CHUNKS * CHUNK,
        connections: CONNECTIONS,
        results,
        failures: Object.fromEntries(failures),
      },
      null,
      2,
    ),
  );
} else {
  const kb = (b) => (b >= 10_000 ? `${(b / 1_000_000).toFixed(2)} MB` : `${b} B`);
  console.log(
    `Session of ${((CHUNKS * CHUNK) / 1e6).toFixed(1)} MB; ${SAMPLES} sequential requests for the exact figures, ` +
      `${CONNECTIONS} connections x ${DURATION} s for req/s.\n`,
  );
  console.log(
    '| storage | request | round trips | Redis commands | bytes from Redis | bytes to Redis | req/s |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const what = r.path === '/user' ? 'read one key' : 'write one key';
    console.log(
      `| ${r.storage} | ${what} | ${r.roundTrips} | ${r.commands} | ${kb(r.bytesFromRedis)} | ${kb(r.bytesToRedis)} | ${r.reqPerSec}${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''} |`,
    );
  }
  for (const [message, count] of failures) console.log(`\nfailed ${count}x: ${message}`);
}
