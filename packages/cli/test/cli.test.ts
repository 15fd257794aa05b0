// The built `kv-session` command, run as a child process against a private redis-server, over
// sessions written by the real manager and storages.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type SessionData, SessionManager, type Storage } from '@kv-session/core';
import { MOVED_MARKER, StorageRedisHash, StorageRedisKV } from '@kv-session/redis';
import { freePort, type RedisServer, startRedis } from '@kv-session/testing';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kv-session ...args`; resolves whatever it exits with. */
function cli(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

let server: RedisServer;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm -s build\` first`);
  server = await startRedis();
  client = createClient({ url: server.url });
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

beforeEach(async () => {
  await client.flushAll();
});

const MAX_AGE = 60_000;

/** A manager as an app has one; `absoluteTimeout` makes core keep `__kv.created` in every record. */
function managerOf(storage: Storage, absoluteTimeout?: number) {
  return new SessionManager({
    storage,
    maxAge: MAX_AGE,
    ...(absoluteTimeout === undefined ? {} : { absoluteTimeout }),
  });
}

/** Creates a session holding `data` (and owned by `owner`) through the manager; resolves its id. */
async function create(manager: SessionManager, data: SessionData, owner?: string): Promise<string> {
  const session = manager.session();
  if (owner !== undefined) await session.setOwner(owner);
  await session.setMany(data);
  const outcome = await manager.save(session);
  expect(outcome.live).toBe(true);
  return outcome.id!;
}

/** `--redis-url` of the private server. */
const at = () => ['--redis-url', server.url];

describe('show', () => {
  it('prints the data, size and expiry of a session without refreshing its expiry', async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const id = await create(manager, { user: 'ada', cart: [1, 2, 3], note: 'héllo' });
    const key = `kv-session:${id}`;
    await client.pExpire(key, 40_000);

    const res = await cli('show', id, '--json', ...at());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const shown = JSON.parse(res.stdout);
    expect(shown.id).toBe(id);
    expect(shown.key).toBe(key);
    expect(shown.data).toEqual({ user: 'ada', cart: [1, 2, 3], note: 'héllo' });
    expect(shown.bytes).toBe(await client.strLen(key));
    const expires = Date.parse(shown.expires);
    expect(expires).toBeGreaterThan(Date.now() + 20_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 40_000);
    // A storage load would have set it back to MAX_AGE (60 s).
    expect(await client.pTTL(key)).toBeLessThanOrEqual(40_000);

    const text = await cli('show', id, ...at());
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`session  ${id}`);
    expect(text.stdout).toContain('"user": "ada"');
  });

  it('reads a StorageRedisHash session with --storage hash', async () => {
    const manager = managerOf(new StorageRedisHash({ client }));
    const id = await create(manager, { user: 'bob', '\u0000odd': 1, nested: { a: [true, null] } });

    const res = await cli('show', id, '--storage', 'hash', '--json', ...at());
    expect(res.code).toBe(0);
    const shown = JSON.parse(res.stdout);
    expect(shown.key).toBe(`kv-session:h:${id}`);
    expect(shown.data).toEqual({ user: 'bob', '\u0000odd': 1, nested: { a: [true, null] } });
    expect(shown.bytes).toBe(Buffer.byteLength(JSON.stringify(shown.data)));

    // Without --storage hash, the kv prefix has no session of that id.
    const kv = await cli('show', id, ...at());
    expect(kv.code).toBe(1);
    // With the prefix but not the storage, the key is found and its type named.
    const wrong = await cli('show', id, '--prefix', 'kv-session:h:', ...at());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('(the key holds a hash key; is --storage right?)');
  });

  it('says so for an unknown id, and for the mark regenerate() leaves under an old id', async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const unknown = 'A'.repeat(43);
    const res = await cli('show', unknown, ...at());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`no session under key kv-session:${unknown}`);
    expect(res.stdout).toBe('');

    const id = await create(manager, { a: 1 });
    const session = manager.sessionById(id);
    await session.regenerate();
    const moved = await manager.save(session);
    expect(moved.id).not.toBe(id);
    expect(await client.get(`kv-session:${id}`)).toBe(MOVED_MARKER);
    const old = await cli('show', id, ...at());
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('regenerate() moved it');
    expect((await cli('show', moved.id!, ...at())).code).toBe(0);
  });
});

