import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const pkgs = [
  'core',
  'redis',
  'express',
  'fastify',
  'koa',
  'fetch',
  'hono',
  'node',
  'test-suite',
  'testing',
  'cli',
];
const src = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// NODE_REDIS=6 runs the tests' `import ... from 'redis'` against node-redis 6 (packages/redis has it
// as the devDependency `redis6`, an npm alias), so .ci/run runs the redis project once per major
// without a second copy of the tests: `NODE_REDIS=6 vitest run --project redis`.
const nodeRedis = process.env.NODE_REDIS;
if (nodeRedis !== undefined && nodeRedis !== '5' && nodeRedis !== '6') {
  throw new Error(`NODE_REDIS=${nodeRedis}: 5 (the default) or 6`);
}

/**
 * Seconds a file took in a full `pnpm test` on a 2-core machine (one worker; the consumer test from
 * an empty npm cache on a fresh machine): the order for a run without vitest's cache of durations
 * (node_modules/.vite/vitest, absent on CI), and a floor under the cached figure. Only the slow
 * files; any other goes after them. Keep it roughly in line when a file gets much slower or faster.
 */
const SLOW_FILES: Record<string, number> = {
  'repo:test/consumer/consumer.test.ts': 240, // npm install from an empty npm cache
  'cli:packages/cli/test/cli.test.ts': 60,
  'redis:packages/redis/test/storage-redis-conformance.test.ts': 32,
  'fastify:packages/fastify/test/compat-types.test.ts': 28,
  'redis:packages/redis/test/storage-redis-hash-conformance.test.ts': 24,
  'examples:examples/koa/server.test.ts': 22,
  'examples:examples/hono/server.test.ts': 20,
  'examples:examples/express/server.test.ts': 17,
  'examples:examples/fastify/server.test.ts': 16,
  'repo:test/reliability/concurrency.test.ts': 15,
  'express:packages/express/test/compat/types.test.ts': 14,
  'redis:packages/redis/test/cost.test.ts': 14,
  'koa:packages/koa/test/compat-types.test.ts': 13,
  'redis:packages/redis/test/failures.test.ts': 12,
  'examples:examples/express/account.test.ts': 11,
  'express:packages/express/test/session-types.test.ts': 10,
  'testing:packages/testing/test/redis-server.test.ts': 10,
};

/**
 * Files that run after every other, so that they run (nearly) alone. The Sentinel failover test
 * asserts that no write reported failed (503) is applied later; under the CPU load of the other
 * workers a write sent to the new master can answer after its 500 ms command timeout and be
 * applied: it failed so in the one full run with four workers, and passed alone (3 runs), next to
 * the redis and cli files (2 runs), in the one-worker run and last. Last, it costs its ~45 s at the
 * end instead of breaking a run.
 */
const RUN_LAST = new Set(['redis:packages/redis/test/failover.test.ts']);

/**
 * Longest file first, across projects (vitest's own order runs the projects one after the other by
 * name, so the slowest file, the consumer test in `repo`, started near the end): by the duration
 * vitest cached from the last run or SLOW_FILES, whichever is more; files known to neither keep
 * vitest's order. The workers then finish close together instead of one long file running alone
 * at the end. RUN_LAST files go after all.
 */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const seconds = (spec: TestSpecification) => {
      // The key of vitest's cache: `project:path from the root`.
      const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
      if (RUN_LAST.has(key)) return -1;
      // At least the listed figure: a run filtered with -t caches a file's duration as a fraction.
      return Math.max((this.ctx.cache.getFileTestResults(key)?.duration ?? 0) / 1000, SLOW_FILES[key] ?? 0);
    };
    const weight = new Map(base.map((spec) => [spec, seconds(spec)]));
    // Array.prototype.sort is stable: equal weights keep vitest's order.
    return base.sort((a, b) => weight.get(b)! - weight.get(a)!);
  }
}

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the build is checked separately (test/dist.test.ts).
    // The `/compat` subpaths (drop-ins for the peer libraries) first: an alias matches its prefix.
    alias: [
      {
        find: /^@kv-session\/([a-z-]+)\/compat$/,
        replacement: fileURLToPath(new URL('./packages/$1/src/compat.ts', import.meta.url)),
      },
      {
        find: /^@kv-session\/testing\/adapters$/,
        replacement: fileURLToPath(new URL('./packages/testing/adapters/index.ts', import.meta.url)),
      },
      ...pkgs.map((p) => ({ find: `@kv-session/${p}`, replacement: src(p) })),
      ...(nodeRedis === '6' ? [{ find: /^redis$/, replacement: 'redis6' }] : []),
    ],
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker per core but one, so a single worker on this 2-core machine ran
    // every file one after the other, mostly waiting on redis-server, child processes, npm and
    // sleeps (user CPU was a third of the wall time). Three workers on two cores overlap that
    // waiting; four made the CPU-bound tests (child processes, tsc) slow enough to hit timeouts.
    maxWorkers: Math.max(3, availableParallelism() - 1),
    sequence: { sequencer: SlowestFirst },
    typecheck: {
      enabled: true,
      include: ['**/*.test-d.ts'],
      tsconfig: fileURLToPath(new URL('./tsconfig.test-d.json', import.meta.url)),
    },
    projects: [
      ...pkgs.map((name) => ({
        extends: true as const,
        test: { name, root: `packages/${name}`, include: ['test/**/*.test.ts', 'test/**/*.test-d.ts'] },
      })),
      { extends: true as const, test: { name: 'examples', root: 'examples', include: ['**/*.test.ts'] } },
      { extends: true as const, test: { name: 'bench', root: 'bench', include: ['**/*.test.ts'] } },
      { extends: true as const, test: { name: 'repo', root: 'test', include: ['**/*.test.ts'] } },
    ],
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { 'packages/core/src/**': { lines: 90 } },
    },
  },
});
