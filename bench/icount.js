// Instructions per request, counted by valgrind's callgrind in the server process: unlike req/s and
// CPU time, the count does not depend on what else the machine is doing, so two stacks can be
// compared on a shared, noisy machine (the same stack counted twice differs by about 1 %; see
// bench/NOTES.md). Each stack runs as in bench/run.js (bench/server.js, its own private
// redis-server), under `valgrind --tool=callgrind`; the load comes from this process. Counting is
// switched on (callgrind_control -i on) only after a warm-up, so start-up, JIT compilation of the
// warm-up and the sessions' creation are left out. Redis's own work is not in the count.
//
//   node bench/icount.js [--only=id,id] [--routes=get,ping] [--requests=n] [--warmup=n] [--merge]
//   pnpm bench:icount
//
// Needs valgrind (Debian's package; on every machine of this project). Slow: a stack and route take
// 20-60 s, as node runs about 50 times slower under valgrind.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { callgrindArgs, totalInstructions } from './lib/callgrind.js';
import { runMeta } from './lib/docs.js';
import { icountTable } from './lib/report.js';
import { ROUTES, STACKS } from './stacks.js';

const run = promisify(execFile);
const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    routes: { type: 'string', default: 'get,ping' },
    requests: { type: 'string', default: '2000' },
    // 8000: after 2500 requests V8 was still compiling in the counted window (Fastify kv-session
    // /get counted 240 k with 2500, 127-141 k with 8000, on 2026-12-03)
    warmup: { type: 'string', default: '8000' },
    connections: { type: 'string', default: '10' },
    'no-save': { type: 'boolean', default: false },
    // Keep the other rows of the last saved run (a subset of stacks or routes counted again).
    merge: { type: 'boolean', default: false },
  },
});
const requests = Number(flags.requests);
const warmup = Number(flags.warmup);
const connections = Number(flags.connections);
const only = flags.only?.split(',');
const stacks = only === undefined ? STACKS : STACKS.filter((s) => only.includes(s.id));
if (stacks.length === 0)
  throw new Error(`--only matched no stack (ids: ${STACKS.map((s) => s.id).join(', ')})`);
const routes = flags.routes.split(',').map((id) => {
  const route = ROUTES.find((r) => r.id === id);
  if (route === undefined) throw new Error(`unknown route ${id} (${ROUTES.map((r) => r.id).join(', ')})`);
  return route;
});
const serverJs = fileURLToPath(new URL('./server.js', import.meta.url));

/** One GET on a keep-alive agent: status, body and the Set-Cookie pairs. */
function get(agent, port, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, host: '127.0.0.1', port, path, headers: cookie === undefined ? {} : { cookie } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => {
          const pairs = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]);
          resolve({ status: res.statusCode, body, cookie: pairs.join('; ') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** `n` requests of `route`, `connections` at a time, each connection with its own cookie. */
async function load(agent, port, route, cookies, n) {
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      while (next < n) {
        next += 1;
        const res = await get(agent, port, route.path, route.cookie ? cookies[c] : undefined);
        if (res.status !== 200) throw new Error(`${route.path}: HTTP ${res.status} ${res.body}`);
      }
    }),
  );
}

async function count(stack, route, startRedis, freePort) {
  const redis = await startRedis();
  const port = await freePort();
  const out = join(tmpdir(), `kv-icount-${process.pid}-${stack.id}-${route.id}.out`);
  const child = spawn('valgrind', [...callgrindArgs(out), process.execPath, serverJs, stack.id], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redis.url, BENCH_SLOWDOWN: '50' },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  try {
    const [msg] = await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(() => {
        throw new Error(`${stack.id} exited: ${stderr.slice(-2000)}`);
      }),
    ]);
    if (msg.type !== 'ready') throw new Error(`${stack.id}: ${msg.message ?? msg.type}`);
    const cookies = [];
    if (route.cookie) {
      for (let c = 0; c < connections; c++) {
        const res = await get(agent, port, '/login');
        cookies.push(stack.kind === 'bare' ? 'sid=none' : res.cookie);
      }
    }
    await load(agent, port, route, cookies, warmup);
    await run('callgrind_control', ['-i', 'on', String(child.pid)]);
    await load(agent, port, route, cookies, requests);
    await run('callgrind_control', ['-i', 'off', String(child.pid)]);
    const exited = once(child, 'exit');
    child.send({ type: 'exit' });
    await exited;
    return totalInstructions(out) / requests;
  } finally {
    agent.destroy();
    child.kill();
    if (process.env.KEEP === undefined) rmSync(out, { force: true });
    await redis.stop();
  }
}

async function main() {
  const { freePort, startRedis } = await import('@kv-session/testing');
  const rows = [];
  for (const route of routes) {
    for (const stack of stacks) {
      const t0 = Date.now();
      const perRequest = await count(stack, route, startRedis, freePort);
      console.log(
        `  ${stack.id.padEnd(20)} ${route.id.padEnd(5)} ${(perRequest / 1000).toFixed(1)} k instructions/req (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      rows.push({ stack, route, perRequest });
    }
  }
  const table = icountTable(
    rows.map((r) => ({
      id: r.stack.id,
      label: r.stack.label,
      framework: r.stack.framework,
      kind: r.stack.kind,
      route: r.route.id,
      perRequest: r.perRequest,
    })),
  );
  console.log('');
  for (const line of table) console.log(line);
  if (!flags['no-save']) {
    // The docs page (bench/lib/docs.js) shows the last run's table.
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const meta = runMeta({ requests, warmup, connections });
    const file = join(dir, 'icount.json');
    const fresh = rows.map((r) => ({
      id: r.stack.id,
      label: r.stack.label,
      framework: r.stack.framework,
      kind: r.stack.kind,
      route: r.route.id,
      perRequest: Math.round(r.perRequest),
    }));
    const kept = flags.merge && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).rows : [];
    const order = (r) =>
      STACKS.findIndex((s) => s.id === r.id) + 1000 * ROUTES.findIndex((x) => x.id === r.route);
    const saved = [
      ...kept.filter((k) => !fresh.some((f) => f.id === k.id && f.route === k.route)),
      ...fresh,
    ].sort((a, b) => order(a) - order(b));
    writeFileSync(file, `${JSON.stringify({ meta, rows: saved }, null, 2)}\n`);
  }
}

await main();
