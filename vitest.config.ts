import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkgs = ['core', 'redis', 'express', 'fastify', 'koa', 'fetch', 'hono', 'node', 'test-suite', 'testing'];
const src = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the build is checked separately (test/dist.test.ts).
    alias: Object.fromEntries(pkgs.map((p) => [`@kv-session/${p}`, src(p)])),
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