describe('revoke', () => {
  it('deletes one session, leaves the others, and says so for an id it does not know', async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const victim = await create(manager, { user: 'eve' });
    const other = await create(manager, { user: 'eve' });

    const res = await cli('revoke', victim, ...at());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`revoked session ${victim}\n`);
    expect(await client.exists(`kv-session:${victim}`)).toBe(0);
    // The app sees it gone; the other session lives on.
    expect(await manager.sessionById(victim).data()).toEqual({});
    expect(await manager.sessionById(other).data()).toEqual({ user: 'eve' });

    const again = await cli('revoke', victim, '--json', ...at());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no session under key');
  });
});

// Six Node processes in a test: on a loaded 2-core machine (other test files running alongside)
// that took over 20 s.
describe('owners', { timeout: 60_000 }, () => {
  for (const kind of ['kv', 'hash'] as const) {
    it(`list --owner shows the owner's live sessions with shortened ids; revoke --owner ends them all (${kind})`, async () => {
      const storage = kind === 'hash' ? new StorageRedisHash({ client }) : new StorageRedisKV({ client });
      const manager = managerOf(storage);
      const ada = [await create(manager, { n: 1 }, 'ada'), await create(manager, { n: 2 }, 'ada')];
      const grace = await create(manager, { n: 3 }, 'grace');
      const prefix = kind === 'hash' ? 'kv-session:h:' : 'kv-session:';
      const opts = ['--storage', kind, ...at()];

      const listed = await cli('list', '--owner', 'ada', '--json', ...opts);
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      const { owner, sessions } = JSON.parse(listed.stdout);
      expect(owner).toBe('ada');
      expect(sessions.map((s: { id: string }) => s.id).sort()).toEqual(
        ada.map((id) => `${id.slice(0, 6)}…`).sort(),
      );
      for (const s of sessions) {
        expect(Date.parse(s.created)).toBeLessThanOrEqual(Date.now());
        expect(Date.parse(s.expires)).toBeGreaterThan(Date.now() + MAX_AGE - 10_000);
      }
      const text = await cli('list', '--owner', 'ada', ...opts);
      expect(text.stdout).toContain(`${ada[0]!.slice(0, 6)}…`);
      for (const id of ada) expect(text.stdout).not.toContain(id); // full ids are credentials
      const nobody = await cli('list', '--owner', 'nobody', ...opts);
      expect(nobody).toMatchObject({ code: 0, stdout: 'owner nobody has no live session\n' });

      const revoked = await cli('revoke', '--owner', 'ada', '--json', ...opts);
      expect(revoked.code).toBe(0);
      expect(JSON.parse(revoked.stdout)).toEqual({ owner: 'ada', revoked: 2 });
      for (const id of ada) expect(await client.exists(`${prefix}${id}`)).toBe(0);
      expect(await manager.sessionById(grace).data()).toEqual({ n: 3 });
      expect(JSON.parse((await cli('list', '--owner', 'ada', '--json', ...opts)).stdout).sessions).toEqual(
        [],
      );
      expect((await cli('revoke', '--owner', 'ada', ...opts)).stdout).toBe(
        'revoked 0 sessions of owner ada\n',
      );
    });
  }

  it("revoke <id> of an owned session takes it out of its owner's index", async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const id = await create(manager, { a: 1 }, 'ada');
    const kept = await create(manager, { a: 2 }, 'ada');
    expect(await client.zScore('kv-session:owner:ada', id)).not.toBeNull();
    expect((await cli('revoke', id, ...at())).code).toBe(0);
    expect(await client.zScore('kv-session:owner:ada', id)).toBeNull();
    expect(await client.zScore('kv-session:owner:ada', kept)).not.toBeNull();
    const shown = JSON.parse((await cli('show', kept, '--json', ...at())).stdout);
    expect(shown).toMatchObject({ owner: 'ada', data: { a: 2 } });
    expect(Date.parse(shown.created)).toBeLessThanOrEqual(Date.now());
  });

  it('revoke --owner --session ends the one device list shows under that shortened id', async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const laptop = await create(manager, { device: 'laptop' }, 'ada');
    const phone = await create(manager, { device: 'phone' }, 'ada');
    const other = await create(manager, { device: 'laptop' }, 'grace');
    const listed = JSON.parse((await cli('list', '--owner', 'ada', '--json', ...at())).stdout).sessions as {
      id: string;
    }[];
    const phoneShort = listed.map((s) => s.id).find((id) => id === `${phone.slice(0, 6)}…`)!;
    expect(phoneShort).toBeDefined();

    const res = await cli('revoke', '--owner', 'ada', '--session', phoneShort, ...at());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`revoked session ${phoneShort} of owner ada\n`);
    expect(res.stdout).not.toContain(phone);
    expect(await client.exists(`kv-session:${phone}`)).toBe(0);
    expect(await client.zScore('kv-session:owner:ada', phone)).toBeNull();
    expect(await client.exists(`kv-session:${laptop}`)).toBe(1);

    // Gone now; and another owner's session is not reachable through ada.
    const again = await cli('revoke', '--owner', 'ada', '--session', phone.slice(0, 6), ...at());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`owner ada has no live session ${phone.slice(0, 6)}…`);
    expect((await cli('revoke', '--owner', 'ada', '--session', other.slice(0, 6), ...at())).code).toBe(1);
    expect(await client.exists(`kv-session:${other}`)).toBe(1);

    const bad = await cli('revoke', '--owner', 'ada', '--session', 'abc', ...at());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--session takes a shortened id');
    expect((await cli('show', laptop, '--session', 'abcdef', ...at())).code).toBe(2);
  });

  it('an empty or over-long --owner is refused with status 2', async () => {
    for (const owner of ['', 'x'.repeat(257)]) {
      const res = await cli('revoke', '--owner', owner, ...at());
      expect(res.code).toBe(2);
      expect(res.stderr).toContain('--owner must be 1 to 256 characters');
    }
  });
});

