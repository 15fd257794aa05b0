// The packages as they would be published, in a project outside the workspace: `pnpm pack` every
// public package, `npm install` the tarballs with express, fastify and node-redis 6 from the
// registry into a fresh npm project in os.tmpdir(), then run the reference scenario (/set, /get,
// /del) on Express and on Fastify against a private redis-server, each from ESM and from CommonJS
// (`require()` of our ESM, Node >= 20.19). Also checks `npm ls` (no missing, invalid or unmet peer
// dependency), the engines of everything our packages pull in, and that the types resolve
// (@arethetypeswrong/cli on each tarball, tsc under moduleResolution node16 and bundler).
// Needs `pnpm build` (the root `pnpm test` builds first) and the npm registry (as `pnpm install` does).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** The public packages: every packages/* whose package.json is not private. */
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir, manifest: readJson(join(root, 'packages', dir, 'package.json')) }))
  .filter(({ manifest }) => manifest.private !== true);

/**
 * What the consumer installs besides our tarballs, pinned like the workspace's own devDependencies
 * (node-redis 6, where the workspace tests default to 5, so this also proves the peer range).
 */
const THIRD_PARTY = {
  express: '5.3.0',
  fastify: '5.12.8',
  koa: '3.3.0',
  hono: '4.13.19',
  redis: '6.3.1',
  vitest: '4.1.12',
  '@types/express': '5.0.6',
  '@types/koa': '3.0.0',
  semver: '7.8.6',
  '@types/node': '20.19.43',
};

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  engines?: { node?: string };
  [field: string]: unknown;
}

