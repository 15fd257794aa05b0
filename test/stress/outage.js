// Outage under load: the Express example (examples/express/server.js) on a private redis-server
// with appendonly yes, driven by autocannon over /health (never touches the session), /set (new
// session each time) and /get (one existing session). Redis is killed (SIGKILL), kept down, then
// started again on the same port and data directory. Checks: the process stays up; /health answers
// 200 throughout; session routes answer 200 or 503; those sent while Redis is down, and every 503,
// end within the storage's command timeout (plus a margin for a loaded machine); full recovery within 5 s of Redis answering again; every
// /set that answered 200 is readable afterwards.
//
// Sizes (environment): OUTAGE_DURATION s (default 14), OUTAGE_KILL_AT s (4), OUTAGE_DOWN s (3),
// OUTAGE_CONNECTIONS per route (4), OUTAGE_MARGIN_MS over the 2000 ms command timeout (1500).
// Larger run: OUTAGE_DURATION=40 OUTAGE_CONNECTIONS=32 OUTAGE_KILL_AT=10 OUTAGE_DOWN=5 node test/stress/outage.js
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { Checks, envNumber, freePort, repoRoot, sleep, startRedis } from './lib.js';

const DURATION = envNumber('OUTAGE_DURATION', 14);
const KILL_AT = envNumber('OUTAGE_KILL_AT', 4);
const DOWN = envNumber('OUTAGE_DOWN', 3);
const CONNECTIONS = envNumber('OUTAGE_CONNECTIONS', 4);
/** StorageRedisKV's default commandTimeoutMs, which the example uses. */
const COMMAND_TIMEOUT_MS = 2000;
const MARGIN_MS = envNumber('OUTAGE_MARGIN_MS', 1500);
const RECOVERY_LIMIT_MS = 5000;
if (DURATION < KILL_AT + DOWN + RECOVERY_LIMIT_MS / 1000 + 1) throw new Error('OUTAGE_DURATION too short');

const checks = new Checks();
const redis = await startRedis(['--appendonly', 'yes']);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const app = spawn(process.execPath, ['examples/express/server.js'], {
  cwd: repoRoot,
  env: { ...process.env, PORT: String(port), REDIS_URL: redis.url, SESSION_MAX_AGE: '3600' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let appOutput = '';
app.stdout.on('data', (c) => (appOutput += c));
app.stderr.on('data', (c) => (appOutput += c));
process.once('exit', () => app.kill('SIGKILL'));
const deadline = Date.now() + 20_000;
while (!appOutput.includes('try: /set')) {
  if (app.exitCode !== null || Date.now() > deadline) throw new Error(`example did not start:\n${appOutput}`);
  await sleep(50);
}
if (!appOutput.includes('sessions in Redis')) throw new Error(`example is not on Redis:\n${appOutput}`);

// One existing session for the /get load.
const first = await fetch(`${base}/set`);
const readerCookie = first.headers.getSetCookie()[0].split(';')[0];

const t0 = Date.now();
/** Completed responses: route, status, end time (ms since t0), latency (ms). */
const responses = [];
/** Cookies of /set calls that answered 200. */
const acked = [];
const errors = { health: 0, set: 0, get: 0 };

function load(route, opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: base, connections: CONNECTIONS, duration: DURATION, timeout: 10, ...opts },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on('response', (_client, status, _bytes, latency) => {
      responses.push({ route, status, end: Date.now() - t0, latency });
    });
    instance.on('reqError', () => errors[route]++);
  });
}

const runs = Promise.all([
  load('health', { requests: [{ method: 'GET', path: '/health' }] }),
  load('set', {
    requests: [
      {
        method: 'GET',
        path: '/set',
        onResponse: (status, _body, _context, headers) => {
          if (status !== 200) return;
          const setCookie = Object.entries(headers).find(([k]) => k.toLowerCase() === 'set-cookie')?.[1];
          const value = Array.isArray(setCookie) ? setCookie[0] : setCookie;
          if (value !== undefined) acked.push(value.split(';')[0]);
        },
      },
    ],
  }),
  load('get', { requests: [{ method: 'GET', path: '/get', headers: { cookie: readerCookie } }] }),
]);

await sleep(KILL_AT * 1000);
const killAt = Date.now() - t0;
await redis.stop();
await sleep(DOWN * 1000);
await redis.start();
const backAt = Date.now() - t0;
const results = await runs;
const endAt = Date.now() - t0;

