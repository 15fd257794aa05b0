// `pnpm bench` / `pnpm bench:quick`: starts every stack as its own process on 127.0.0.1, each with
// its own private redis-server (so INFO commandstats belong to one stack), checks that each stack
// answers correctly, then loads every route with autocannon from this process: per route a warm-up
// per stack, then `rounds` rounds that visit the stacks in turn (so a burst of outside load hits
// them all alike), each preceded by a short untimed re-warm of that stack. Records req/s and
// latency percentiles (own sub-ms samples; median of rounds), Redis commands per request (INFO
// commandstats deltas), server CPU per request and RSS.
//
//   node bench/run.js [--quick] [--only=id,id] [--duration=s] [--rounds=n] [--warmup=s]
//                     [--connections=n] [--no-docs] [--routes=get,ping] [--cpu-prof] [--json=file]
//                     [--idle=s] [--rewarm=s] [--log-rounds]
//   --cpu-prof: each server runs with node's --cpu-prof; profiles land in bench/results/profiles/ and
//               their top functions by self time are printed (bench/lib/profile.js)
//   --rewarm=s: untimed load of s seconds (default 0.5, quick 0) right before each round, so that a
//             round does not measure V8's recovery from the idle time before it (`rewarm` below)
//   --idle=s: sleep s seconds after each stack's round (a stack of the full run idles ~17 s between
//             its rounds; this reproduces that with a few stacks)
//   --log-rounds: print each round's req/s and server CPU per request, split into system time and
//             the main thread vs all other threads (V8's GC and compiler workers), read from /proc
//   BENCH_NODE_FLAGS='--flag …': extra node/V8 flags for the servers (--no-memory-reducer, --trace-gc)
//   node bench/run.js --report   re-renders docs/benchmarks.md and the chart from bench/results/latest.raw.json
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { SEED } from './apps/common.js';
import { cpuProbe, docsPage, formatFile, runMeta } from './lib/docs.js';
import { startMonitor } from './lib/monitor.js';
import { harnessConnection } from './lib/redis-info.js';
import { ratioText, remoteRows, remoteText, svgChart, textTable } from './lib/report.js';
import {
  commandDelta,
  cpuPerRequest,
  median,
  parseCommandStats,
  parseMonitor,
  percentiles,
  perRequest,
  roundTripsPerRequest,
  Samples,
  spread,
} from './lib/stats.js';
import { ROUTES, STACKS } from './stacks.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '10' },
    'no-docs': { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
    routes: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    remote: { type: 'string' },
    json: { type: 'string' },
    idle: { type: 'string' },
    'log-rounds': { type: 'boolean', default: false },
    rewarm: { type: 'string' },
  },
});
const quick = flags.quick;
const duration = Number(flags.duration ?? (quick ? 0.3 : 1)); // quick: 18 stacks x 4 routes stay under 2 min
const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
const warmup = Number(flags.warmup ?? (quick ? 0 : 1));
const connections = Number(flags.connections);
/** --idle=s: pause after each stack's round, as if other stacks took their turn for that long. */
const idle = Number(flags.idle ?? 0);
if (!Number.isFinite(idle) || idle < 0) throw new Error('--idle takes seconds: --idle=10');
/**
 * --rewarm=s: load each stack for s seconds, untimed, right before each of its rounds. A stack
 * idles while the others take their turn; after about 8 s idle V8's memory reducer runs a full
 * collection, optimised code whose maps died in it is discarded, and the next load re-optimises
 * (bench/NOTES.md, "Idle between rounds"). Rounds measure the steady state; --rewarm=0 --idle=…
 * measures the recovery.
 */
