// A real browser against the Express example: Debian's headless Chromium driven by playwright-core.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type ExampleServer, startExample } from '../shared/harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('Express example in headless Chromium', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let server: ExampleServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    assertBuilt();
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`,
      );
    }
    redis = await startRedis();
    server = await startExample('express', { REDIS_URL: redis.url });
    profile = mkdtempSync(join(tmpdir(), 'kv-session-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
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
    expect(JSON.parse(await redis.cli('GET', keys[0]!))).toEqual(data);

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
