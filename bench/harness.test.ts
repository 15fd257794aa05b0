import { describe, expect, it } from 'vitest';
import {
  commandDelta,
  cpuPerRequest,
  median,
  parseCommandStats,
  parseCommandTimes,
  parseMonitor,
  percentiles,
  perRequest,
  roundTripsPerRequest,
  Samples,
  spread,
} from './lib/stats.js';

// Shaped like `redis-cli INFO commandstats` of Redis 7 (CRLF, sub-commands as cmd|sub).
const info = (get: number, expire: number, infoCalls: number) =>
  [
    '# Commandstats',
    `cmdstat_get:calls=${get},usec=120,usec_per_call=0.50,rejected_calls=0,failed_calls=0`,
    `cmdstat_expire:calls=${expire},usec=80,usec_per_call=0.40,rejected_calls=0,failed_calls=0`,
    `cmdstat_info:calls=${infoCalls},usec=900,usec_per_call=30.0,rejected_calls=0,failed_calls=0`,
    'cmdstat_config|resetstat:calls=1,usec=10,usec_per_call=10.0,rejected_calls=0,failed_calls=0',
    'cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0',
    'cmdstat_EVALSHA:calls=7,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0',
    '',
  ].join('\r\n');

describe('commandstats', () => {
  it('parses calls per command, lower-cased, keeping sub-commands', () => {
    expect(parseCommandStats(info(10, 4, 3))).toEqual({
      get: 10,
      expire: 4,
      info: 3,
      'config|resetstat': 1,
      'client|setinfo': 2,
      evalsha: 7,
    });
    expect(parseCommandStats('# Commandstats\r\n')).toEqual({});
  });

  it('parses calls and Redis CPU time (usec) per command', () => {
    const times = parseCommandTimes(info(10, 4, 3));
    expect(times.get).toEqual({ calls: 10, usec: 120 });
    expect(times.evalsha).toEqual({ calls: 7, usec: 3 });
    expect(parseCommandTimes('cmdstat_set:calls=2')).toEqual({ set: { calls: 2, usec: 0 } });
  });

  it('deltas leave out the harness commands and commands not called in between', () => {
    const before = parseCommandStats(info(10, 4, 3));
    const after = { ...parseCommandStats(info(1010, 1004, 5)), hello: 1, 'config|get': 2, flushall: 1 };
    expect(commandDelta(before, after)).toEqual({ get: 1000, expire: 1000, hello: 1 });
  });

  it('a counter that went down (reset in between) counts from zero', () => {
    expect(commandDelta({ get: 50 }, { get: 7 })).toEqual({ get: 7 });
  });

  it('per request divides each command and sums the total', () => {
    const r = perRequest({ get: 1000, expire: 500 }, 1000);
    expect(r.total).toBeCloseTo(1.5, 10);
    expect(r.byCommand).toEqual({ get: 1, expire: 0.5 });
    expect(perRequest({ get: 3 }, 0)).toEqual({ total: 0, byCommand: {} });
  });
});