describe('stats', () => {
  it('counts sessions with SCAN and gives their size distribution, skipping marks, indexes and other keys', async () => {
    const manager = managerOf(new StorageRedisKV({ client }));
    const ids: string[] = [];
    // Two owners: two owner indexes (sorted sets) under the prefix.
    for (let i = 0; i < 25; i++) {
      ids.push(
        await create(
          manager,
          { n: i, pad: 'x'.repeat(i * 37) },
          i % 3 === 0 ? 'ada' : i % 3 === 1 ? 'bob' : undefined,
        ),
      );
    }
    expect(await client.type('kv-session:owner:ada')).toBe('zset');
    // A regenerate() leaves its mark under the old id.
    const session = manager.sessionById(ids[0]!);
    await session.regenerate();
    ids[0] = (await manager.save(session)).id!;
    // Not ours: outside the prefix, and a StorageRedisHash session under its own prefix.
    await client.set('other-app:1', '{"big":"' + 'y'.repeat(5000) + '"}');
    // (with its own owner index, kv-session:h:owner:ada: not one of StorageRedisKV's).
    await create(managerOf(new StorageRedisHash({ client })), { hash: true }, 'ada');
    expect(await client.type('kv-session:h:owner:ada')).toBe('zset');

    const sizes = await Promise.all(ids.map((id) => client.strLen(`kv-session:${id}`)));
    sizes.sort((a, b) => a - b);
    const rank = (p: number) => sizes[Math.ceil((p / 100) * sizes.length) - 1];

    await server.resetStats();
    const res = await cli('stats', '--json', ...at());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const commands = await server.commandStats();
    expect(commands.scan).toBeGreaterThanOrEqual(1);
    expect(commands.keys).toBeUndefined(); // KEYS would block Redis on a big keyspace
    const stats = JSON.parse(res.stdout);
    expect(stats.sessions).toBe(25);
    expect(stats.bytes).toEqual({
      total: sizes.reduce((a, b) => a + b, 0),
      p50: rank(50),
      p90: rank(90),
      p99: rank(99),
      max: sizes[24],
    });
    // The hash session and its index sit under kv-session:h:, inside the kv prefix: counted apart.
    expect(stats.skipped).toEqual({ ownerIndexes: 2, movedMarks: 1, other: 2 });
    expect(stats.owners).toBe(2);

    const hash = await cli('stats', '--storage', 'hash', '--json', ...at());
    expect(JSON.parse(hash.stdout)).toMatchObject({
      sessions: 1,
      prefix: 'kv-session:h:',
      owners: 1,
      skipped: { ownerIndexes: 1, movedMarks: 0, other: 0 },
    });

    const text = await cli('stats', ...at());
    expect(text.stdout).toContain(`p50 ${rank(50)}  p90 ${rank(90)}`);
  });

  it('reports the oldest session by its stored creation time', async () => {
    const manager = managerOf(new StorageRedisKV({ client }), 3_600_000);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await create(manager, { i }));
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct creation times
    }
    // The creation times as stored (kept by core in __kv.created), read back independently.
    const created = await Promise.all(
      ids.map(async (id) => JSON.parse((await client.get(`kv-session:${id}`))!).__kv?.created as number),
    );
    expect(created.every((c) => typeof c === 'number')).toBe(true);
    const first = created.indexOf(Math.min(...created));

    const res = await cli('stats', '--json', ...at());
    const stats = JSON.parse(res.stdout);
    expect(stats.oldest.created).toBe(new Date(created[first]!).toISOString());
    expect(stats.oldest.id).toBe(`${ids[first]!.slice(0, 6)}…`);
    expect(stats.withoutCreated).toBe(0);
  });

  it('with a glob character in --prefix matches it literally', async () => {
    const manager = managerOf(new StorageRedisKV({ client, prefix: 'app[1]*:' }));
    await create(manager, { a: 1 });
    await client.set('app1x:zzzzzzzzzzzzzzzzzzzzzzzz', '{}');
    const res = await cli('stats', '--prefix', 'app[1]*:', '--json', ...at());
    expect(JSON.parse(res.stdout)).toMatchObject({ sessions: 1, skipped: { other: 0 } });
  });
});

