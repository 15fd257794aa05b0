// CPU per session read without HTTP, in this process, against a private redis-server (10 reads in
// flight): the floor's raw GET + JSON.parse, a raw GETEX + JSON.parse, StorageRedisKV.load, and
// kv-session's whole read path (sessionFromHeaders with a signed cookie, data(), commit).
//   node bench/read-cost.js [--reads=20000]
import { parseArgs } from 'node:util';
import { SessionManager, sign } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { MAX_AGE_MS, SECRET, SEED } from './apps/common.js';
import { inFlight } from './lib/in-flight.js';

const { values } = parseArgs({ options: { reads: { type: 'string', default: '20000' } } });
const reads = Number(values.reads);
const redis = await startRedis();
const client = createClient({ url: redis.url });
await client.connect();
const storage = new StorageRedisKV({ client });
const manager = new SessionManager({ storage, secret: SECRET, maxAge: MAX_AGE_MS });
const id = 'read-cost-session-0123456789abcdefgh';
await storage.save(id, SEED, MAX_AGE_MS);
await client.set(`floor:${id}`, JSON.stringify(SEED));
const headers = { cookie: `sid=${sign(id, SECRET)}` };

async function measure(label, read) {
  const run = (n) => inFlight(n, read);
  await run(reads / 4); // warm-up
  const cpu = process.cpuUsage();
  await run(reads);
  const used = process.cpuUsage(cpu);
  console.log(
    `${label.padEnd(50)} ${((used.user + used.system) / reads).toFixed(2).padStart(6)} µs CPU/read`,
  );
}

try {
  for (let round = 0; round < 2; round++) {
    await measure('floor: GET + JSON.parse', async () => JSON.parse(await client.get(`floor:${id}`)));
    await measure('raw GETEX + JSON.parse', async () =>
      JSON.parse(await client.getEx(`floor:${id}`, { type: 'PX', value: MAX_AGE_MS })),
    );
    await measure('StorageRedisKV.load', () => storage.load(id, MAX_AGE_MS));
    await measure('kv-session: sessionFromHeaders + data() + commit', async () => {
      const s = manager.sessionFromHeaders(headers, { secure: false });
      await s.data();
      await manager.commit(s);
    });
  }
} finally {
  await client.close();
  await redis.stop();
}