// Everything acknowledged is readable now (bounded concurrency).
let missing = 0;
const queue = [...acked];
await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (let cookie = queue.pop(); cookie !== undefined; cookie = queue.pop()) {
      const r = await fetch(`${base}/get`, { headers: { cookie } });
      const body = await r.text();
      if (r.status !== 200 || typeof JSON.parse(body).time !== 'number') missing++;
    }
  }),
);
const health = await fetch(`${base}/health`);

const session = responses.filter((r) => r.route !== 'health');
const healthResponses = responses.filter((r) => r.route === 'health');
const count = (list, status) => list.filter((r) => r.status === status).length;
const maxLatency = (list) => list.reduce((m, r) => Math.max(m, r.latency), 0);
// Recovery: the first session 200 after Redis is back from which on every session response is 200.
let lastFailure = -1;
for (const r of session) if (r.status !== 200 && r.end > lastFailure) lastFailure = r.end;
const firstOkAfter = session
  .filter((r) => r.status === 200 && r.end > Math.max(backAt, lastFailure))
  .reduce((m, r) => Math.min(m, r.end), Number.POSITIVE_INFINITY);
const recoveryMs = firstOkAfter - backAt;
const outage503 = session.filter((r) => r.status === 503);
/** Session requests sent while Redis was down: each must end within the command timeout. */
const duringOutage = session.filter((r) => r.end - r.latency >= killAt && r.end - r.latency <= backAt);

console.log(
  JSON.stringify(
    {
      sizes: { DURATION, KILL_AT, DOWN, CONNECTIONS },
      timeline: { killAt, backAt, endAt },
      requests: responses.length,
      health: {
        requests: healthResponses.length,
        ok200: count(healthResponses, 200),
        maxLatencyMs: maxLatency(healthResponses),
        errors: errors.health,
        timeouts: results[0].timeouts,
      },
      session: {
        requests: session.length,
        ok200: count(session, 200),
        unavailable503: outage503.length,
        other: session.length - count(session, 200) - outage503.length,
        maxLatencyMs: maxLatency(session),
        max503LatencyMs: maxLatency(outage503),
        sentDuringOutage: duringOutage.length,
        maxLatencySentDuringOutageMs: maxLatency(duringOutage),
        errors: errors.set + errors.get,
        timeouts: results[1].timeouts + results[2].timeouts,
      },
      slowestSession: [...session]
        .sort((a, b) => b.latency - a.latency)
        .slice(0, 3)
        .map((r) => ({ ...r, latency: Math.round(r.latency), start: Math.round(r.end - r.latency) })),
      recoveryMs,
      ackedSets: acked.length,
      ackedMissing: missing,
    },
    null,
    2,
  ),
);

checks.check(
  app.exitCode === null && health.status === 200,
  'the example process stayed up and answers /health',
);
checks.check(
  healthResponses.length > 0 && count(healthResponses, 200) === healthResponses.length && errors.health === 0,
  `/health answered 200 throughout (${count(healthResponses, 200)}/${healthResponses.length})`,
);
checks.check(outage503.length > 0, `session routes answered 503 during the outage (${outage503.length})`);
checks.check(
  outage503.every((r) => r.end >= killAt && r.end <= backAt + RECOVERY_LIMIT_MS),
  '503s only between the kill and the recovery limit',
);
checks.check(
  session.every((r) => r.status === 200 || r.status === 503) && errors.set + errors.get === 0,
  'session routes answered only 200 or 503, no connection errors',
);
checks.check(
  results[1].timeouts + results[2].timeouts === 0 &&
    duringOutage.length > 0 &&
    maxLatency(duringOutage) <= COMMAND_TIMEOUT_MS + MARGIN_MS &&
    maxLatency(outage503) <= COMMAND_TIMEOUT_MS + MARGIN_MS,
  `session requests sent while Redis was down, and every 503, ended within the ${COMMAND_TIMEOUT_MS} ms command timeout (+${MARGIN_MS} ms margin): max ${Math.round(Math.max(maxLatency(duringOutage), maxLatency(outage503)))} ms (all session requests: max ${Math.round(maxLatency(session))} ms)`,
);
checks.check(
  recoveryMs <= RECOVERY_LIMIT_MS,
  `recovered ${recoveryMs} ms after Redis answered again (limit ${RECOVERY_LIMIT_MS})`,
);
checks.check(
  acked.length > 0 && missing === 0,
  `every acknowledged /set is readable (${acked.length - missing}/${acked.length})`,
);

app.kill('SIGTERM');
await new Promise((r) => app.once('exit', r));
await redis.stop();
checks.finish('outage');