describe('errors', () => {
  // 14 Node processes: on a loaded 2-core machine that takes a while.
  it('answers bad arguments with status 2 and a reason, before connecting anywhere', {
    timeout: 60_000,
  }, async () => {
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['show'], /show needs a session id/],
      [['show', '../../etc/passwd'], /not a session id/],
      [['revoke', 'short'], /not a session id/],
      [['revoke', `${'a'.repeat(43)}.c2lnbmF0dXJl`], /signed cookie value/],
      [['show', 'A'.repeat(43), 'B'.repeat(43)], /takes one session id/],
      [['list'], /list needs --owner/],
      [['stats', '--storage', 'zset'], /--storage must be kv or hash/],
      [['stats', '--redis-url', 'http://x'], /must start with redis:\/\//],
      [['stats', '--timeout', '0'], /--timeout must be an integer/],
      [['stats', '--bogus'], /Unknown option '--bogus'/],
      [['stats', '--prefix', ''], /--prefix must not be empty/],
      [['revoke', '--session', 'abcdef'], /--session goes with revoke --owner/],
    ];
    // A port nothing listens on: had the command connected, it would exit 3, not 2.
    const port = await freePort();
    const results = await Promise.all(
      cases.map(([args]) =>
        cli(...args, ...(args.includes('--redis-url') ? [] : ['--redis-url', `redis://127.0.0.1:${port}`])),
      ),
    );
    results.forEach((res, i) => {
      const [args, message] = cases[i]!;
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr, args.join(' ')).toMatch(message);
      expect(res.stderr).toContain('kv-session --help');
    });
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('revoke --owner <owner>');
  });

  it('fails with status 3 when Redis is unreachable, without printing the password', async () => {
    const port = await freePort();
    const res = await cli(
      'stats',
      '--redis-url',
      `redis://user:s3cret@127.0.0.1:${port}`,
      '--timeout',
      '1000',
    );
    expect(res.code).toBe(3);
    expect(res.stderr).toContain(`Redis at redis://user:***@127.0.0.1:${port} is unreachable`);
    expect(res.stderr).not.toContain('s3cret');
  });

  it('does not hang on a server that accepts connections but never answers', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const res = await cli(
        'show',
        'A'.repeat(43),
        '--redis-url',
        `redis://127.0.0.1:${port}`,
        '--timeout',
        '500',
      );
      expect(res.code).toBe(3);
      expect(res.stderr).toMatch(/unreachable/);
    } finally {
      silent.close();
    }
  });

  it('fails with status 3 when the connection drops in the middle of a command', async () => {
    const { createServer, connect } = await import('node:net');
    // A proxy to the private Redis that cuts both sides as soon as the client sends SCAN.
    const proxy = createServer((downstream) => {
      const upstream = connect(server.port, '127.0.0.1');
      upstream.pipe(downstream);
      downstream.on('data', (chunk: Buffer) => {
        if (chunk.includes('SCAN')) {
          upstream.destroy();
          downstream.destroy();
        } else upstream.write(chunk);
      });
      downstream.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as { port: number };
    try {
      await create(managerOf(new StorageRedisKV({ client })), { a: 1 });
      const res = await cli('stats', '--redis-url', `redis://127.0.0.1:${port}`, '--timeout', '5000');
      expect(res.stderr).toMatch(/lost the connection to Redis/);
      expect(res.code).toBe(3);
    } finally {
      proxy.close();
    }
  });

  it('fails with status 3 when Redis goes away', async () => {
    const down = await startRedis();
    await down.stop();
    const res = await cli('show', 'A'.repeat(43), '--redis-url', down.url, '--timeout', '1000');
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/unreachable/);
  });
});
