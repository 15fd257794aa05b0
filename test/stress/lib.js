// Helpers of the stress scripts (plain Node, no build step of their own): a private redis-server
// and free ports (from the built @kv-session/testing), and the built packages and their
// dependencies, resolved from the packages that declare them (the root has no runtime dependencies).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
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

/** Reads a positive number from the environment. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}

const testing = await importBuilt('testing');

/** A free TCP port on 127.0.0.1 (`@kv-session/testing`). */
export const freePort = testing.freePort;

/**
 * A private redis-server on a free port (`@kv-session/testing`'s): `stop()` kills it (SIGKILL),
 * `start()` restarts it on the same port and directory.
 */
export function startRedis(extraArgs = []) {
  return testing.startRedis({ args: extraArgs });
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