function readJson(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

let dir: string;
let app: string;
let redis: RedisServer;
const tarballs = new Map<string, string>();

beforeAll(async () => {
  for (const { dir: name } of packages) {
    if (!existsSync(join(root, 'packages', name, 'dist/index.js'))) {
      throw new Error(`packages/${name}/dist is missing: run \`pnpm build\` first (\`pnpm test\` does).`);
    }
  }
  dir = await mkdtemp(join(tmpdir(), 'kv-session-consumer-'));
  const packs = join(dir, 'packs');
  app = join(dir, 'app');
  await mkdir(app);
  // pnpm pack turns workspace:^ into the real version range, as publishing does.
  await Promise.all(
    packages.map(({ dir: name }) =>
      run('pnpm', ['pack', '--pack-destination', packs], { cwd: join(root, 'packages', name) }),
    ),
  );
  for (const file of readdirSync(packs)) {
    const { manifest } = packages.find(({ manifest: m }) => file === `${tarballName(m)}`)!;
    tarballs.set(manifest.name, join(packs, file));
  }
  const dependencies = {
    ...Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`])),
    ...THIRD_PARTY,
  };
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, dependencies }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    timeout: 180_000,
  });
  await writeScenarios();
  redis = await startRedis();
}, 240_000);

afterAll(async () => {
  await redis?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** `@kv-session/core` 0.1.0 -> kv-session-core-0.1.0.tgz, the name pnpm pack gives it. */
function tarballName(manifest: Manifest): string {
  return `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`;
}

async function node(file: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [file], {
    cwd: app,
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return stdout.trim();
}

describe('packed packages installed with npm into a project outside the workspace', () => {
  it('packs every public package with what publishing needs', () => {
    expect([...tarballs.keys()].sort()).toEqual(packages.map((p) => p.manifest.name).sort());
    for (const { manifest } of packages) {
      const installed = readJson(join(app, 'node_modules', manifest.name, 'package.json'));
      expect(installed.license, manifest.name).toBe('MIT');
      expect(installed.repository, manifest.name).toMatchObject({
        type: 'git',
        directory: expect.any(String),
      });
      expect(installed.publishConfig, manifest.name).toEqual({ access: 'public' });
      expect(installed.exports, manifest.name).toMatchObject({
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      });
      // workspace: ranges were replaced by real ones.
      expect(JSON.stringify(installed), manifest.name).not.toContain('workspace:');
      for (const file of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts']) {
        expect(existsSync(join(app, 'node_modules', manifest.name, file)), `${manifest.name}/${file}`).toBe(
          true,
        );
      }
    }
  });

  it('npm ls finds no missing, invalid or unmet peer dependency', async () => {
    // Exits non-zero on any problem; the output names it.
    const { stdout } = await run('npm', ['ls', '--all'], { cwd: app });
    expect(stdout).toContain('redis@6.3.1');
    // (`UNMET OPTIONAL DEPENDENCY` lines are other platforms' binaries of vitest's bundler: fine.)
    expect(stdout).not.toMatch(/UNMET (PEER )?DEPENDENCY|invalid|extraneous/);
  });

  it('nothing our packages pull in declares engines that exclude Node 20.19', async () => {
    const { stdout } = await run('npm', ['ls', '--all', '--json', ...tarballs.keys()], { cwd: app });
    type Tree = { version?: string; dependencies?: Record<string, Tree> };
    const seen = new Set<string>();
    const walk = (deps: Record<string, Tree> | undefined, from: string[]) => {
      for (const [name, child] of Object.entries(deps ?? {})) {
        if (name in THIRD_PARTY && !name.startsWith('@kv-session/')) continue; // the app's own choice
        seen.add(`${name}@${child.version} (via ${from.join(' > ')})`);
        walk(child.dependencies, [...from, name]);
      }
    };
    walk((JSON.parse(stdout) as Tree).dependencies, []);
    const semver = (await import(join(app, 'node_modules/semver/index.js'))) as {
      default: { satisfies(version: string, range: string): boolean };
    };
    const excluding = [...seen].filter((entry) => {
      const name = entry.slice(0, entry.indexOf('@', 1));
      const range = readJson(join(app, 'node_modules', name, 'package.json')).engines?.node;
      return range !== undefined && !semver.default.satisfies('20.19.0', range);
    });
    expect(seen.size).toBeGreaterThan(tarballs.size);
    expect(excluding).toEqual([]);
  });

  it.each(['mjs', 'cjs'])('every package loads from .%s', async (ext) => {
    const names = JSON.parse(await node(`load.${ext}`)) as Record<string, string[]>;
    expect(Object.keys(names).sort()).toEqual([...tarballs.keys()].sort());
    for (const [name, exported] of Object.entries(names)) expect(exported.length, name).toBeGreaterThan(0);
    expect(names['@kv-session/core']).toEqual(expect.arrayContaining(['SessionManager', 'StorageMemory']));
    expect(names['@kv-session/redis']).toContain('StorageRedisKV');
    expect(names['@kv-session/express']).toContain('session');
    expect(names['@kv-session/fastify']).toContain('session');
    expect(names['@kv-session/test-suite']).toContain('runStorageTestSuite');
  });

  it.each([
    ['express', 'mjs'],
    ['express', 'cjs'],
    ['fastify', 'mjs'],
    ['fastify', 'cjs'],
  ])('the reference scenario on %s from .%s against a private Redis', async (framework, ext) => {
    const prefix = `consumer-${framework}-${ext}:`;
    const result = JSON.parse(
      await node(`${framework}.${ext}`, { REDIS_URL: redis.url, PREFIX: prefix }),
    ) as Scenario;
    expect(result.set).toEqual({ status: 200, body: 'ok' });
    expect(result.cookieName).toBe('sid');
    const got = JSON.parse(result.got.body) as { time: number };
    expect(result.got.status).toBe(200);
    expect(typeof got.time).toBe('number');
    // The one Redis key holds the JSON /get answered.
    expect(result.stored).toEqual(got);
    expect(result.del).toEqual({ status: 200, body: 'ok' });
    expect(result.after).toEqual({ status: 200, body: '{}' });
    expect(result.keysAfter).toBe(0);
  });

  // The three type checks last, at once: each is seconds of CPU in its own TypeScript program (tsc
  // processes, attw in this one) that needs nothing from the others, so their ~50 s in a row became
  // the longest of them. (The lighter tests above stay one at a time under their 20 s timeout.)
  it.concurrent.each(['node16', 'bundler'])(
    'types resolve with moduleResolution %s (tsc)',
    async (resolution) => {
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      // Exits non-zero with the compiler's errors on any problem.
      await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: app });
    },
    120_000,
  );

  it.concurrent('@arethetypeswrong/cli finds no problem in any tarball (its esm-only profile)', async () => {
    // The CLI's own engine, in this process: one TypeScript load for all tarballs instead of one per
    // `attw` run (9 runs took 90 s on a busy 2-core machine). The esm-only profile, as `attw
    // --profile esm-only`, leaves out node10 and node16-from-CJS resolution: we ship ESM only, and
    // CommonJS callers `require()` it on Node >= 20.19 (the .cjs scenarios above do).
    const cli = createRequire(join(root, 'node_modules/@arethetypeswrong/cli/package.json'));
    const attw = (await import(cli.resolve('@arethetypeswrong/core'))) as {
      createPackageFromTarballData(data: Uint8Array): unknown;
      checkPackage(pkg: unknown): Promise<{ types: unknown; problems: { resolutionKind?: string }[] }>;
    };
    const problems: string[] = [];
    for (const [name, file] of tarballs) {
      const analysis = await attw.checkPackage(attw.createPackageFromTarballData(readFileSync(file)));
      if (!analysis.types) problems.push(`${name}: no types`);
      else {
        for (const problem of analysis.problems) {
          if (['node10', 'node16-cjs'].includes(problem.resolutionKind ?? '')) continue;
          problems.push(`${name}: ${JSON.stringify(problem)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

interface Scenario {
  set: { status: number; body: string };
  got: { status: number; body: string };
  del: { status: number; body: string };
  after: { status: number; body: string };
  stored: unknown;
  keysAfter: number;
  cookieName: string;
}

/** Writes the consumer's programs: one per framework and module system, plus load and type checks. */
async function writeScenarios(): Promise<void> {
  const names = [...tarballs.keys()];
  const load = (importOf: (name: string) => string) =>
    `const names = {};\n${names.map((n) => `names[${JSON.stringify(n)}] = Object.keys(${importOf(n)}).sort();`).join('\n')}\nconsole.log(JSON.stringify(names));\n`;
  await writeFile(
    join(app, 'load.mjs'),
    load((n) => `await import(${JSON.stringify(n)})`),
  );
  await writeFile(
    join(app, 'load.cjs'),
    load((n) => `require(${JSON.stringify(n)})`),
  );

  const imports = {
    express: {
      mjs: `import express from 'express';\nimport { session } from '@kv-session/express';\n`,
      cjs: `const express = require('express');\nconst { session } = require('@kv-session/express');\n`,
    },
    fastify: {
      mjs: `import Fastify from 'fastify';\nimport { session } from '@kv-session/fastify';\n`,
      cjs: `const Fastify = require('fastify');\nconst { session } = require('@kv-session/fastify');\n`,
    },
    redis: {
      mjs: `import { StorageRedisKV } from '@kv-session/redis';\nimport { createClient } from 'redis';\n`,
      cjs: `const { StorageRedisKV } = require('@kv-session/redis');\nconst { createClient } = require('redis');\n`,
    },
  };
  const servers = {
    express: `
const app = express();
app.use(session({ storage, maxAge: 60_000 }));
app.get('/set', async (req, res) => { await req.session.set('time', Math.floor(Date.now() / 1000)); res.send('ok'); });
app.get('/get', async (req, res) => res.json(await req.session.data()));
app.get('/del', async (req, res) => { await req.session.removeAll(); res.send('ok'); });
const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
const port = server.address().port;
const close = () => new Promise((resolve) => server.close(resolve));
`,
    fastify: `
const app = Fastify();
await app.register(session, { storage, maxAge: 60_000 });
app.get('/set', async (request) => { await request.session.set('time', Math.floor(Date.now() / 1000)); return 'ok'; });
app.get('/get', async (request) => request.session.data());
app.get('/del', async (request) => { await request.session.removeAll(); return 'ok'; });
await app.listen({ port: 0, host: '127.0.0.1' });
const port = app.server.address().port;
const close = () => app.close();
`,
  };
  const scenario = (framework: 'express' | 'fastify') => `
const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error) => console.error('redis', error));
await client.connect();
const prefix = process.env.PREFIX;
const storage = new StorageRedisKV({ client, prefix });
${servers[framework]}
let cookie = '';
const get = async (path) => {
  const res = await fetch('http://127.0.0.1:' + port + path, { headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get('set-cookie');
  if (setCookie) cookie = setCookie.split(';')[0];
  return { status: res.status, body: await res.text() };
};
const set = await get('/set');
const keys = await client.keys(prefix + '*');
const stored = keys.length === 1 ? JSON.parse(await client.get(keys[0])) : keys;
const got = await get('/get');
const del = await get('/del');
const after = await get('/get');
const keysAfter = (await client.keys(prefix + '*')).length;
console.log(JSON.stringify({ set, got, del, after, stored, keysAfter, cookieName: cookie.split('=')[0] }));
await close();
await client.close();
`;
  for (const framework of ['express', 'fastify'] as const) {
    await writeFile(
      join(app, `${framework}.mjs`),
      imports[framework].mjs + imports.redis.mjs + scenario(framework),
    );
    await writeFile(
      join(app, `${framework}.cjs`),
      `${imports[framework].cjs + imports.redis.cjs}(async () => {${scenario(framework)}})().catch((error) => { console.error(error); process.exitCode = 1; });\n`,
    );
  }

  // A typed consumer: the adapters' request.session typing and the packages' types (test-suite's
  // are left to attw below: they pull in vitest's, which doubled tsc's time here).
  await writeFile(
    join(app, 'types.mts'),
    `import { type Storage, SessionManager, StorageMemory } from '@kv-session/core';
import { session as expressSession } from '@kv-session/express';
import { session as fastifySession } from '@kv-session/fastify';
import { session as koaSession } from '@kv-session/koa';
import { session as honoSession } from '@kv-session/hono';
import { StorageRedisKV } from '@kv-session/redis';
import * as fetchAdapter from '@kv-session/fetch';
import * as nodeAdapter from '@kv-session/node';
import express from 'express';
import { createClient } from 'redis';

const storage: Storage = new StorageRedisKV({ client: createClient() });
const app = express();
app.use(expressSession({ storage: new StorageMemory(), maxAge: 60_000 }));
app.get('/', async (req, res) => {
  const time: unknown = await req.session.get('time');
  res.json({ time });
});
export const used = [storage, new SessionManager(), fastifySession, koaSession, honoSession, fetchAdapter, nodeAdapter];
`,
  );
  for (const resolution of ['node16', 'bundler']) {
    const compilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: 'es2022',
      types: ['node'],
      module: resolution === 'node16' ? 'node16' : 'esnext',
      moduleResolution: resolution,
    };
    await writeFile(
      join(app, `tsconfig.${resolution}.json`),
      JSON.stringify({ compilerOptions, files: ['types.mts'] }, null, 2),
    );
  }
}