const rewarm = Number(flags.rewarm ?? (quick ? 0 : 0.5));
if (!Number.isFinite(rewarm) || rewarm < 0) throw new Error('--rewarm takes seconds: --rewarm=0.5');
/** --log-rounds: print every round's req/s and CPU per request, split by thread (Linux). */
const logRounds = flags['log-rounds'];
const cpuProf = flags['cpu-prof'];
const profileDir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
/** --remote=0,0.5: /get only, through a latency proxy, once per round-trip time (ms). */
const remoteRtts = flags.remote?.split(',').map(Number);
if (remoteRtts?.some((v) => !Number.isFinite(v) || v < 0))
  throw new Error('--remote takes RTTs in ms: 0,0.5');
const remoteFile = fileURLToPath(new URL('./results/remote.json', import.meta.url));
const routeIds = remoteRtts ? ['get'] : flags.routes?.split(',').map((s) => s.trim());
const routes = routeIds ? ROUTES.filter((r) => routeIds.includes(r.id)) : ROUTES;
const writeDocs =
  !quick &&
  !flags['no-docs'] &&
  flags.only === undefined &&
  flags.routes === undefined &&
  !cpuProf &&
  !remoteRtts &&
  flags.idle === undefined;
const only = flags.only?.split(',').map((s) => s.trim());
const stacks = only ? STACKS.filter((s) => only.includes(s.id)) : STACKS;
if (stacks.length === 0)
  throw new Error(`--only matched no stack (ids: ${STACKS.map((s) => s.id).join(', ')})`);

const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));
const proxyFile = fileURLToPath(new URL('./latency-proxy.js', import.meta.url));
const docsFile = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const chartFile = fileURLToPath(new URL('../docs/benchmarks.svg', import.meta.url));
const rawFile = fileURLToPath(new URL('./results/latest.raw.json', import.meta.url));
const SEED_JSON = JSON.stringify(SEED);
const EXPECT = { get: SEED_JSON, ping: 'pong', set: 'ok', new: 'ok' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes ----------------------------------------------------------------------------

const children = new Set();
/** Per stack: its redis-server and the harness's own connection to it (INFO). */
const redises = [];

function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
async function stopRedises() {
  for (const { redis, conn } of redises.splice(0)) {
    conn?.close();
    await redis.stop();
  }
}
process.once('exit', killAll); // @kv-session/testing kills its redis-servers on exit too
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    stopRedises().finally(() => process.exit(130));
  });
}

