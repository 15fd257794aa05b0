import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Port to listen on. @default a free port */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Data directory (kept across restart()). @default a new temporary directory */
  dir?: string;
}

/** A private `redis-server` process on 127.0.0.1. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Runs `redis-cli -p <port> ...args` and returns its trimmed stdout. */
  cli(...args: string[]): Promise<string>;
  /** `INFO commandstats` as `{ get: 3, set: 1, ... }` (lower-case command names, `calls`). */
  commandStats(): Promise<Record<string, number>>;
  /** Sum of all command calls, optionally excluding some commands (e.g. `info`). */
  totalCommands(exclude?: string[]): Promise<number>;
  /** `CONFIG RESETSTAT`. */
  resetStats(): Promise<void>;
  /** Kills the process (SIGKILL unless graceful). */
  stop(graceful?: boolean): Promise<void>;
  /** Starts the process again on the same port and directory. */
  start(): Promise<void>;
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING']);
      if (stdout.trim() === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await sleep(50);
  }
}

function parseCommandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]!.toLowerCase()] = Number(m[2]);
  }
  return out;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts a private `redis-server` (no persistence unless asked) and waits until it answers. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'kv-session-redis-'));
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ];
    args.push('--daemonize', 'no', '--logfile', '', ...(options.args ?? []));
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    child = proc;
    await waitForPing(port);
  };

  const cli = async (...args: string[]) => {
    const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim();
  };

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    cli,
    async commandStats() {
      return parseCommandStats(await cli('INFO', 'commandstats'));
    },
    async totalCommands(exclude = ['info', 'config|resetstat']) {
      const stats = parseCommandStats(await cli('INFO', 'commandstats'));
      return Object.entries(stats)
        .filter(([k]) => !exclude.includes(k))
        .reduce((sum, [, v]) => sum + v, 0);
    },
    async resetStats() {
      await cli('CONFIG', 'RESETSTAT');
    },
    async stop(graceful = false) {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(graceful ? 'SIGTERM' : 'SIGKILL');
      await exited;
    },
    start,
  };
  await start();
  return server;
}

/** A private Redis Cluster of `masters` nodes (no replicas). */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** `{ url }` root nodes for node-redis `createCluster`. */
  readonly rootNodes: { url: string }[];
  stop(): Promise<void>;
}

/** Starts `masters` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(
      await startRedis({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
        ],
      }),
    );
  }
  await exec('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => n.cli('CLUSTER', 'INFO')));
    if (infos.every((i) => i.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error('Redis cluster did not reach cluster_state:ok');
    await sleep(100);
  }
  return {
    nodes,
    rootNodes: nodes.map((n) => ({ url: n.url })),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** A private master plus one Sentinel watching it. */
export interface RedisSentinel {
  readonly master: RedisServer;
  readonly sentinelPort: number;
  readonly masterName: string;
  stop(): Promise<void>;
}

/** Starts a master and a Sentinel (`redis-server <conf> --sentinel`) that monitors it. */
export async function startRedisSentinel(masterName = 'kvmaster'): Promise<RedisSentinel> {
  const master = await startRedis();
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kv-session-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 5000`,
      '',
    ].join('\n'),
  );
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  await waitForPing(sentinelPort);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { stdout } = await exec('redis-cli', [
      '-p',
      String(sentinelPort),
      'SENTINEL',
      'get-master-addr-by-name',
      masterName,
    ]);
    if (stdout.includes(String(master.port))) break;
    if (Date.now() > deadline) throw new Error('Sentinel did not report the master');
    await sleep(100);
  }
  return {
    master,
    sentinelPort,
    masterName,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