describe('round trips', () => {
  const lines = [
    '+1764070000.000001 [0 127.0.0.1:50001] "GETEX" "kv-session:abc" "PX" "86400000"',
    '+1764070000.000002 [0 127.0.0.1:50001] "EVALSHA" "0123abcd" "1" "kv-session:abc"',
    '+1764070000.000003 [0 lua] "GET" "kv-session:abc"',
    '+1764070000.000004 [0 lua] "SET" "kv-session:abc" "{}" "PX" "86400000"',
    '+1764070000.000005 [0 127.0.0.1:50002] "info" "commandstats"',
    '+1764070000.000006 [0 unix:/tmp/redis.sock] "get" "x"',
    'garbage',
  ];

  it('MONITOR: counts client commands, not the ones a Lua script runs, nor the harness', () => {
    expect(parseMonitor(lines)).toEqual({ byCommand: { getex: 1, evalsha: 1, get: 1 }, nestedPerScript: 2 });
    expect(parseMonitor([lines[0]!])).toEqual({ byCommand: { getex: 1 }, nestedPerScript: 0 });
  });

  it('MONITOR: the SETs of temporary keys pipelined with a script are part of its round trip', () => {
    const large = [
      '+1764070000.000001 [0 127.0.0.1:50001] "GETEX" "kv-session:abc" "PX" "86400000"',
      '+1764070000.000002 [0 127.0.0.1:50001] "SET" "{kv-session:abc}:cas:8ZYh-q_a:1:old" "{}" "PX" "6000"',
      '+1764070000.000003 [0 127.0.0.1:50001] "SET" "{kv-session:abc}:cas:8ZYh-q_a:1:new" "{}" "PX" "6000"',
      '+1764070000.000004 [0 127.0.0.1:50001] "EVALSHA" "0123abcd" "4" "kv-session:abc"',
      '+1764070000.000005 [0 lua] "RENAME" "{kv-session:abc}:cas:8ZYh-q_a:1:new" "kv-session:abc"',
      '+1764070000.000006 [0 127.0.0.1:50001] "SET" "kv-session:cas:1:new" "{}"',
    ];
    // The last SET is an app's own key of that shape without a token: a round trip.
    expect(parseMonitor(large)).toEqual({ byCommand: { getex: 1, set: 1, evalsha: 1 }, nestedPerScript: 3 });
    expect(roundTripsPerRequest({ getex: 1, set: 3, evalsha: 1, rename: 1 }, 3, 1)).toBe(3);
  });

  it('commandstats deltas minus what scripts ran inside', () => {
    // 100 requests: each GETEX plus one EVALSHA whose script ran a GET and a SET.
    const delta = { getex: 100, evalsha: 100, get: 100, set: 100 };
    expect(roundTripsPerRequest(delta, 2, 100)).toBe(2);
    expect(roundTripsPerRequest({ get: 100, expire: 100 }, 0, 100)).toBe(2);
    expect(roundTripsPerRequest({ get: 5 }, 0, 0)).toBe(0);
  });
});

describe('latency percentiles', () => {
  it('nearest rank on unsorted sub-millisecond samples', () => {
    const values = Array.from({ length: 100 }, (_, i) => (100 - i) / 1000); // 0.100 ... 0.001 ms
    const [p50, p99, p100, p0] = percentiles(values, [50, 99, 100, 0]);
    expect(p50).toBe(0.05);
    expect(p99).toBe(0.099);
    expect(p100).toBe(0.1);
    expect(p0).toBe(0.001);
  });

  it('sorts numerically, not as strings, and leaves the input alone', () => {
    const values = [10, 9, 1.5, 100, 2];
    expect(percentiles(values, [50])).toEqual([9]);
    expect(values).toEqual([10, 9, 1.5, 100, 2]);
  });

  it('a single sample is every percentile; no samples give NaN', () => {
    expect(percentiles([0.25], [1, 50, 99])).toEqual([0.25, 0.25, 0.25]);
    expect(percentiles([], [50]).every(Number.isNaN)).toBe(true);
  });

  it('Samples grows past its initial capacity without losing values', () => {
    const s = new Samples();
    const n = (1 << 16) + 5;
    for (let i = 0; i < n; i++) s.push(i / 4);
    expect(s.length).toBe(n);
    expect(s.values()[n - 1]).toBe((n - 1) / 4);
    expect(percentiles(s.values(), [100])).toEqual([(n - 1) / 4]);
  });
});

describe('cpu per request', () => {
  it('sums user and system microseconds over the requests', () => {
    expect(cpuPerRequest({ user: 1000, system: 500 }, { user: 41_000, system: 10_500 }, 1000)).toBe(50);
    expect(Number.isNaN(cpuPerRequest({ user: 0, system: 0 }, { user: 5, system: 0 }, 0))).toBe(true);
  });
});

describe('median of rounds', () => {
  it('middle value, mean of the middle two, ignoring non-finite rounds', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, Number.NaN, 1, 3])).toBe(3);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('spread of rounds', () => {
  it('(max - min) / median', () => {
    expect(spread([90, 100, 110])).toBeCloseTo(0.2, 10);
    expect(spread([100])).toBe(0);
    expect(Number.isNaN(spread([]))).toBe(true);
  });
});
