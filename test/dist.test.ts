// The built packages, as users get them: `import` from ESM and `require()` from CommonJS on Node 20.
// Runs after `pnpm build` (the root `pnpm test` builds first). A missing build fails, never skips.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as coreSource from '@kv-session/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const packageDir = (name: string) => join(root, 'packages', name);

/** What both module systems print: exported names and the result of a real session round trip. */
const PROGRAM = `
const manager = new core.SessionManager({ storage: new core.StorageMemory(), secret: 'x'.repeat(32) });
const first = manager.session();
await first.set('user', { name: 'ada', emoji: '😀' });
const { setCookie } = await manager.commit(first);
const next = manager.session({ cookie: setCookie.split(';')[0] });
let rejected = '';
try { new core.SessionManager({ maxAge: -1 }); } catch (e) { rejected = e instanceof core.ConfigError ? e.code : 'wrong class'; }
console.log(JSON.stringify({
  node: process.version,
  names: Object.keys(core).sort(),
  user: await next.get('user'),
  sameId: next.id === first.id,
  rejected,
}));
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kv-session-dist-'));
  // A tiny "app" whose node_modules links to the workspace packages, so Node resolves
  // '@kv-session/core' through the package's own `exports` map, as an installed dependency.
  await mkdir(join(dir, 'node_modules', '@kv-session'), { recursive: true });
  for (const name of ['core', 'test-suite']) {
    await symlink(packageDir(name), join(dir, 'node_modules', '@kv-session', name), 'dir');
  }
  await writeFile(join(dir, 'package.json'), '{ "name": "dist-check", "private": true }\n');
  await writeFile(
    join(dir, 'esm.mjs'),
    `import * as core from '@kv-session/core';\nimport { StorageMemory } from '@kv-session/core';\n` +
      `if (typeof StorageMemory !== 'function') throw new Error('no StorageMemory');\n${PROGRAM}`,
  );
  await writeFile(
    join(dir, 'cjs.cjs'),
    `const core = require('@kv-session/core');\n(async () => {\n${PROGRAM}\n})().catch((e) => { console.error(e); process.exit(1); });\n`,
  );
  await writeFile(
    join(dir, 'suite.mjs'),
    `import { runStorageTestSuite } from '@kv-session/test-suite';\nconsole.log(typeof runStorageTestSuite);\n`,
  );
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function assertBuilt(name: string): void {
  for (const file of ['dist/index.js', 'dist/index.d.ts']) {
    if (!existsSync(join(packageDir(name), file))) {
      throw new Error(`packages/${name}/${file} is missing: run \`pnpm build\` first (\`pnpm test\` does).`);
    }
  }
}

async function node(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [file], { cwd: dir, timeout: 30_000 });
  return stdout.trim();
}

// Runtime exports of the sources (types are erased): the build must have exactly these.
const sourceNames = Object.keys(coreSource).sort();

describe('built @kv-session/core', () => {
  it('is built', () => {
    assertBuilt('core');
  });

  it.each([
    ['ESM import', 'esm.mjs'],
    ['CommonJS require()', 'cjs.cjs'],
  ])('loads with %s on Node >= 20.19 and works', async (_, file) => {
    assertBuilt('core');
    const result = JSON.parse(await node(file)) as {
      node: string;
      names: string[];
      user: unknown;
      sameId: boolean;
      rejected: string;
    };
    const [major, minor] = result.node.slice(1).split('.').map(Number) as [number, number];
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
    expect(result.names).toEqual(sourceNames);
    expect(result.names).toEqual(expect.arrayContaining(['StorageMemory', 'SessionManager', 'SessionError']));
    expect(result.user).toEqual({ name: 'ada', emoji: '😀' });
    expect(result.sameId).toBe(true);
    expect(result.rejected).toBe('CONFIG_INVALID');
  });
});

describe('built @kv-session/test-suite', () => {
  it('is built and exports runStorageTestSuite', async () => {
    assertBuilt('test-suite');
    expect(await node('suite.mjs')).toBe('function');
  });
});
