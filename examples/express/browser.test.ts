// A real browser against the Express example: headless Chromium driven by playwright-core. The
// browser comes from the npm registry (@sparticuz/chromium ships a brotli-packed Chromium inside the
// package), so `pnpm install` is all the set-up a fresh machine needs; `CHROMIUM_PATH`, or Debian's
// /usr/bin/chromium when installed, is used instead when present.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type RedisServer, startRedis } from '@kv-session/testing';
import sparticuz from '@sparticuz/chromium';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type ExampleServer, startExample } from '../shared/harness.js';

/**
 * The Chromium to run: `CHROMIUM_PATH`, else Debian's, else the npm package's, unpacked once per
 * package version into node_modules/.cache (about 8 s and 200 MB; later runs reuse it).
 */
async function chromiumPath(): Promise<string> {
  const given = process.env.CHROMIUM_PATH;
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  const cache = join(
    import.meta.dirname,
    '../node_modules/.cache',
    `sparticuz-chromium-${packageVersion('@sparticuz/chromium')}`,
  );
  const binary = join(cache, 'chromium');
  if (existsSync(binary)) return binary;
  // The package unpacks into os.tmpdir(): point that at a private staging directory, then move the
  // finished directory into place in one rename, so a concurrent run never sees half a binary.
  mkdirSync(dirname(cache), { recursive: true });
  const staging = mkdtempSync(`${cache}.tmp-`);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  try {
    await sparticuz.executablePath();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
  try {
    renameSync(staging, cache);
  } catch (error) {
    // Another run finished first: keep its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(binary)) throw error;
  }
  return binary;
}

/** An installed package's version; `name/package.json` is not always exported, so walk up to it. */
function packageVersion(name: string): string {
  for (let dir = dirname(createRequire(import.meta.url).resolve(name)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    const manifest = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string })
      : undefined;
    if (manifest?.name === name) return manifest.version;
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name} found`);
  }
}

describe('Express example in headless Chromium', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let server: ExampleServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    assertBuilt();
    const executablePath = await chromiumPath();
    redis = await startRedis();
    server = await startExample('express', { REDIS_URL: redis.url });
    profile = mkdtempSync(join(tmpdir(), 'kv-session-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await server?.stop();
    await redis?.stop();
  });

  it('opens /set then /get and sees the value; the cookie is HttpOnly and SameSite=Lax', async () => {
    const page = await context.newPage();

    const set = await page.goto(`${server.baseUrl}/set`);
    expect(set?.status()).toBe(200);
    expect(await page.textContent('body')).toBe('ok');

    const get = await page.goto(`${server.baseUrl}/get`);
    expect(get?.status()).toBe(200);
    const data = JSON.parse((await page.textContent('body')) ?? '') as { time?: unknown };
    expect(typeof data.time).toBe('number');

    // The value the browser sees is the one stored in Redis under the cookie's id.
    const cookies = await context.cookies(server.baseUrl);
    const sid = cookies.find((c) => c.name === 'sid');
    expect(sid).toBeDefined();
    const keys = (await redis.cli('KEYS', '*')).split('\n');
    expect(keys).toHaveLength(1);
    expect(keys[0]!.endsWith(sid!.value)).toBe(true);
    // (Beside kv-session's reserved `__kv`, which the example's persistent cookie fills: docs/lifecycle.md.)
    const { __kv, ...stored } = JSON.parse(await redis.cli('GET', keys[0]!)) as Record<string, unknown>;
    expect(stored).toEqual(data);

    // Scripts on the page cannot read it (a script-set cookie shows, so document.cookie works);
    // the browser stored it HttpOnly and SameSite=Lax.
    const visible = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { cookie: string } }).document;
      doc.cookie = 'visible=1; SameSite=Lax';
      return doc.cookie;
    });
    expect(visible).toContain('visible=1');
    expect(visible).not.toContain('sid=');
    expect(sid!.httpOnly).toBe(true);
    expect(sid!.sameSite).toBe('Lax');
    expect(sid!.secure).toBe(false);
  });
});
