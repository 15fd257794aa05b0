// CPU per StorageRedisKV.load() of one session: a GETEX round trip (plain client) against a read
// answered by node-redis's client-side cache (RESP3 + clientSideCache), in this process, against a
// private redis-server; 10 reads in flight at a time, as the bench's 10 connections.
//   node bench/csc-cost.js [--reads=20000] [--kb=0.1]
import { parseArgs } from 'node:util';
import { StorageRedisKV } from '@kv-session/redis';
import { startRedis } from '@kv-session/testing';
import { createClient } from 'redis';

const { values } = parseArgs({
  options: { reads: { type: 'string', default: '20000' }, kb: { type: 'string', default: '0.1' } },
});
const reads = Number(values.reads);
const redis = await startRedis();
const data = {
  user: { id: 42, name: 'Ada Lovelace' },
  pad: 'x'.repeat(Math.max(0, Number(values.kb) * 1024 - 50)),
};

async function measure(label, options) {
  const client = createClient({ url: redis.url, ...options });
  await client.connect();
  const storage = new StorageRedisKV({ client });
  await storage.save('csc-cost-session-0123456789abcdef', data, 86_400_000);
  const run = async (n) => {
    let next = 0;
    const worker = async () => {
      while (next++ < n) await storage.load('csc-cost-session-0123456789abcdef', 86_400_000);
    };
    await Promise.all(Array.from({ length: 10 }, worker));
  };
  await run(reads / 4); // warm-up
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(reads);
  const used = process.cpuUsage(cpu);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
  console.log(
    `${label.padEnd(28)} ${((used.user + used.system) / reads).toFixed(2).padStart(7)} µs CPU/read  ${(wallUs / reads).toFixed(2).padStart(7)} µs wall/read`,
  );
  await client.close();
}

try {
  for (let i = 0; i < 2; i++) {
    await measure('GETEX (no cache)', {});
    await measure('node-redis CSC (cache hit)', {
      RESP: 3,
      clientSideCache: { ttl: 0, maxEntries: 10_000, evictPolicy: 'LRU' },
    });
  }
} finally {
  await redis.stop();
}
