import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeClusterPort, freePort } from './free-port.js';

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

async function waitForPing(port: number, proc?: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A server that exited (its port taken meanwhile, say) will never answer: say so at once.
    if (proc !== undefined && (proc.exitCode !== null || proc.signalCode !== null)) {
      throw new Error(
        `redis-server on port ${port} exited before it answered (${proc.exitCode ?? proc.signalCode})`,
      );
    }
    try {
      // Bounded: something else listening on the port may never answer.
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], {
        timeout: 2_000,
      });
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

/**
 * Starts a private `redis-server` (no persistence unless asked) and waits until it answers. Without
 * a given port it picks a free one (for a cluster node, one whose bus port is free too), and tries
 * another if the server cannot start there: a port free a moment ago may be taken by then.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options.port !== undefined) return await startRedisOn(options.port, options);
  const cluster = options.args?.includes('--cluster-enabled') === true;
  for (let attempt = 1; ; attempt++) {
    const port = cluster ? await freeClusterPort() : await freePort();
    try {
      return await startRedisOn(port, options);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startRedisOn(port: number, options: RedisServerOptions): Promise<RedisServer> {
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
    try {
      await waitForPing(port, proc);
    } catch (error) {
      proc.kill('SIGKILL');
      throw error;
    }
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

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /**
   * Persist every write (`--appendonly yes --appendfsync always`), so a node killed and started
   * again (same port and directory) still holds every key it acknowledged. @default false
   */
  appendOnly?: boolean;
  /** `--cluster-node-timeout` in milliseconds. @default 5000 */
  nodeTimeoutMs?: number;
}

/** Starts `masters` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(
  masters = 3,
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const persistence = options.appendOnly === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : [];
  for (let i = 0; i < masters; i++) {
    nodes.push(
      await startRedis({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(options.nodeTimeoutMs ?? 5000),
          ...persistence,
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

/** A private master (optionally with one replica) plus one Sentinel watching it. */
export interface RedisSentinel {
  /** The master the Sentinel was started with (after a failover, no longer the master). */
  readonly master: RedisServer;
  /** The replica of `master`, when started with `{ replica: true }`. */
  readonly replica: RedisServer | undefined;
  readonly sentinelPort: number;
  readonly masterName: string;
  /** Runs `redis-cli -p <sentinelPort> ...args` and returns its trimmed stdout. */
  sentinelCli(...args: string[]): Promise<string>;
  /** The port the Sentinel reports for the master now (`SENTINEL get-master-addr-by-name`). */
  masterPort(): Promise<number | undefined>;
  /**
   * Waits until the replica has received everything written to the master so far (its replication
   * offset reaches the master's). Unlike `WAIT`, this covers writes of every connection.
   */
  waitForReplica(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** @default 'kvmaster' */
  masterName?: string;
  /**
   * Also start a replica (`--replicaof` the master) and wait until the Sentinel knows it, so that
   * the Sentinel can fail over to it. @default false
   */
  replica?: boolean;
  /** `sentinel down-after-milliseconds`. @default 5000 */
  downAfterMs?: number;
  /** `sentinel failover-timeout` in milliseconds. @default Redis's own (180000) */
  failoverTimeoutMs?: number;
}

/**
 * Starts a master and a Sentinel (`redis-server <conf> --sentinel`) that monitors it (quorum 1).
 * Takes the master name (default `'kvmaster'`) or {@link RedisSentinelOptions}; with
 * `{ replica: true, downAfterMs: 500, failoverTimeoutMs: 2000 }` a killed master is replaced by the
 * replica within a few seconds.
 */
export async function startRedisSentinel(
  nameOrOptions: string | RedisSentinelOptions = {},
): Promise<RedisSentinel> {
  const options = typeof nameOrOptions === 'string' ? { masterName: nameOrOptions } : nameOrOptions;
  const masterName = options.masterName ?? 'kvmaster';
  const cleanup: (() => Promise<void>)[] = [];
  let proc: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'kv-session-sentinel-'));
  const stop = async () => {
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    await Promise.allSettled(cleanup.map((c) => c()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // No delay before a diskless full sync (Redis 7 waits 5 s for more replicas by default).
    const master = await startRedis(
      options.replica === true ? { args: ['--repl-diskless-sync-delay', '0'] } : {},
    );
    cleanup.push(() => master.stop());
    let replica: RedisServer | undefined;
    if (options.replica === true) {
      replica = await startRedis({
        args: ['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync-delay', '0'],
      });
      const started = replica;
      cleanup.push(() => started.stop());
      await waitFor('the replica to sync', async () =>
        (await started.cli('INFO', 'replication')).includes('master_link_status:up'),
      );
    }
    const sentinelPort = await freePort();
    const sentinelCli = async (...args: string[]) => {
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(sentinelPort), ...args]);
      return stdout.trim();
    };
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 5000}`,
        ...(options.failoverTimeoutMs === undefined
          ? []
          : [`sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs}`]),
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    proc = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    await waitForPing(sentinelPort);
    const masterPort = async () => {
      const reply = await sentinelCli('SENTINEL', 'get-master-addr-by-name', masterName);
      const port = Number(reply.split(/\r?\n/)[1]);
      return Number.isInteger(port) && port > 0 ? port : undefined;
    };
    await waitFor('the Sentinel to report the master', async () => (await masterPort()) === master.port);
    if (replica !== undefined) {
      // The Sentinel learns of the replica from the master's INFO; it can only fail over to a replica
      // it has connected to and heard from.
      const port = `\n${replica.port}\n`;
      await waitFor('the Sentinel to know the replica', async () => {
        const replicas = `\n${await sentinelCli('SENTINEL', 'replicas', masterName)}\n`;
        return replicas.includes(port) && /\nflags\nslave\n/.test(replicas);
      });
    }
    const waitForReplica = async (timeoutMs = 10_000) => {
      if (replica === undefined) throw new Error('started without { replica: true }');
      const target = replicationOffset(await master.cli('INFO', 'replication'), 'master_repl_offset');
      const started = replica;
      await waitFor(
        'the replica to catch up',
        async () =>
          replicationOffset(await started.cli('INFO', 'replication'), 'slave_repl_offset') >= target,
        timeoutMs,
      );
    };
    return { master, replica, sentinelPort, masterName, sentinelCli, masterPort, waitForReplica, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function replicationOffset(info: string, field: string): number {
  const offset = Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1]);
  if (!Number.isFinite(offset)) throw new Error(`no ${field} in INFO replication`);
  return offset;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
