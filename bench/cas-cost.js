// Redis CPU of one session write (the compare-and-set of StorageRedisKV.apply) at 1, 10 and 100 KB,
// from `INFO commandstats` of a private redis-server: the microseconds Redis spent in the commands
// a write sends (EVALSHA, and the SETs of the temporary keys where a write sends them; commands a
// script runs are inside its EVALSHA's time), per write. Writes go one at a time to one session
// (no conflicts), through SessionManager as in bench/write-cost.js.
//   node bench/cas-cost.js [--writes=2000] [--sizes=1,10,100] [--rounds=2]
import { parseArgs } from 'node:util';
import { SessionManager, sign } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { MAX_AGE_MS, SECRET } from './apps/common.js';
import { parseCommandTimes } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '2000' },
    sizes: { type: 'string', default: '1,10,100' },
    rounds: { type: 'string', default: '2' },
  },
});
const redis = await startRedis();
const client = createClient({ url: redis.url });
await client.connect();
const storage = new StorageRedisKV({ client });
const manager = new SessionManager({ storage, secret: SECRET, maxAge: MAX_AGE_MS });
const id = 'cas-cost-session-0123456789abcdefghij';
const headers = { cookie: `sid=${sign(id, SECRET)}` };

let n = 0;
const write = async () => {
  const s = manager.sessionFromHeaders(headers, { secure: false });
  await s.set('n', ++n);
  await manager.commit(s);
};
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kb of values.sizes.split(',').map(Number)) {
      const bio = 'x'.repeat(Math.max(0, Math.round(kb * 1024) - 90));
      await storage.save(id, { user: { id: 42, name: 'Ada Lovelace', bio } }, MAX_AGE_MS);
      const writes = Number(values.writes);
      for (let i = 0; i < writes / 4; i++) await write(); // warm-up
      await client.configResetStat();
      for (let i = 0; i < writes; i++) await write();
      const stats = parseCommandTimes(await client.info('commandstats'));
      const evalsha = stats.evalsha ?? { calls: 0, usec: 0 };
      // A SET counted once per write is the script's own (inside EVALSHA's time); more are the
      // client's SETs of temporary keys, timed on their own.
      const set = stats.set ?? { calls: 0, usec: 0 };
      const sets = set.calls > evalsha.calls ? set : { calls: 0, usec: 0 };
      const perWrite = (evalsha.usec + sets.usec) / writes;
      const nested = Object.entries(stats)
        .filter(([name]) => !['info', 'config|resetstat', 'getex', 'evalsha', 'eval'].includes(name))
        .map(([name, s]) => `${name} ${(s.calls / writes).toFixed(2)}`)
        .join(', ');
      console.log(
        `${String(kb).padStart(4)} KB  redis µs per write ${perWrite.toFixed(1).padStart(7)}  ` +
          `(evalsha ${(evalsha.usec / evalsha.calls).toFixed(1)} µs/call, client SETs ${(sets.usec / writes).toFixed(1)} µs/write)  ` +
          `getex ${((stats.getex?.usec ?? 0) / writes).toFixed(1)} µs; other calls per write: ${nested}`,
      );
    }
  }
} finally {
  await client.close();
  await redis.stop();
}
