// Helpers of the stress scripts (plain Node, no build step of their own): a private redis-server,
// free ports, and the built packages and their dependencies, resolved from the packages that
// declare them (the root has no runtime dependencies).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Imports `name` as the package at packages/<pkg> resolves it. */
export async function importFrom(pkg, name) {
  const require = createRequire(join(repoRoot, 'packages', pkg, 'package.json'));
  return import(pathToFileURL(require.resolve(name)).href);
}

/** Imports a built package of ours (run `pnpm -s build` first; `pnpm test:stress` does). */
export function importBuilt(pkg) {
  return import(pathToFileURL(join(repoRoot, 'packages', pkg, 'dist', 'index.js')).href);
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Reads a positive number from the environment. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}

/** A private redis-server on a free port; `stop()` kills it (SIGKILL), `start()` restarts it on the same port and directory. */
export async function startRedis(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kv-stress-redis-'));
  let child;
  const ping = async () => {
    try {
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING']);
      return stdout.trim() === 'PONG';
    } catch {
      return false;
    }
  };
  const server = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async cli(...args) {
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout.trim();
    },
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--dir',
          dir,
          '--logfile',
          '',
          ...extraArgs,
        ],
        { stdio: 'ignore' },
      );
      const deadline = Date.now() + 10_000;
      while (!(await ping())) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await sleep(20);
      }
    },
    async stop() {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await server.start();
  return server;
}

/** Fails the script with a message (collected, so that every failed check is printed). */
export class Checks {
  failures = [];
  check(ok, message) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
    if (!ok) this.failures.push(message);
  }
  finish(name) {
    if (this.failures.length > 0) {
      console.error(`${name}: ${this.failures.length} check(s) failed`);
      process.exitCode = 1;
    } else {
      console.log(`${name}: all checks passed`);
    }
  }
}
