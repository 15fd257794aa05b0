// CPU per session write without HTTP, in this process and in Redis, against a private redis-server
// (10 writes in flight, all to one session, as `/set` in `pnpm bench`), for sessions of 1, 10 and
// 100 KB (the bench's SEED with its `bio` string): the floor's GET + JSON.parse + JSON.stringify +
// SET, and kv-session's whole write path (sessionFromHeaders with a signed cookie, set(), commit:
// a GETEX and a compare-and-set). Redis CPU is the server's `used_cpu_user + used_cpu_sys` (INFO
// cpu) over the run, per write: it shares the machine with the app.
//   node bench/write-cost.js [--writes=4000] [--sizes=1,10,100] [--rounds=2]
import { parseArgs } from 'node:util';
import { SessionManager, sign } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { MAX_AGE_MS, SECRET } from './apps/common.js';
import { inFlight } from './lib/in-flight.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '4000' },
    sizes: { type: 'string', default: '1,10,100' },
    rounds: { type: 'string', default: '2' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const redis = await startRedis();
const client = createClient({ url: redis.url });
await client.connect();
const storage = new StorageRedisKV({ client });
const manager = new SessionManager({ storage, secret: SECRET, maxAge: MAX_AGE_MS });
const id = 'write-cost-session-0123456789abcdefgh';
const headers = { cookie: `sid=${sign(id, SECRET)}` };

/** The bench's SEED at `kb` KB (bench/apps/common.js builds it from BENCH_SESSION_KB). */
function seed(kb) {
  return {
    user: {
      id: 42,
      name: 'Ada Lovelace',
      roles: ['admin', 'editor'],
      locale: 'en-GB',
      bio: 'x'.repeat(Math.max(0, Math.round(kb * 1024) - 90)),
    },
  };
}

async function redisCpuUs() {
  const info = await client.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** Node and Redis CPU µs per call of `write`, 10 calls in flight. */
async function measure(writes, write) {
  const run = (n) => inFlight(n, write);
  await run(writes / 4); // warm-up
  const redisBefore = await redisCpuUs();
  const cpu = process.cpuUsage();
  await run(writes);
  const used = process.cpuUsage(cpu);
  const redisUsed = (await redisCpuUs()) - redisBefore;
  return { node: (used.user + used.system) / writes, redis: redisUsed / writes };
}

const rows = [];
let n = 0;
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kb of sizes) {
      const data = seed(kb);
      const writes = Math.max(400, Math.round(Number(values.writes) / Math.sqrt(kb)));
      await storage.save(id, data, MAX_AGE_MS);
      await client.set(`floor:${id}`, JSON.stringify(data));
      const floor = await measure(writes, async () => {
        const value = JSON.parse(await client.get(`floor:${id}`));
        value.n = ++n;
        await client.set(`floor:${id}`, JSON.stringify(value), { PX: MAX_AGE_MS });
      });
      const kv = await measure(writes, async () => {
        const s = manager.sessionFromHeaders(headers, { secure: false });
        await s.set('n', ++n);
        await manager.commit(s);
      });
      const text = JSON.stringify(data);
      const json = await measure(writes, async () => JSON.stringify(JSON.parse(text)));
      rows.push({ round, kb, floor, kv, json });
      const f = (v) => v.toFixed(1).padStart(7);
      console.log(
        `${String(kb).padStart(4)} KB  floor ${f(floor.node)} µs + redis ${f(floor.redis)}   ` +
          `kv ${f(kv.node)} µs + redis ${f(kv.redis)}   json alone ${f(json.node)} µs`,
      );
    }
  }
} finally {
  await client.close();
  await redis.stop();
}
