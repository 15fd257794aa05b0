// `pnpm bench` / `pnpm bench:quick`: starts a private redis-server and each stack as its own
// process on 127.0.0.1, checks that the stack answers correctly, then loads every route with
// autocannon from this process and records req/s, latency percentiles (own sub-ms samples), Redis
// commands per request (INFO commandstats deltas), server CPU per request and RSS.
//
//   node bench/run.js [--quick] [--only=id,id] [--duration=s] [--warmup=s] [--connections=n] [--no-docs]
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { SEED } from './apps/common.js';
import { docsPage } from './lib/docs.js';
import { startMonitor } from './lib/monitor.js';
import { harnessConnection } from './lib/redis-info.js';
import { svgChart, textTable } from './lib/report.js';
import {
  commandDelta,
  cpuPerRequest,
  parseCommandStats,
  percentiles,
  perRequest,
  roundTrips,
  Samples,
} from './lib/stats.js';
import { ROUTES, STACKS } from './stacks.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '10' },
    'no-docs': { type: 'boolean', default: false },
  },
});
const quick = flags.quick;
const duration = Number(flags.duration ?? (quick ? 1 : 3));
const warmup = Number(flags.warmup ?? (quick ? 0 : 1));
const connections = Number(flags.connections);
const writeDocs = !quick && !flags['no-docs'] && flags.only === undefined;
const only = flags.only?.split(',').map((s) => s.trim());
const stacks = only ? STACKS.filter((s) => only.includes(s.id)) : STACKS;
if (stacks.length === 0)
  throw new Error(`--only matched no stack (ids: ${STACKS.map((s) => s.id).join(', ')})`);

const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));
const docsFile = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const chartFile = fileURLToPath(new URL('../docs/benchmarks.svg', import.meta.url));
const SEED_JSON = JSON.stringify(SEED);
const EXPECT = { get: SEED_JSON, ping: 'pong', set: 'ok', new: 'ok' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes ----------------------------------------------------------------------------

const children = new Set();
let redis;
/** The harness's own Redis connection (INFO, FLUSHALL). */
let harnessRedis;

function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    redis?.stop().finally(() => process.exit(130));
  });
}

async function startStack(stack, redisUrl, freePort) {
  const port = await freePort();
  const child = fork(serverFile, [stack.id], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('did not start within 20 s')), 20_000);
    child.on('message', (msg) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (msg?.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`failed to start: ${msg.message}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code} before it was ready`));
    });
  });
  let seq = 0;
  return {
    base: `http://127.0.0.1:${port}`,
    /** CPU time and RSS of the server process, read over IPC. */
    usage() {
      seq += 1;
      const want = seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no usage answer within 5 s')), 5000);
        const onMessage = (msg) => {
          if (msg?.type === 'usage' && msg.seq === want) {
            clearTimeout(timer);
            child.off('message', onMessage);
            resolve(msg);
          }
        };
        child.on('message', onMessage);
        child.send({ type: 'usage', seq: want });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- correctness ----------------------------------------------------------------------------

async function request(base, path, cookie) {
  const res = await fetch(base + path, {
    headers: cookie ? { cookie } : {},
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  return { status: res.status, body, setCookie: res.headers.getSetCookie() };
}

/** `a=1; b=2` from Set-Cookie headers (koa-session sends the value and its signature). */
const cookieHeader = (setCookie) => setCookie.map((c) => c.split(';')[0]).join('; ');

function expect(cond, what) {
  if (!cond) throw new Error(`wrong answer: ${what}`);
}

function expectAnswer(res, path, body) {
  expect(res.status >= 200 && res.status < 300, `${path} answered status ${res.status}`);
  if (body !== undefined)
    expect(
      res.body === body,
      `${path} answered ${JSON.stringify(res.body)}, expected ${JSON.stringify(body)}`,
    );
}

/** Creates a session through GET /login and returns its cookie header. */
async function login(base) {
  const res = await request(base, '/login');
  expectAnswer(res, '/login', 'ok');
  const cookie = cookieHeader(res.setCookie);
  expect(cookie !== '', '/login without cookie set no cookie');
  return cookie;
}

/** Every route answers what it must, with and without a session; throws on the first wrong answer. */
async function checkStack(stack, base) {
  if (stack.kind === 'bare') {
    for (const [path, body] of [
      ['/ping', 'pong'],
      ['/get', SEED_JSON],
      ['/set', 'ok'],
      ['/login', 'ok'],
    ]) {
      expectAnswer(await request(base, path), path, body);
    }
    return;
  }
  const ping = await request(base, '/ping');
  expectAnswer(ping, '/ping', 'pong');
  expect(ping.setCookie.length === 0, '/ping without cookie set a cookie');
  expectAnswer(await request(base, '/get'), '/get without cookie', '{}');
  const cookie = await login(base);
  expectAnswer(await request(base, '/get', cookie), '/get after /login', SEED_JSON);
  expectAnswer(await request(base, '/ping', cookie), '/ping with cookie', 'pong');
  expectAnswer(await request(base, '/set', cookie), '/set', 'ok');
  const after = await request(base, '/get', cookie);
  expectAnswer(after, '/get after /set');
  const data = JSON.parse(after.body);
  expect(
    isDeepStrictEqual(data.user, SEED.user) && Number.isInteger(data.n),
    `/get after /set answered ${after.body}`,
  );
}

// ---- load -----------------------------------------------------------------------------------

/**
 * One bounded autocannon run of `warm + seconds`; every answer must be 2xx with the expected body.
 * `snapshot()` is taken when the warm-up ends (the load keeps running); latencies and req/s count
 * from then on.
 */
async function load(base, route, warm, seconds, cookies, snapshot) {
  const { default: autocannon } = await import('autocannon');
  const samples = new Samples();
  let next = 0;
  let measuring = false;
  let startedAt = 0n;
  let lastAt = 0n;
  let before;
  const begin = async () => {
    startedAt = process.hrtime.bigint();
    measuring = true;
    before = await snapshot();
  };
  if (warm <= 0) await begin();
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: base + route.path,
        connections,
        pipelining: 1,
        duration: warm + seconds,
        timeout: 10,
        expectBody: EXPECT[route.id],
        setupClient: route.cookie
          ? (client) => {
              client.setHeaders({ cookie: cookies[next++ % cookies.length] });
            }
          : undefined,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (!measuring) return;
      lastAt = process.hrtime.bigint();
      if (status >= 200 && status < 300) samples.push(ms);
    });
    if (warm > 0) setTimeout(() => begin().catch(reject), warm * 1000);
  });
  const problems = {
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    non2xx: result.non2xx,
  };
  const bad = Object.entries(problems).filter(([, v]) => v > 0);
  if (bad.length > 0) {
    throw new Error(`${route.path} under load: ${bad.map(([k, v]) => `${v} ${k}`).join(', ')}`);
  }
  if (samples.length === 0 || before === undefined) throw new Error(`${route.path} under load: no answer`);
  return { samples, elapsed: Number(lastAt - startedAt) / 1e9, before };
}

