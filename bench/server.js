// One stack as its own process: `node bench/server.js <stack-id>` with PORT and REDIS_URL set,
// started by bench/run.js over IPC. Answers { type: 'usage' } with its CPU time and RSS.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { STACKS } from './stacks.js';

const stack = STACKS.find((s) => s.id === process.argv[2]);
if (stack === undefined) {
  console.error(`unknown stack ${process.argv[2]}`);
  process.exit(2);
}
const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL ?? '';
if (!Number.isInteger(port) || !redisUrl.startsWith('redis://127.0.0.1:')) {
  console.error('PORT and REDIS_URL (redis://127.0.0.1:<port>) are required');
  process.exit(2);
}

process.on('disconnect', () => process.exit(0)); // the harness went away: never outlive it
// Requests received: the denominator of CPU and Redis commands per request. The client's count of
// answers misses the requests still in flight when a run stops, which the server handles anyway.
let requests = 0;

/**
 * CPU time (µs, user + system) of the main thread and of all other threads (V8's GC and compiler
 * workers, libuv's pool), from /proc; undefined where there is no /proc.
 */
function threadCpu() {
  if (!existsSync('/proc/self/task')) return undefined;
  const ticks = { main: 0, other: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the command name: state is field 3, utime 14 and stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks[tid === String(process.pid) ? 'main' : 'other'] += Number(fields[11]) + Number(fields[12]);
  }
  const usPerTick = 1e6 / 100; // USER_HZ is 100 on Linux
  return { main: ticks.main * usPerTick, other: ticks.other * usPerTick };
}

process.on('message', (msg) => {
  if (msg?.type === 'exit') process.exit(0); // a normal exit writes the --cpu-prof profile
  if (msg?.type === 'usage') {
    const usage = {
      cpu: process.cpuUsage(),
      rss: process.memoryUsage().rss,
      requests,
      ...(msg.threads ? { threads: threadCpu() } : {}),
    };
    process.send({ type: 'usage', seq: msg.seq, ...usage });
  }
});

try {
  const { start } = await import(`./apps/${stack.framework}.js`);
  const { server } = await start(stack.kind, { port, redisUrl });
  server.on('request', () => {
    requests += 1;
  });
  process.send({ type: 'ready' });
} catch (error) {
  process.send({ type: 'failed', message: String(error?.stack ?? error) });
  process.exit(1);
}
