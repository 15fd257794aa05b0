// CPU per session read without HTTP, in this process, against a private redis-server (10 reads in
// flight): the floor's raw GET + JSON.parse, a raw GETEX + JSON.parse, StorageRedisKV.load,
// sessionFromHeaders alone, and kv-session's whole read path (sessionFromHeaders with a signed
// cookie, data(), commit).
//   node bench/read-cost.js [--reads=20000] [--rounds=2]
//   node bench/read-cost.js --icount [--reads=3000] [--warmup=6000]
// With --icount each step is counted in instructions per read instead of timed: this script runs
// itself under valgrind's callgrind (as bench/icount.js runs the servers), warms each step up with
// counting off, then counts `--reads` reads of it (callgrind_control -z / -i on / -i off / -d from
// this, the parent process). Needs valgrind; node runs about 50 times slower under it.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { SessionManager, sign } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { MAX_AGE_MS, SECRET, SEED } from './apps/common.js';
import { callgrindArgs, totalInstructions } from './lib/callgrind.js';
import { inFlight } from './lib/in-flight.js';

const { values } = parseArgs({
  options: {
    reads: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    icount: { type: 'boolean', default: false },
    // Internal: set on the copy of this script that runs under valgrind.
    'icount-child': { type: 'string' },
  },
});

/** The steps measured, in order: a label and one read. */
function steps(client, storage, manager, id, headers) {
  return [
    ['floor: GET + JSON.parse', async () => JSON.parse(await client.get(`floor:${id}`))],
    [
      'raw GETEX + JSON.parse',
      async () => JSON.parse(await client.getEx(`floor:${id}`, { type: 'PX', value: MAX_AGE_MS })),
    ],
    ['StorageRedisKV.load', () => storage.load(id, MAX_AGE_MS)],
    ['sessionFromHeaders alone', async () => manager.sessionFromHeaders(headers, { secure: false })],
    [
      'kv-session: sessionFromHeaders + data() + commit',
      async () => {
        const s = manager.sessionFromHeaders(headers, { secure: false });
        await s.data();
        await manager.commit(s);
      },
    ],
  ];
}

/** Runs `body` with a private redis-server, a client, a storage and a manager on it. */
async function withSetup(body) {
  const redis = await startRedis();
  const client = createClient({ url: redis.url });
  await client.connect();
  // Under valgrind (50 times slower, on a shared machine) the default 2 s can pass during a
  // warm-up; the bound costs the same whatever its length.
  const storage = new StorageRedisKV({
    client,
    ...(values['icount-child'] === undefined ? {} : { commandTimeout: 60_000 }),
  });
  const manager = new SessionManager({ storage, secret: SECRET, maxAge: MAX_AGE_MS });
  const id = 'read-cost-session-0123456789abcdefgh';
  await storage.save(id, SEED, MAX_AGE_MS);
  await client.set(`floor:${id}`, JSON.stringify(SEED));
  const headers = { cookie: `sid=${sign(id, SECRET)}` };
  try {
    await body(steps(client, storage, manager, id, headers));
  } finally {
    await client.close();
    await redis.stop();
  }
}

/** Timed: µs of CPU per read of each step, `rounds` times. */
async function timed() {
  const reads = Number(values.reads ?? 20000);
  await withSetup(async (list) => {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [label, read] of list) {
        await inFlight(reads / 4, read); // warm-up
        const cpu = process.cpuUsage();
        await inFlight(reads, read);
        const used = process.cpuUsage(cpu);
        console.log(
          `${label.padEnd(50)} ${((used.user + used.system) / reads).toFixed(2).padStart(6)} µs CPU/read`,
        );
      }
    }
  });
}

/** Under valgrind: warms each step up, then asks the parent to count `reads` reads of it. */
async function icountChild() {
  const [reads, warmup] = values['icount-child'].split(',').map(Number);
  const ask = async (message) => {
    const reply = once(process, 'message');
    process.send(message);
    await reply;
  };
  await withSetup(async (list) => {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [label, read] of list) {
        await inFlight(warmup, read);
        await ask({ type: 'start', label, round });
        await inFlight(reads, read);
        await ask({ type: 'stop', label, round });
      }
    }
  });
  process.disconnect();
}

/** Counted: runs this script under callgrind and prints instructions per read of each step. */
async function icount() {
  const run = promisify(execFile);
  const reads = Number(values.reads ?? 3000);
  const warmup = Number(values.warmup ?? 6000);
  const out = join(tmpdir(), `kv-read-cost-${process.pid}.out`);
  const child = spawn(
    'valgrind',
    [
      ...callgrindArgs(out),
      process.execPath,
      fileURLToPath(import.meta.url),
      `--icount-child=${reads},${warmup}`,
      `--rounds=${values.rounds}`,
    ],
    { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = once(child, 'exit');
  const dumps = () =>
    readdirSync(dirname(out)).filter((f) => f.startsWith(`${basename(out)}.`) && /\.\d+$/.test(f));
  const results = [];
  try {
    for await (const [msg] of on(child, 'message', exited)) {
      if (msg.type === 'start') {
        await run('callgrind_control', ['-z', String(child.pid)]);
        await run('callgrind_control', ['-i', 'on', String(child.pid)]);
      } else {
        await run('callgrind_control', ['-i', 'off', String(child.pid)]);
        const before = new Set(dumps());
        await run('callgrind_control', ['-d', String(child.pid)]);
        const file = dumps().find((f) => !before.has(f));
        if (file === undefined) throw new Error('callgrind wrote no dump');
        const perRead = totalInstructions(join(dirname(out), file)) / reads;
        results.push({ label: msg.label, round: msg.round, perRead });
        console.log(`${msg.label.padEnd(50)} ${(perRead / 1000).toFixed(1).padStart(7)} k instructions/read`);
      }
      child.send({ type: 'go' });
    }
    const [code] = await exited;
    if (code !== 0) throw new Error(`child exited with ${code}: ${stderr.slice(-2000)}`);
  } finally {
    child.kill();
    if (process.env.KEEP === undefined) {
      rmSync(out, { force: true });
      for (const f of dumps()) rmSync(join(dirname(out), f), { force: true });
    }
  }
  return results;
}

/** The messages of `child` until `end` settles. */
async function* on(child, event, end) {
  let done = false;
  end.then(() => {
    done = true;
  });
  while (!done) {
    const next = await Promise.race([once(child, event), end.then(() => undefined)]);
    if (next === undefined) return;
    yield next;
  }
}

if (values['icount-child'] !== undefined) await icountChild();
else if (values.icount) await icount();
else await timed();
