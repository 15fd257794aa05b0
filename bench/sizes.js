// `pnpm bench:sizes`: /get and /set CPU per request with sessions of 1, 10 and 100 KB, kv-session
// against the floor and the peer (Express by default), next to the cost of the JSON itself
// (JSON.parse + JSON.stringify of the session in this process). Each size is one `bench/run.js`
// run with BENCH_SESSION_KB set (servers and harness build the same, larger SEED).
//   node bench/sizes.js [--framework=express|fastify|koa] [--sizes=1,10,100] [--rounds=3]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatFile } from './lib/docs.js';

const { values } = parseArgs({
  options: {
    framework: { type: 'string', default: 'express' },
    sizes: { type: 'string', default: '1,10,100' },
    rounds: { type: 'string', default: '3' },
  },
});
const fw = values.framework;
const PEER = { express: 'express-session', fastify: 'fastify-session', koa: 'koa-session' };
const stacks = [`${fw}-floor`, `${fw}-kv`, PEER[fw]];
const sizes = values.sizes.split(',').map(Number);
const runFile = fileURLToPath(new URL('./run.js', import.meta.url));
const outFile = fileURLToPath(new URL('./results/sizes.json', import.meta.url));
const dir = join(tmpdir(), `kv-session-sizes-${process.pid}`);
mkdirSync(dir, { recursive: true });

/** CPU µs of JSON.parse + JSON.stringify of the session value at `kb`, in this process. */
function jsonCost(kb) {
  const value = { user: { id: 42, name: 'Ada Lovelace', bio: 'x'.repeat(Math.max(0, kb * 1024 - 90)) } };
  const text = JSON.stringify(value);
  const n = Math.max(200, Math.round(20_000 / kb));
  for (let i = 0; i < n; i++) JSON.stringify(JSON.parse(text));
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) JSON.stringify(JSON.parse(text));
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

const results = [];
try {
  for (const kb of sizes) {
    const file = join(dir, `${kb}.json`);
    console.log(`-- ${kb} KB sessions`);
    execFileSync(
      process.execPath,
      [
        runFile,
        `--only=${stacks.join(',')}`,
        '--routes=get,set',
        `--rounds=${values.rounds}`,
        `--json=${file}`,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, BENCH_SESSION_KB: String(kb) } },
    );
    for (const row of JSON.parse(readFileSync(file, 'utf8'))) {
      results.push({
        kb,
        stack: row.stack,
        route: row.route.id,
        cpuUs: row.cpuUs,
        rps: row.rps,
        trips: row.trips,
      });
    }
    results.push({
      kb,
      stack: { id: 'json', label: 'JSON.parse + JSON.stringify alone' },
      route: 'json',
      cpuUs: jsonCost(kb),
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const lines = [
  '| stack | route | ' +
    sizes.map((kb) => `${kb} KB CPU µs/req`).join(' | ') +
    ` | growth ${sizes[0]}→${sizes.at(-1)} KB µs |`,
];
lines.push(`| --- | --- | ${sizes.map(() => '---:').join(' | ')} | ---: |`);
for (const id of [...stacks, 'json']) {
  for (const route of id === 'json' ? ['json'] : ['get', 'set']) {
    const at = (kb) => results.find((r) => r.kb === kb && r.stack.id === id && r.route === route);
    const first = at(sizes[0]);
    if (first === undefined) continue;
    const cells = sizes.map((kb) => fmt(at(kb)?.cpuUs));
    const growth = (at(sizes.at(-1))?.cpuUs ?? Number.NaN) - first.cpuUs;
    lines.push(
      `| ${first.stack.label} | ${route === 'json' ? '-' : `/${route}`} | ${cells.join(' | ')} | ${fmt(growth)} |`,
    );
  }
}
const table = lines.join('\n');
console.log(`\n${table}`);
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
writeFileSync(
  outFile,
  JSON.stringify({ date: new Date().toISOString(), framework: fw, sizes, results, table }, null, 1),
);
formatFile(outFile);
console.log(
  `\nwrote ${outFile} (docs/benchmarks.md includes it on the next \`pnpm bench\` or \`node bench/run.js --report\`)`,
);
