// SESSION_STORAGE: the reference scenario on each storage the examples can use (Express example).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedis } from '@kv-session/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startExample, Visitor } from './shared/harness.js';

describe('SESSION_STORAGE (Express example)', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  const dirs: string[] = [];
  beforeAll(async () => {
    assertBuilt();
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('file: a session survives a restart without Redis, in a 0600 file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-example-files-'));
    dirs.push(dir);
    // REDIS_URL points at a closed port: the file storage must not need Redis at all.
    const env = { REDIS_URL: 'redis://127.0.0.1:1', SESSION_STORAGE: 'file', SESSION_DIR: dir };
    let server = await startExample('express', env);
    expect(server.output()).toContain(`sessions in files under ${dir}`);
    expect(server.output()).not.toContain('WARNING');
    const visitor = new Visitor();
    expect((await visitor.get(server.baseUrl, '/set')).body).toBe('ok');
    const { time } = JSON.parse((await visitor.get(server.baseUrl, '/get')).body) as { time: number };
    expect(typeof time).toBe('number');
    const files = readdirSync(dir).filter((f) => f.endsWith('.session'));
    expect(files).toHaveLength(1);
    expect(statSync(join(dir, files[0]!)).mode & 0o777).toBe(0o600);
    expect(await server.stop()).toBe(0);

    server = await startExample('express', env);
    expect(JSON.parse((await visitor.get(server.baseUrl, '/get')).body)).toEqual({ time });
    expect((await visitor.get(server.baseUrl, '/del')).body).toBe('ok');
    expect(JSON.parse((await visitor.get(server.baseUrl, '/get')).body)).toEqual({});
    expect(readdirSync(dir).filter((f) => f.endsWith('.session'))).toHaveLength(0);
    expect(await server.stop()).toBe(0);
  });

  it('redis-hash: one hash per session, one field per key, restored after a restart', async () => {
    await redis.cli('FLUSHALL');
    const env = { REDIS_URL: redis.url, SESSION_STORAGE: 'redis-hash' };
    let server = await startExample('express', env);
    expect(server.output()).toContain('(StorageRedisHash)');
    const visitor = new Visitor();
    expect((await visitor.get(server.baseUrl, '/set')).body).toBe('ok');
    const { time } = JSON.parse((await visitor.get(server.baseUrl, '/get')).body) as { time: number };
    const keys = (await redis.cli('KEYS', '*')).split('\n').filter((k) => k !== '');
    expect(keys).toHaveLength(1);
    expect(keys[0]!.endsWith(visitor.id!)).toBe(true);
    expect(await redis.cli('TYPE', keys[0]!)).toBe('hash');
    expect(await redis.cli('HGET', keys[0]!, 'time')).toBe(String(time));
    expect(await server.stop()).toBe(0);

    server = await startExample('express', env);
    expect(JSON.parse((await visitor.get(server.baseUrl, '/get')).body)).toEqual({ time });
    expect((await visitor.get(server.baseUrl, '/del')).body).toBe('ok');
    expect(await redis.cli('DBSIZE')).toBe('0');
    expect(await server.stop()).toBe(0);
  });

  it('memory: says sessions will not survive a restart; an unknown value exits with status 2', async () => {
    const server = await startExample('express', { REDIS_URL: redis.url, SESSION_STORAGE: 'memory' });
    expect(server.output()).toContain('SESSION_STORAGE=memory');
    const visitor = new Visitor();
    expect((await visitor.get(server.baseUrl, '/set')).body).toBe('ok');
    expect(Object.keys(JSON.parse((await visitor.get(server.baseUrl, '/get')).body))).toEqual(['time']);
    expect(await server.stop()).toBe(0);

    const repo = fileURLToPath(new URL('../', import.meta.url));
    const bad = spawnSync(process.execPath, ['examples/express/server.js'], {
      cwd: repo,
      env: { ...process.env, SESSION_STORAGE: 'mongo', PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('SESSION_STORAGE must be one of redis-kv, redis-hash, file, memory');
  });
});
