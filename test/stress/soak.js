// Soak: SOAK_SESSIONS distinct sessions (default 5000; the documented run is SOAK_SESSIONS=100000)
// created (GET /set) and read back (GET /get) through one Express process with StorageRedisKV on a
// private redis-server. Heap and RSS are measured after forced GCs before and after; the heap may
// grow by at most SOAK_FIXED_SLACK_BYTES (default 2 MiB: JIT code, pools, the HTTP agent) plus
// SOAK_BYTES_PER_SESSION (default 32) per session: anything kept per session (an id string alone
// is over 60 bytes) fails it at large sizes. Needs --expose-gc (run.js passes it).
//   SOAK_SESSIONS=100000 node --expose-gc test/stress/soak.js
import { Agent, request } from 'node:http';
import { Checks, envNumber, freePort, importBuilt, importFrom, sleep, startRedis } from './lib.js';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const SESSIONS = envNumber('SOAK_SESSIONS', 5000);
const CONCURRENCY = envNumber('SOAK_CONCURRENCY', 16);
const PER_SESSION = envNumber('SOAK_BYTES_PER_SESSION', 32);
const FIXED_SLACK = envNumber('SOAK_FIXED_SLACK_BYTES', 2 * 1024 * 1024);
const WARMUP = Math.min(2000, Math.ceil(SESSIONS / 5));

const { default: express } = await importFrom('express', 'express');
const { createClient } = await importFrom('redis', 'redis');
const { session } = await importBuilt('express');
const { StorageRedisKV } = await importBuilt('redis');

const checks = new Checks();
const redis = await startRedis();
const client = createClient({ url: redis.url });
client.on('error', () => undefined);
await client.connect();

const app = express();
app.use(
  session({
    storage: new StorageRedisKV({ client }),
    secret: 'soak-secret-0123456789abcdef',
    maxAge: 3_600_000,
  }),
);
app.get('/set', async (req, res) => {
  await req.session.set('n', Number(req.query.n));
  res.type('text').send('ok');
});
app.get('/get', async (req, res) => {
  res.json(await req.session.data());
});
const port = await freePort();
const server = await new Promise((resolve) => {
  const s = app.listen(port, '127.0.0.1', () => resolve(s));
});

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function get(path, cookie) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: cookie === undefined ? {} : { cookie } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body, setCookie: res.headers['set-cookie'] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let failures = 0;
async function drive(from, to) {
  let next = from;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < to) {
        const n = next++;
        const created = await get(`/set?n=${n}`);
        const cookie = created.setCookie?.[0]?.split(';')[0];
        const read = cookie === undefined ? undefined : await get('/get', cookie);
        if (created.status !== 200 || read?.status !== 200 || JSON.parse(read.body).n !== n) failures++;
      }
    }),
  );
}

async function settle() {
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    await sleep(50);
  }
  return process.memoryUsage();
}

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
await drive(-WARMUP, 0);
const before = await settle();
const started = Date.now();
await drive(0, SESSIONS);
const seconds = (Date.now() - started) / 1000;
const after = await settle();
const stored = Number(await redis.cli('DBSIZE'));

const growth = after.heapUsed - before.heapUsed;
const bound = FIXED_SLACK + PER_SESSION * SESSIONS;
console.log(
  JSON.stringify(
    {
      sessions: SESSIONS,
      requests: SESSIONS * 2,
      seconds,
      requestsPerSecond: Math.round((SESSIONS * 2) / seconds),
      before: { heapUsed: mib(before.heapUsed), heapTotal: mib(before.heapTotal), rss: mib(before.rss) },
      after: { heapUsed: mib(after.heapUsed), heapTotal: mib(after.heapTotal), rss: mib(after.rss) },
      heapGrowthBytes: growth,
      heapGrowthPerSessionBytes: Number((growth / SESSIONS).toFixed(2)),
      rssGrowth: mib(after.rss - before.rss),
      heapBoundBytes: bound,
      storedInRedis: stored,
      failures,
    },
    null,
    2,
  ),
);

checks.check(failures === 0, `every session was created and read back (${SESSIONS - failures}/${SESSIONS})`);
checks.check(
  stored === SESSIONS + WARMUP,
  `every session lives in Redis, not in the process (${stored} keys)`,
);
checks.check(
  growth <= bound,
  `heap growth ${mib(growth)} <= ${mib(FIXED_SLACK)} + ${PER_SESSION} B x ${SESSIONS} sessions (${(growth / SESSIONS).toFixed(1)} B/session)`,
);

agent.destroy();
await new Promise((r) => server.close(r));
await client.close();
await redis.stop();
checks.finish('soak');
