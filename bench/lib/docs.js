// Writes docs/benchmarks.md from a run: machine, versions, method, tables, targets, chart.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, getPriority, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { icountTable, markdownTable, ratioMarkdown, remoteMarkdown, targets } from './report.js';

const benchDir = fileURLToPath(new URL('..', import.meta.url));

function version(pkg) {
  try {
    return JSON.parse(readFileSync(`${benchDir}/node_modules/${pkg}/package.json`, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const PACKAGES = [
  '@kv-session/core',
  '@kv-session/redis',
  '@kv-session/express',
  '@kv-session/fastify',
  '@kv-session/koa',
  'redis',
  'express',
  'express-session',
  'connect-redis',
  'fastify',
  '@fastify/session',
  '@fastify/cookie',
  'koa',
  'koa-session',
  'koa-redis',
  'autocannon',
];

/** Formats a file as the repository's lint wants it (biome), so that a run can be committed as is. */
export function formatFile(file) {
  execFileSync(`${benchDir}/../node_modules/.bin/biome`, ['format', '--write', file], { stdio: 'ignore' });
}

/** What the docs page says about the run, taken when the run ends. */
export function runMeta(extra) {
  const commit = run('git', ['-C', benchDir, 'rev-parse', '--short', 'HEAD']);
  const dirty =
    run('git', [
      '-C',
      benchDir,
      'status',
      '--porcelain',
      '--untracked-files=no',
      '--',
      '../packages',
      '.',
    ]) !== '';
  return {
    ...extra,
    nice: getPriority(),
    date: new Date().toISOString(),
    commit: dirty ? `${commit} + uncommitted changes in packages/ or bench/` : commit,
  };
}

/** A JSON file of bench/results/, or undefined when that mode has not been run. */
function result(name) {
  const file = `${benchDir}/results/${name}`;
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/** The sections of the separate modes (`pnpm bench:remote`, `pnpm bench:sizes`), from their last run. */
function extraSections() {
  const out = [];
  const remote = result('remote.json');
  if (remote !== undefined) {
    out.push(
      '## Remote Redis',
      '',
      `\`pnpm bench:remote\` (${remote.meta.date.slice(0, 16).replace('T', ' ')} UTC, commit ${remote.meta.commit}, ${remote.meta.rounds} rounds of ${remote.meta.duration} s, ${remote.meta.connections} connections): \`/get\` with every stack's Redis behind bench/latency-proxy.js, a TCP proxy in its own process that delays each chunk by half the round-trip time in each direction (netem is not available here). "proxy CPU" is the proxy's own CPU per request, not part of the server's. RTT 0 is the proxy without delay (its forwarding cost stays).`,
      '',
      remoteMarkdown(remote.rows),
      '',
    );
  }
  const icount = result('icount.json');
  if (icount !== undefined) {
    const m = icount.meta;
    out.push(
      '## Instructions per request',
      '',
      `\`pnpm bench:icount\` (${m.date.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit}): each stack's server under valgrind's callgrind, which counts the instructions it executes (JIT-compiled code, the garbage collector and V8's compiler threads included; Redis's own work not), over ${m.requests} requests of ${m.connections} connections after a warm-up of ${m.warmup}. Unlike req/s and CPU time the count does not depend on what else this shared machine is doing, so it compares stacks where the timed rounds above are too noisy; the same stack counted in two runs has differed by up to about 15 % (bench/NOTES.md), mostly in how much JIT compilation and garbage collection fall into the window; figures of one run compare best. Fewer instructions is faster: a ratio of 0.8 × floor is a stack doing 20 % less work than the floor.`,
      '',
      ...icountTable(icount.rows, true),
      '',
    );
  }
  const sizes = result('sizes.json');
  if (sizes !== undefined) {
    out.push(
      '## Session size',
      '',
      `\`pnpm bench:sizes\` (${sizes.date.slice(0, 16).replace('T', ' ')} UTC, ${sizes.framework}): server CPU per request with the session's user object padded to about 1, 10 and 100 KB of JSON (one \`bench/run.js\` run per size), and the CPU of \`JSON.parse\` + \`JSON.stringify\` of that value alone.`,
      '',
      sizes.table,
      '',
    );
  }
  return out;
}

/** The whole Markdown page. */
export async function docsPage(rows, meta) {
  const model = cpus()[0]?.model ?? 'unknown';
  const redisVersion = /v=(\S+)/.exec(run('redis-server', ['--version']))?.[1] ?? 'unknown';
  const notesFile = `${benchDir}/NOTES.md`;
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : '';
  const routes = [...new Map(rows.map((r) => [r.route.id, r.route])).values()];
  const t = targets(rows);

  const lines = [
    '# Benchmarks',
    '',
    '<!-- Generated by `pnpm bench` (bench/run.js); do not edit by hand. Hand-written analysis lives in bench/NOTES.md. -->',
    '',
    `kv-session next to the established session libraries of Express, Fastify and Koa, all on Redis, measured in one run on one machine (${meta.date.slice(0, 16).replace('T', ' ')} UTC, commit ${meta.commit}).`,
    '',
    '## Ratios',
    '',
    'req/s of each kv-session stack (native, with client-side caching, and the drop-in for the peer) and of each peer, relative to the same framework and route: **floor** = the framework + one Redis `GET` of the cookie\'s key + `JSON.parse`, no library (bench/apps/floor.js; `/set` is a `GET` + `SET` of the whole value, `/new` one `SET`), **bare** = the framework alone, **peer** = express-session, @fastify/session or koa-session on Redis. The median of the rounds of one run; see "± rounds" in the results for the noise.',
    '',
    ratioMarkdown(rows),
    '',
    ...(meta.extra ?? []),
    '![req/s per route, CPU and Redis commands per read-only request](benchmarks.svg)',
    '',
    '## Machine and command',
    '',
    `- Command: \`${meta.command}\` (from the repository root; it builds the packages, then runs \`node bench/run.js\`)${meta.nice ? `, started with \`nice -n ${meta.nice}\` so that the bench's processes (load generator, servers, Redis) were not starved by other jobs on the machine` : ''}. Whole run: ${meta.seconds.toFixed(0)} s.`,
    `- Machine: ${availableParallelism()} CPUs (\`nproc\`), ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM.`,
    `- Node ${process.version}, redis-server ${redisVersion} (private instance on a free port, no persistence).`,
    '- **The load generator (autocannon, in the bench process), the server under test (one child process per stack) and Redis all share this one machine.** Figures are comparable with each other, not with other machines; the load generator takes CPU the server would otherwise have.',
    `- Load average (1/5/15 min) of the machine: ${meta.loadBefore.map((v) => v.toFixed(2)).join(' / ')} before the run, ${meta.loadAfter.map((v) => v.toFixed(2)).join(' / ')} after it (the bench itself keeps about 2 busy).${meta.probe ? ` A CPU-bound probe in the bench process got ${meta.probe.map((v) => `${Math.round(v * 100)}%`).join(' of a core before the run and ')} after it (near 100% means a core was free).` : ''}`,
    `- Load: ${meta.connections} connections, no pipelining, all traffic to 127.0.0.1. Every stack runs as its own process with its own private redis-server, all started up front. Per route: each stack gets a warm-up (${2 * meta.warmup} s on the first route measured, ${meta.warmup / 2} s on the others; routes are measured in the order ping, set, new, get, so that /get, which the targets are about, meets fully warmed processes), then ${meta.rounds} rounds of ${meta.duration} s visit the stacks in turn (starting at a different stack each round), so that outside load hits all stacks alike.${meta.rewarm ? ` Each round is preceded by ${meta.rewarm} s of untimed load on the same stack: a stack idles while the others take their turn, and after about 8 s idle V8's memory reducer runs a full collection; optimised code whose maps died in it is discarded and the next load re-optimises it, about half a second of CPU (bench/NOTES.md, "Idle between rounds"); rounds measure the steady state.` : ''} req/s, p50, p99 and CPU per request are the median of the rounds. Before all that, autocannon itself is warmed up for 2 s against a trivial local server: without it the first route measured ran several times slower, because the load generator (in the bench process) was not optimised yet.`,
    '',
    '| package | version |',
    '| --- | --- |',
    ...PACKAGES.map((p) => `| ${p} | ${version(p)} |`),
    '',
    '## What is measured',
    '',
    '- Every stack serves the same four routes (bench/apps/): `/ping` answers `pong` without touching the session; `/get` answers the session data as JSON; `/set` stores a new value and answers `ok`; `/login` stores a small user object (creates the session).',
    '- Routes timed: ' + routes.map((r) => `**${r.id}** = ${r.title}`).join('; ') + '.',
    '- For `get`, `ping` and `set`, each connection sends the cookie of its own session, created through `/login` just before the run; `new` sends no cookie, so every request creates a session.',
    '- Before a stack is timed, the harness checks its answers (with and without a cookie, after `/set`); during the runs every answer must be 2xx with the exact expected body. Any wrong answer fails the run.',
    "- req/s: answers / wall time of the run. p50/p99: latencies recorded by the harness per answer (`process.hrtime`, sub-millisecond), not autocannon's rounded histogram.",
    "- Redis commands per request: `INFO commandstats` deltas of the stack's own redis-server from the end of its warm-up to 200 ms after its last round, divided by the requests the server received meanwhile, by command (so batched background work such as expiry refreshes counts too); the harness's own `INFO`, `CONFIG` and `FLUSHALL` are left out. Redis also counts the commands a Lua script runs (`evalsha 1.00, get 1.00, set 1.00` is one script call doing a GET and a SET).",
    '- Round trips per request: the same deltas without the commands Lua scripts ran inside Redis (Redis counts those too); how many a script call runs is taken from `MONITOR` over 20 sequential requests after the rounds (MONITOR is never on during a timed run).',
    '- ± rounds: (max - min) / median of the req/s of the rounds; a large value means outside load disturbed that stack and route.',
    '- CPU µs per request: `process.cpuUsage()` (user + system) of the server process, read over IPC before and after each round, divided by the requests the server received (counted in the server: the count of answers misses requests still in flight when a run stops). It includes the Redis client in the server. "CPU Δ bare" is the difference to the bare framework on the same route.',
    "- RSS: the server process after the route's run. × peer / × floor / × bare: req/s relative to the same framework's peer library / floor stack / bare framework.",
    "- Stacks per framework: bare; floor (one `GET` + `JSON.parse` of an unsigned cookie's key, nothing on routes that do not read it: the least any Redis-backed session can cost); kv-session; kv-session with CSC; kv-session's drop-in for the peer (`@kv-session/express/compat`, `@kv-session/fastify/compat`, `@kv-session/koa/compat` on StorageRedisKV); the peer.",
    '- Configuration (chosen where the issue was silent): maxAge one day for every stack, signed cookies everywhere, express-session and @fastify/session with `resave: false, saveUninitialized: false` and connect-redis defaults, koa-session defaults with koa-redis. kv-session with `StorageRedisKV` and defaults; "CSC" = the same on a node-redis client with RESP3 client-side caching.',
    "- Expiry refresh: StorageRedisKV refreshes a session's expiry inside the read itself (`GETEX ... PX`), so a read-only request needs no second command; with client-side caching, reads are answered from the client's cache and the expiry is refreshed by a `GETEX` read at most once per `refreshIntervalMs` (1 s) per session; those commands fall inside the measured window and are counted. express-session refreshes with `EXPIRE` and @fastify/session re-saves with `SET` on every request; koa-session does not refresh on reads.",
    '',
    '## Results',
    '',
    markdownTable(rows),
    '',
    '## Targets',
    '',
    'Targets from the issue (reported, not asserted):',
    '',
    '| stack | target | measured | |',
    '| --- | --- | ---: | --- |',
    ...t.map((x) =>
      ['', x.stack.label, x.target, x.value, x.met ? 'met' : '**missed**', ''].join(' | ').trim(),
    ),
    '',
  ];
  lines.push(...extraSections());
  if (notes !== '') lines.push('## Analysis', '', notes, '');
  lines.push(
    '## Reproduce',
    '',
    '```sh',
    'pnpm install',
    'pnpm bench            # about 7 minutes; rewrites docs/benchmarks.md and docs/benchmarks.svg',
    'pnpm bench:quick      # 0.3 s per stack and route, checks answers only, writes nothing',
    'pnpm bench:remote     # /get through a latency proxy at RTT 0 and 0.5 ms (bench/remote.js)',
    'pnpm bench:sizes      # /get and /set CPU per request at 1, 10 and 100 KB sessions (bench/sizes.js)',
    'pnpm bench:icount     # instructions per request under callgrind, steady on a busy machine (bench/icount.js)',
    'node bench/run.js --only=express-kv,express-session --duration=10   # a subset, longer',
    '```',
    '',
  );
  return lines.join('\n');
}

/**
 * Share of one core that a CPU-bound job (SHA-256 over 64 KiB, 500 times) got in this process:
 * CPU time / wall time. Near 100% when the machine had a core to spare; low when other jobs
 * competed for it.
 */
export function cpuProbe() {
  const data = Buffer.alloc(64 * 1024, 7);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < 500; i++) createHash('sha256').update(data).digest();
  const wallUs = Number(process.hrtime.bigint() - started) / 1e3;
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / wallUs;
}
