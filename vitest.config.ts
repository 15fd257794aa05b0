import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

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
    typecheck: { enabled: true, include: ['**/*.test-d.ts'], tsconfig: './tsconfig.json' },
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
