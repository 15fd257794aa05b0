// Pure helpers of the bench harness: latency percentiles and Redis INFO commandstats deltas.
// Kept free of I/O so that bench/harness.test.ts can check them.

/** Commands the harness itself sends to Redis between snapshots; never counted against a stack. */
export const HARNESS_COMMANDS = ['info', 'config', 'flushall'];

/**
 * Parses `INFO commandstats` into `{ command: { calls, usec } }` (usec: Redis's CPU time in the
 * command, 0 when the line has none). Sub-commands keep Redis 7's `cmd|sub` form (e.g.
 * `client|tracking`); names are lower-cased.
 */
export function parseCommandTimes(info) {
  const out = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)(?:,usec=(\d+))?/.exec(line.trim());
    if (m) out[m[1].toLowerCase()] = { calls: Number(m[2]), usec: Number(m[3] ?? 0) };
  }
  return out;
}

/** {@link parseCommandTimes} with the calls only: `{ command: calls }`. */
export function parseCommandStats(info) {
  const out = {};
  for (const [name, { calls }] of Object.entries(parseCommandTimes(info))) out[name] = calls;
  return out;
}

function isHarnessCommand(name) {
  const base = name.split('|')[0];
  return HARNESS_COMMANDS.includes(base);
}

/**
 * Calls per command between two snapshots, leaving out the harness's own commands and
 * commands that were not called in between. A counter that went down (stats reset) counts from 0.
 */
export function commandDelta(before, after) {
  const out = {};
  for (const [name, calls] of Object.entries(after)) {
    if (isHarnessCommand(name)) continue;
    const prev = before[name] ?? 0;
    const d = calls >= prev ? calls - prev : calls;
    if (d > 0) out[name] = d;
  }
  return out;
}

/** Divides each count by `requests`; `total` is the sum. Empty when no request was made. */
export function perRequest(delta, requests) {
  const byCommand = {};
  let total = 0;
  if (requests <= 0) return { total: 0, byCommand };
  for (const [name, calls] of Object.entries(delta)) {
    byCommand[name] = calls / requests;
    total += calls;
  }
  return { total: total / requests, byCommand };
}

/**
 * Nearest-rank percentiles (p in 0..100) of `values` (any order; not modified).
 * Returns NaN for each p when there are no values.
 */
export function percentiles(values, ps) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return ps.map((p) => {
    if (n === 0) return Number.NaN;
    const rank = Math.ceil((p / 100) * n);
    return sorted[Math.min(n, Math.max(1, rank)) - 1];
  });
}

/** A growable list of float samples (latencies in ms) without per-sample allocation. */
export class Samples {
  #buf = new Float64Array(1 << 16);
  #n = 0;

  push(v) {
    if (this.#n === this.#buf.length) {
      const next = new Float64Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.#n++] = v;
  }

  get length() {
    return this.#n;
  }

  values() {
    return this.#buf.subarray(0, this.#n);
  }
}

/** CPU microseconds (user + system) per request between two `process.cpuUsage()` readings. */
export function cpuPerRequest(before, after, requests) {
  if (requests <= 0) return Number.NaN;
  return (after.user - before.user + (after.system - before.system)) / requests;
}

const SCRIPT_CALLS = ['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'];

/**
 * A `SET` of a temporary key of StorageRedisKV's large-value compare-and-set
 * (`{<key>}:cas:<token>:<n>:old` / `:new`): written in one pipeline with the script call that
 * follows it, so part of that call's round trip, not one of its own.
 */
const PIPELINED_SET = /^"SET" "[^"]*:cas:[\w-]+:\d+:(?:old|new)"/i;

/**
 * What `MONITOR` lines (`+1700000000.123456 [0 127.0.0.1:5000] "GETEX" ...`) show: round trips by
 * command (what clients sent; the harness's own commands left out), and per script call how many
 * commands are not round trips of their own: those the script ran (`[0 lua]`), and the `SET`s of
 * temporary keys pipelined with it (see `PIPELINED_SET`).
 */
export function parseMonitor(lines) {
  const byCommand = {};
  let nested = 0;
  let scriptCalls = 0;
  for (const line of lines) {
    const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
    if (!m) continue;
    if (m[1] === 'lua' || PIPELINED_SET.test(line.slice(line.indexOf('] ') + 2))) {
      nested += 1;
      continue;
    }
    const name = m[2].toLowerCase();
    if (isHarnessCommand(name)) continue;
    byCommand[name] = (byCommand[name] ?? 0) + 1;
    if (SCRIPT_CALLS.includes(name)) scriptCalls += 1;
  }
  return { byCommand, nestedPerScript: scriptCalls > 0 ? nested / scriptCalls : 0 };
}

/**
 * Round trips per request from INFO commandstats deltas: Redis counts the commands a script runs
 * as well as the script call, and a pipeline's commands one by one, so those are taken out at the
 * rate `parseMonitor` saw.
 */
export function roundTripsPerRequest(delta, nestedPerScript, requests) {
  if (requests <= 0) return 0;
  let total = 0;
  let scripts = 0;
  for (const [name, calls] of Object.entries(delta)) {
    total += calls;
    if (SCRIPT_CALLS.includes(name)) scripts += calls;
  }
  return Math.max(0, total - scripts * nestedPerScript) / requests;
}

/** (max - min) / median of the values, e.g. 0.1 for a 10% spread between rounds; NaN when none. */
export function spread(values) {
  const v = values.filter(Number.isFinite);
  const m = median(v);
  if (v.length === 0 || m === 0) return Number.NaN;
  return (Math.max(...v) - Math.min(...v)) / m;
}

/** The median of finite values (mean of the middle two for an even count); NaN when none. */
export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