/** Sequential requests under MONITOR (untimed): Redis round trips per request, by command. */
async function traceRoundTrips(server, route, cookies) {
  const n = 20;
  const monitor = await startMonitor(redis.port);
  let lines = [];
  try {
    for (let i = 0; i < n; i++) {
      const res = await request(
        server.base,
        route.path,
        route.cookie ? cookies[i % cookies.length] : undefined,
      );
      expectAnswer(res, route.path, EXPECT[route.id]);
    }
  } finally {
    lines = await monitor.stop();
  }
  return perRequest(roundTrips(lines), n);
}

async function measureRoute(stack, server, route, warm) {
  const cookies = [];
  if (route.cookie && stack.kind !== 'bare') {
    cookies.push(...(await Promise.all(Array.from({ length: connections }, () => login(server.base)))));
  } else if (route.cookie) {
    cookies.push('sid=none');
  }
  const snapshot = async () => {
    // Server first, then Redis right after its answer: a busy server may take a while to read the
    // IPC message, but once it has answered, only the short INFO round trip separates the readings.
    const usage = await server.usage();
    const stats = parseCommandStats(await harnessRedis.command('INFO', 'commandstats'));
    return { usage, stats };
  };
  const { samples, elapsed, before } = await load(server.base, route, warm, duration, cookies, snapshot);
  await sleep(200); // let requests cut off at the end of the run finish
  const after = await snapshot();
  const [p50, p99] = percentiles(samples.values(), [50, 99]);
  const handled = after.usage.requests - before.usage.requests;
  const trips = await traceRoundTrips(server, route, cookies);
  return {
    stack,
    route,
    requests: samples.length,
    rps: samples.length / elapsed,
    p50,
    p99,
    handled,
    cmds: perRequest(commandDelta(before.stats, after.stats), handled),
    trips,
    cpuUs: cpuPerRequest(before.usage.cpu, after.usage.cpu, handled),
    rssMb: after.usage.rss / 1024 / 1024,
  };
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  const { freePort, startRedis } = await import('@kv-session/testing');
  const t0 = Date.now();
  const loadBefore = loadavg();
  redis = await startRedis();
  harnessRedis = await harnessConnection(redis.port);
  console.log(
    `kv-session bench${quick ? ' (quick)' : ''}: ${stacks.length} stacks x ${ROUTES.length} routes, ` +
      `${warmup} s warm-up + ${duration} s per route, ${connections} connections, redis on port ${redis.port}`,
  );
  const rows = [];
  const failures = [];
  for (const stack of stacks) {
    let server;
    try {
      server = await startStack(stack, redis.url, freePort);
      await checkStack(stack, server.base);
      for (const [i, route] of ROUTES.entries()) {
        // The first route of a stack warms the process up; later ones share most of its code.
        const row = await measureRoute(stack, server, route, i === 0 ? warmup : warmup / 2);
        rows.push(row);
        console.log(
          `  ${stack.id.padEnd(18)} ${route.id.padEnd(5)} ${Math.round(row.rps).toString().padStart(6)} req/s  ` +
            `p99 ${row.p99.toFixed(2)} ms  ${row.cmds.total.toFixed(2)} cmds/req  ${row.cpuUs.toFixed(0)} µs/req`,
        );
      }
    } catch (error) {
      failures.push({ stack, error });
      console.error(`  ${stack.id}: FAILED: ${error instanceof Error ? error.message : error}`);
    } finally {
      await server?.stop();
      await harnessRedis.command('FLUSHALL');
    }
  }
  await redis.stop();
  const seconds = (Date.now() - t0) / 1000;

  console.log('');
  console.log(textTable(rows));
  console.log(`\n${rows.length} runs in ${seconds.toFixed(0)} s`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} stack(s) failed: ${failures.map((f) => f.stack.id).join(', ')}`);
    process.exitCode = 1;
    return;
  }
  if (writeDocs) {
    const command = 'pnpm bench';
    const meta = { command, seconds, duration, warmup, connections, loadBefore, loadAfter: loadavg() };
    writeFileSync(docsFile, await docsPage(rows, meta));
    writeFileSync(
      chartFile,
      svgChart(rows, `kv-session bench, ${new Date().toISOString().slice(0, 10)}: ${command}`),
    );
    console.log(`wrote ${docsFile} and ${chartFile}`);
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  killAll();
  harnessRedis?.close();
  await redis?.stop();
}
