// The built `/compat` subpaths of @kv-session/fastify and @kv-session/koa, resolved through each
// package's `exports` map as an installed dependency would be, from ESM and from CommonJS.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kv-session-compat-dist-'));
  await mkdir(join(dir, 'node_modules', '@kv-session'), { recursive: true });
  for (const name of ['fastify', 'koa']) {
    if (!existsSync(join(root, 'packages', name, 'dist', 'compat.js'))) {
      throw new Error(`packages/${name}/dist/compat.js is missing: run \`pnpm build\` first.`);
    }
    await symlink(join(root, 'packages', name), join(dir, 'node_modules', '@kv-session', name), 'dir');
  }
  await writeFile(join(dir, 'package.json'), '{ "name": "compat-dist-check", "private": true }\n');
  await writeFile(
    join(dir, 'esm.mjs'),
    "import f from '@kv-session/fastify/compat';\nimport k from '@kv-session/koa/compat';\n" +
      'console.log(JSON.stringify([typeof f, typeof k]));\n',
  );
  await writeFile(
    join(dir, 'cjs.cjs'),
    "const f = require('@kv-session/fastify/compat');\nconst k = require('@kv-session/koa/compat');\n" +
      'console.log(JSON.stringify([typeof f.default, typeof k.default]));\n',
  );
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it.each([
  ['ESM import', 'esm.mjs'],
  ['CommonJS require()', 'cjs.cjs'],
])('@kv-session/fastify/compat and @kv-session/koa/compat load with %s', async (_, file) => {
  const { stdout } = await run(process.execPath, [file], { cwd: dir, timeout: 30_000 });
  expect(JSON.parse(stdout)).toEqual(['function', 'function']);
});