let seq = 0;
/** Sends `msg` to a child over IPC and resolves with its answer of the same type and seq. */
function ask(child, msg) {
  seq += 1;
  const want = seq;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${msg.type} answer within 5 s`)), 5000);
    const onMessage = (answer) => {
      if (answer?.type === msg.type && answer.seq === want) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(answer);
      }
    };
    child.on('message', onMessage);
    child.send({ ...msg, seq: want });
  });
}

/** The latency proxy (bench/latency-proxy.js) in front of a redis-server, as its own process. */
async function startProxy(redisPort) {
  const child = fork(proxyFile, [String(redisPort)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('latency proxy did not start within 10 s')), 10_000);
    child.once('message', (msg) => {
      clearTimeout(timer);
      if (msg?.type === 'ready') resolve(msg.port);
      else reject(new Error('latency proxy failed to start'));
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    setRtt: (ms) => ask(child, { type: 'rtt', ms }),
    usage: () => ask(child, { type: 'usage' }),
  };
}

async function startServer(stack, redisUrl, freePort) {
  const port = await freePort();
  const child = fork(serverFile, [stack.id], {
    execArgv: [
      ...(cpuProf
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${stack.id}.cpuprofile`]
        : []),
      ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
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
  return {
    base: `http://127.0.0.1:${port}`,
    /** CPU time and RSS of the server process, read over IPC. */
    usage: (threads = false) => ask(child, { type: 'usage', threads }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      if (cpuProf) {
        // A profile is written on a normal exit only.
        child.send({ type: 'exit' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        return;
      }
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

/** One bounded autocannon run; every answer must be 2xx with the expected body. */
async function load(base, route, seconds, cookies, samples) {
  const { default: autocannon } = await import('autocannon');
  let next = 0;
  let startedAt = 0n;
  let lastAt = 0n;
  const result = await new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: base + route.path,
        connections,
        pipelining: 1,
        duration: seconds,
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
    startedAt = process.hrtime.bigint();
    instance.on('response', (_client, status, _bytes, ms) => {
      lastAt = process.hrtime.bigint();
      if (samples && status >= 200 && status < 300) samples.push(ms);
    });
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
  if (lastAt === 0n) throw new Error(`${route.path} under load: no answer`);
  return { elapsed: Number(lastAt - startedAt) / 1e9 };
}

/**
 * Sequential requests under MONITOR (untimed): round trips by command, and how many commands a
 * script call runs inside Redis.
 */
async function traceRoundTrips(live, route, cookies) {
  const n = quick ? 5 : 20;
  const monitor = await startMonitor(live.redis.port);
  let lines = [];
  try {
    for (let i = 0; i < n; i++) {
      const res = await request(
        live.server.base,
        route.path,
        route.cookie ? cookies[i % cookies.length] : undefined,
      );
      expectAnswer(res, route.path, EXPECT[route.id]);
    }
  } finally {
    lines = await monitor.stop();
  }
  const seen = parseMonitor(lines);
  return { ...perRequest(seen.byCommand, n), nestedPerScript: seen.nestedPerScript };
}

/**
 * autocannon runs in this process, and its first runs are slow until V8 has optimised it: load a
 * trivial local server first so the first stacks measured do not pay for that.
 */
async function warmLoadGenerator() {
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => res.end('pong'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    for (let i = 0; i < 4; i++) await load(base, ROUTES[1], 0.5, ['sid=none']);
  } finally {
    server.close();
  }
}

/** Sessions for the route's connections: one per connection, created through /login. */
async function cookiesFor(live, route) {
  if (!route.cookie) return [];
  if (live.stack.kind === 'bare') return ['sid=none'];
  return Promise.all(Array.from({ length: connections }, () => login(live.server.base)));
}

/** A stack dropped out: remember why, stop its server. */
async function fail(live, failures, error) {
  live.failed = true;
  failures.push({ stack: live.stack, error });
  console.error(`  ${live.stack.id}: FAILED: ${error instanceof Error ? error.message : error}`);
  await live.server?.stop();
}

/** One round as a line: req/s, CPU per request, its system share and the main thread's and the rest's. */
function roundLine(r, id, round, u0, u1) {
  const n = u1.requests - u0.requests;
  const per = (a, b) => ((a - b) / n).toFixed(1);
  const threads = u1.threads
    ? `, main thread ${per(u1.threads.main, u0.threads.main)}, other threads ${per(u1.threads.other, u0.threads.other)}`
    : '';
  return (
    `  round ${r + 1} ${id}: ${Math.round(round.rps)} req/s, CPU ${round.cpuUs.toFixed(1)} µs/req ` +
    `(system ${per(u1.cpu.system, u0.cpu.system)}${threads})`
  );
}

/** One route on every live stack: warm-up, rounds in turn, then commands, round trips, RSS. */
async function measureRoute(lives, route, warm, failures) {
  const state = new Map();
  for (const live of lives.filter((l) => !l.failed)) {
    try {
      const cookies = await cookiesFor(live, route);
      if (warm > 0) await load(live.server.base, route, warm, cookies);
      await sleep(100);
      const usage = await live.server.usage();
      const stats = parseCommandStats(await live.conn.command('INFO', 'commandstats'));
      const proxyUsage = await live.proxy?.usage();
      state.set(live, { cookies, usage, proxyUsage, stats, rounds: [], samples: [] });
    } catch (error) {
      await fail(live, failures, error);
    }
  }
  for (let r = 0; r < rounds; r++) {
    const order = [...state.keys()];
    const shift = Math.floor((r * order.length) / rounds);
    for (const live of [...order.slice(shift), ...order.slice(0, shift)]) {
      if (live.failed) continue;
      const st = state.get(live);
      try {
        const samples = new Samples();
        if (rewarm > 0) await load(live.server.base, route, rewarm, st.cookies);
        const u0 = await live.server.usage(logRounds);
        const { elapsed } = await load(live.server.base, route, duration, st.cookies, samples);
        await sleep(100); // requests cut off at the end of the run still finish
        const u1 = await live.server.usage(logRounds);
        const [p50, p99] = percentiles(samples.values(), [50, 99]);
        st.rounds.push({
          rps: samples.length / elapsed,
          p50,
          p99,
          cpuUs: cpuPerRequest(u0.cpu, u1.cpu, u1.requests - u0.requests),
        });
        if (logRounds) console.log(roundLine(r, live.stack.id, st.rounds.at(-1), u0, u1));
        if (idle > 0) await sleep(idle * 1000);
      } catch (error) {
        await fail(live, failures, error);
      }
    }
  }
  await sleep(200);
  const rows = [];
  for (const [live, st] of state) {
    if (live.failed) continue;
    try {
      const usage = await live.server.usage();
      const stats = parseCommandStats(await live.conn.command('INFO', 'commandstats'));
      const handled = usage.requests - st.usage.requests;
      const pick = (k) => median(st.rounds.map((x) => x[k]));
      const delta = commandDelta(st.stats, stats);
      const proxyUsage = await live.proxy?.usage();
      const trace = await traceRoundTrips(live, route, st.cookies);
      rows.push({
        stack: live.stack,
        route,
        rps: pick('rps'),
        rpsSpread: spread(st.rounds.map((x) => x.rps)),
        p50: pick('p50'),
        p99: pick('p99'),
        cpuUs: pick('cpuUs'),
        handled,
        cmds: perRequest(delta, handled),
        trips: roundTripsPerRequest(delta, trace.nestedPerScript, handled),
        trace,
        rssMb: (await live.server.usage()).rss / 1024 / 1024,
        ...(proxyUsage ? { proxyCpuUs: cpuPerRequest(st.proxyUsage.cpu, proxyUsage.cpu, handled) } : {}),
      });
    } catch (error) {
      await fail(live, failures, error);
    }
  }
  return rows;
}

// ---- main -----------------------------------------------------------------------------------

/** docs/benchmarks.md and the chart from a run's rows. */
async function writeReport(rows, meta) {
  writeFileSync(docsFile, await docsPage(rows, meta));
  writeFileSync(chartFile, svgChart(rows, `kv-session bench, ${meta.date.slice(0, 10)}: ${meta.command}`));
  formatFile(docsFile); // aligned tables, as the repository's lint wants them
  console.log(`wrote ${docsFile} and ${chartFile}`);
}

async function main() {
  if (flags.report) {
    // Re-render the docs from the last full run (e.g. after editing bench/NOTES.md).
    const { meta, rows } = JSON.parse(readFileSync(rawFile, 'utf8'));
    await writeReport(rows, meta);
    return;
  }
  const { freePort, startRedis } = await import('@kv-session/testing');
  const t0 = Date.now();
  const loadBefore = loadavg();
  const probeBefore = cpuProbe();
  console.log(
    `kv-session bench${quick ? ' (quick)' : ''}: ${stacks.length} stacks x ${routes.length} routes, ` +
      `warm-up ${warmup} s, ${rounds} round(s) of ${duration} s per stack and route` +
      `${rewarm > 0 ? ` (each after a ${rewarm} s re-warm)` : ''}, ${connections} connections`,
  );
  const failures = [];
  const lives = [];
  for (const stack of stacks) {
    const live = { stack, failed: false };
    lives.push(live);
    try {
      live.redis = await startRedis();
      live.conn = await harnessConnection(live.redis.port);
      redises.push(live);
      if (remoteRtts) live.proxy = await startProxy(live.redis.port);
      live.server = await startServer(stack, live.proxy?.url ?? live.redis.url, freePort);
      await checkStack(stack, live.server.base);
    } catch (error) {
      await fail(live, failures, error);
    }
  }
  if (warmup > 0) await warmLoadGenerator();
  const rows = [];
  // /get, the route the targets are about, goes last: by then every process is fully warm. The
  // first route measured gets twice the warm-up, the others half of it.
  const order = [...routes.filter((r) => r.id !== 'get'), ...routes.filter((r) => r.id === 'get')];
  for (const rtt of remoteRtts ?? [undefined]) {
    if (rtt !== undefined) {
      for (const live of lives) if (!live.failed) await live.proxy.setRtt(rtt);
      console.log(`  round-trip time to Redis through the proxy: +${rtt} ms`);
    }
    for (const [i, route] of order.entries()) {
      const routeRows = await measureRoute(lives, route, i === 0 ? 2 * warmup : warmup / 2, failures);
      for (const row of routeRows) {
        if (rtt !== undefined) row.rttMs = rtt;
        rows.push(row);
        console.log(
          `  ${row.stack.id.padEnd(18)} ${route.id.padEnd(5)} ${Math.round(row.rps).toString().padStart(6)} req/s  ` +
            `p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  ${row.cmds.total.toFixed(2)} cmds/req  ${row.cpuUs.toFixed(0)} µs/req` +
            (row.proxyCpuUs === undefined ? '' : `  proxy ${row.proxyCpuUs.toFixed(0)} µs/req`),
        );
      }
    }
  }
  for (const live of lives) await live.server?.stop();
  await stopRedises();
  if (cpuProf) {
    const { topFunctions } = await import('./lib/profile.js');
    for (const stack of stacks) {
      console.log(`\n${stack.id}: top functions by self time (${profileDir}${stack.id}.cpuprofile)`);
      console.log(topFunctions(`${profileDir}${stack.id}.cpuprofile`, 15));
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  // Stack order, then route order.
  rows.sort(
    (a, b) =>
      stacks.indexOf(a.stack) - stacks.indexOf(b.stack) || ROUTES.indexOf(a.route) - ROUTES.indexOf(b.route),
  );

  /** How the run was made, for the docs and result files. */
  const measured = () => ({
    seconds,
    duration,
    rounds,
    warmup,
    rewarm,
    connections,
    loadBefore,
    loadAfter: loadavg(),
  });
  if (flags.json !== undefined) writeFileSync(flags.json, JSON.stringify(rows));
  if (remoteRtts) {
    console.log('');
    console.log(remoteText(rows));
    mkdirSync(dirname(remoteFile), { recursive: true });
    const meta = runMeta({ command: `node bench/run.js --remote=${flags.remote}`, ...measured() });
    writeFileSync(remoteFile, JSON.stringify({ meta, rows: remoteRows(rows) }, null, 1));
    formatFile(remoteFile);
    console.log(
      `\nwrote ${remoteFile} (docs/benchmarks.md includes it on the next \`pnpm bench\` or \`node bench/run.js --report\`)`,
    );
    return;
  }
  console.log('');
  console.log(textTable(rows));
  console.log('');
  console.log(ratioText(rows));
  console.log(`\n${rows.length} results in ${seconds.toFixed(0)} s`);
  if (failures.length > 0) {
    console.error(`\n${failures.length} stack(s) failed: ${failures.map((f) => f.stack.id).join(', ')}`);
    process.exitCode = 1;
    return;
  }
  if (writeDocs) {
    const meta = runMeta({ command: 'pnpm bench', ...measured(), probe: [probeBefore, cpuProbe()] });
    mkdirSync(dirname(rawFile), { recursive: true });
    writeFileSync(rawFile, JSON.stringify({ meta, rows }, null, 1));
    await writeReport(rows, meta);
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  killAll();
  await stopRedises();
}
