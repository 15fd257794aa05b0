import { SessionManager, StorageUnavailableError } from '@kv-session/core';
import { StorageRedisKV } from '@kv-session/redis';
import { type RedisSentinel, startRedisCluster, startRedisSentinel } from '@kv-session/testing';
import { createSentinel } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, nodeRedis } from './clients.js';
import { idFrom, request } from './helpers.js';

/**
 * Failures of a real deployment's moving part: the Sentinel master is killed and the replica takes
 * over; a Cluster master is killed and started again. Real redis-server processes, no mocks.
 */

const COMMAND_TIMEOUT_MS = 500;
/** The longest a failing session call may take: one command timeout plus slack for a loaded machine. */
const FAIL_FAST_MS = COMMAND_TIMEOUT_MS + 1000;
/** How long the deployment may take to serve every session again. */
const RECOVERY_LIMIT_MS = 15_000;
const PREFIX = 'kv-session:';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  what: string;
  ok: boolean;
  ms: number;
  error?: unknown;
}

async function timed(what: string, run: () => Promise<unknown>): Promise<Outcome> {
  const start = performance.now();
  try {
    await run();
    return { what, ok: true, ms: performance.now() - start };
  } catch (error) {
    return { what, ok: false, ms: performance.now() - start, error };
  }
}

/** Every failed call failed with StorageUnavailableError (HTTP 503) and within FAIL_FAST_MS. */
function expectFailedFast(outcomes: Outcome[]): void {
  const failed = outcomes.filter((o) => !o.ok);
  const untyped = failed.filter((o) => !(o.error instanceof StorageUnavailableError));
  expect(untyped.map((o) => `${o.what}: ${String(o.error)}`)).toEqual([]);
  const slow = failed.filter((o) => o.ms >= FAIL_FAST_MS);
  expect(slow.map((o) => `${o.what}: ${Math.round(o.ms)} ms`)).toEqual([]);
}

function summary(outcomes: Outcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const max = Math.max(0, ...failed.map((o) => o.ms));
  // What the failures said, shortened: "did not answer ... within", "CLUSTERDOWN", "no master"...
  const causes = new Set(
    failed.map((o) =>
      String((o.error as Error).message)
        .replace(/^Redis is unavailable \([a-z]+\): /, '')
        .slice(0, 40)
        .trim(),
    ),
  );
  return (
    `${outcomes.length} calls, ${failed.length} failed with 503 (slowest failure ${Math.round(max)} ms` +
    `${causes.size > 0 ? `: ${[...causes].join(' | ')}` : ''})`
  );
}

/** Closes a node-redis client without letting a stuck close() hold up the cleanup. */
async function closeClient(client: { close(): Promise<unknown>; destroy(): unknown }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.close().catch(() => undefined),
    new Promise((r) => {
      timer = setTimeout(r, 3000);
    }),
  ]);
  clearTimeout(timer);
  try {
    await client.destroy();
  } catch {
    // already closed
  }
}

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  // Clients first (they would otherwise keep reconnecting), then the servers; each step on its own.
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

/** Writes `count` sessions `{ n: i }` and returns their cookies. */
async function writeSessions(manager: SessionManager, count: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const { cookie } = await request(manager, undefined, (s) => s.set('n', i));
    cookies.push(cookie!);
  }
  return cookies;
}

/** Reads every session back and returns the indexes whose `n` is not what was written. */
async function unreadable(manager: SessionManager, cookies: string[]): Promise<number[]> {
  const wrong: number[] = [];
  for (const [i, cookie] of cookies.entries()) {
    const n = await manager
      .session({ cookie })
      .get('n')
      .catch(() => undefined);
    if (n !== i) wrong.push(i);
  }
  return wrong;
}

describe('Sentinel: the master is killed, the replica is promoted', () => {
  it('fails fast with 503 during the failover, then serves every replicated session from the new master', async () => {
    const sentinel = await startRedisSentinel({
      masterName: 'kvfailover',
      replica: true,
      downAfterMs: 500,
      failoverTimeoutMs: 2000,
    });
    cleanup.push(() => sentinel.stop());
    const replica = sentinel.replica!;

    const errors: unknown[] = [];
    const client = createSentinel({
      name: sentinel.masterName,
      sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.sentinelPort }],
    });
    // Without this listener an 'error' event would end the process.
    client.on('error', (error: unknown) => errors.push(error));
    await client.connect();
    cleanup.push(() => closeClient(client));
    const storage = new StorageRedisKV({ client, commandTimeout: COMMAND_TIMEOUT_MS });
    const manager = new SessionManager({ storage, maxAge: 60_000 });

    const cookies = await writeSessions(manager, 20);
    // A second write to each of a few sessions goes through the compare-and-set script.
    for (const cookie of cookies.slice(0, 5)) await request(manager, cookie, (s) => s.set('updated', true));
    // Replication is asynchronous: make sure the replica has every write before the master dies.
    await sentinel.waitForReplica();
    expect(await replica.cli('DBSIZE')).toBe('20');
    // Requests that loaded their session before the kill and commit after it (compare-and-set with
    // the loaded version: a write that would land if it were sent late).
    const loaded = cookies.slice(10, 15).map((cookie) => ({ cookie, session: manager.session({ cookie }) }));
    for (const { session } of loaded) await session.get('n');
    const connectionsBefore = await sentinelConnections(sentinel);

    const killedAt = performance.now();
    await sentinel.master.stop();
    // A command handed to node-redis before it sees the connection close is in flight: node-redis
    // re-sends it to the promoted replica after the failover, even when the caller was told 503
    // (docs/redis.md, Failures). The requests below come after that moment (well under 100 ms here).
    while (client.getMasterNode() !== undefined) {
      expect(performance.now() - killedAt).toBeLessThan(2000);
      await sleep(1);
    }
    const noticedAfter = performance.now() - killedAt;

    // The Sentinel's view, polled next to the session calls.
    let promotedAfter: number | undefined;
    const watch = (async () => {
      while (promotedAfter === undefined && performance.now() - killedAt < RECOVERY_LIMIT_MS) {
        if ((await sentinel.masterPort().catch(() => undefined)) === replica.port) {
          promotedAfter = performance.now() - killedAt;
        } else {
          await sleep(25);
        }
      }
    })();

    // Session calls as requests would make them, until a read, a new session and an update all work.
    const outcomes: Outcome[] = [];
    const failedNew: string[] = [];
    const failedUpdates: { cookie: string; key: string }[] = [];
    let recoveredAfter: number | undefined;
    // Each round's calls run concurrently, as concurrent requests would.
    for (let round = 0; performance.now() - killedAt < RECOVERY_LIMIT_MS; round++) {
      const i = round % cookies.length;
      const cookie = cookies[i]!;
      const fresh = manager.session();
      const freshId = fresh.id;
      const key = `u${round}`;
      const held = loaded[round];
      const heldKey = `loaded${round}`;
      const [read, created, updated, committed] = await Promise.all([
        timed(`read ${i}`, async () => {
          expect(await manager.session({ cookie }).get('n')).toBe(i);
        }),
        timed(`new session ${round}`, async () => {
          await fresh.set('during', round);
          await manager.commit(fresh);
        }),
        timed(`update ${i}`, () => request(manager, cookie, (s) => s.set(key, round))),
        held === undefined
          ? undefined
          : timed(`commit of a session loaded before the kill ${round}`, async () => {
              await held.session.set(heldKey, round);
              await manager.commit(held.session);
            }),
      ]);
      if (!created.ok) failedNew.push(freshId);
      if (!updated.ok) failedUpdates.push({ cookie, key });
      if (held !== undefined && committed?.ok === false)
        failedUpdates.push({ cookie: held.cookie, key: heldKey });
      outcomes.push(read, created, updated, ...(committed === undefined ? [] : [committed]));
      if (read.ok && created.ok && updated.ok) {
        recoveredAfter = performance.now() - killedAt;
        break;
      }
    }
    await watch;
    console.log(
      `[failover] Sentinel: the client saw the master's connection close after ${Math.round(noticedAfter)} ms; ` +
        `replica promoted ${fmt(promotedAfter)} after SIGKILL of the master; ` +
        `StorageRedisKV served reads and writes again after ${fmt(recoveredAfter)}; ${summary(outcomes)}; ` +
        `the client opened ${(await sentinelConnections(sentinel)) - connectionsBefore} connections to the ` +
        `Sentinel meanwhile and emitted ${errors.length} 'error' events`,
    );

    expect(promotedAfter).toBeDefined();
    expect(recoveredAfter).toBeDefined();
    expect(await sentinel.masterPort()).toBe(replica.port);
    expect(await replica.cli('ROLE')).toMatch(/^master/);
    expectFailedFast(outcomes);
    expect(outcomes.some((o) => !o.ok)).toBe(true);

    // Every session written (and replicated) before the kill is readable through the new master.
    expect(await unreadable(manager, cookies)).toEqual([]);
    const after = await request(manager, undefined, (s) => s.set('n', 'after'));
    expect((await request(manager, after.cookie, (s) => s.get('n'))).result).toBe('after');

    // Writes that were reported as failed (503) are not applied later, once a master is back.
    // (node-redis's Sentinel client would send a command it got while it had no master as soon as
    // it has one again; StorageRedisKV gives it none until then: masterReadiness in src/client.ts.)
    await sleep(1000);
    const resurrected: string[] = [];
    for (const id of failedNew) {
      if ((await replica.cli('EXISTS', PREFIX + id)) !== '0') resurrected.push(`new session ${id}`);
    }
    for (const { cookie, key } of failedUpdates) {
      const data = await manager.session({ cookie }).data();
      if (key in data) resurrected.push(`update ${key} of ${idFrom(cookie)}`);
    }
    expect(resurrected).toEqual([]);
  }, 40_000);
});

describe.each(CLIENT_KINDS)('Cluster: a master is killed and started again ($name)', (kind) => {
  it('fails fast with 503 while the node is down, then serves every session again', async () => {
    // Every acknowledged write is in the AOF before the reply, so the restarted node has it all.
    const cluster = await startRedisCluster(3, { appendOnly: true, nodeTimeoutMs: 1000 });
    cleanup.push(() => cluster.stop());
    // Recovery needs no special option with either library's defaults. node-redis @redis/client 5.12.1, lib/cluster/cluster-slots.js
    // and lib/cluster/index.js): the client keeps one RedisClient per node, created with the default
    // reconnectStrategy (retry forever, 50 ms doubling to 2 s, plus up to 200 ms jitter); a killed
    // node's client stays in the slot map and reconnects on its own once the node listens again on
    // the same address. Commands for its slots meanwhile wait in that client's offline queue, where
    // the abort signal StorageRedisKV passes drops them at the deadline. The slot map is
    // only rediscovered on MOVED/ASK (up to `maxCommandRedirections`, default 16), which a restart on
    // the same port with the same nodes.conf does not cause. ioredis (5.11, 6.0) retries a command
    // after CLUSTERDOWN or a lost connection for a while; the driver turns any such late write into
    // a PING (see driver-ioredis.ts), which the "not applied" check at the end holds it to.
    const { client, errors, close } = await kind.cluster(cluster.rootNodes);
    cleanup.push(close);
    const storage = new StorageRedisKV({ client, commandTimeout: COMMAND_TIMEOUT_MS });
    const manager = new SessionManager({ storage, maxAge: 60_000 });

    const cookies = await writeSessions(manager, 60);
    // Every node holds some of the sessions.
    const sizes = await Promise.all(cluster.nodes.map(async (n) => Number(await n.cli('DBSIZE'))));
    expect(sizes.every((n) => n > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
    // Which node holds which session.
    const held = await Promise.all(
      cluster.nodes.map(async (n) => (await n.cli('KEYS', `${PREFIX}*`)).split('\n')),
    );
    // The victim is the node with the most sessions (at least a third of them).
    const most = held.reduce((best, keys, i) => (keys.length > held[best]!.length ? i : best), 0);
    const victim = cluster.nodes[most]!;
    const onVictim = new Set(held[most]);
    const victimCookies = cookies.filter((c) => onVictim.has(PREFIX + idFrom(c)));
    const otherCookies = cookies.filter((c) => !onVictim.has(PREFIX + idFrom(c)));
    expect(victimCookies.length).toBeGreaterThanOrEqual(20);
    // The victim owns the slots of its sessions.
    const slot = Number(await victim.cli('CLUSTER', 'KEYSLOT', [...onVictim][0]!));
    expect(Number(await victim.cli('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))).toBeGreaterThan(0);

    // Requests that loaded their session before the kill and commit after it (compare-and-set with
    // the loaded version: a write that would land if it were sent late).
    const loaded = victimCookies
      .slice(5, 10)
      .map((cookie) => ({ cookie, session: manager.session({ cookie }) }));
    for (const { session } of loaded) await session.get('n');

    const stoppedAt = performance.now();
    await victim.stop();

    // When the other masters mark the node failed (cluster-node-timeout, then a majority of masters),
    // they answer CLUSTERDOWN for every slot (cluster-require-full-coverage).
    const live = cluster.nodes.filter((n) => n !== victim);
    let clusterDownAfter: number | undefined;
    const watch = (async () => {
      while (clusterDownAfter === undefined && performance.now() - stoppedAt < RECOVERY_LIMIT_MS) {
        const infos = await Promise.all(live.map((n) => n.cli('CLUSTER', 'INFO')));
        if (infos.every((i) => i.includes('cluster_state:fail')))
          clusterDownAfter = performance.now() - stoppedAt;
        else await sleep(25);
      }
    })();

    // Sessions on the live nodes: served until then; afterwards 503, fast.
    const others: Outcome[] = [];
    for (const [j, cookie] of otherCookies.slice(0, 5).entries()) {
      others.push(await timed(`read on a live node ${j}`, () => manager.session({ cookie }).get('n')));
    }
    expectFailedFast(others);

    // Sessions on the dead node: every call fails with 503, within the bound.
    const down: Outcome[] = [];
    const failedUpdates: { cookie: string; key: string }[] = [];
    for (const [j, cookie] of victimCookies.slice(0, 3).entries()) {
      down.push(await timed(`read on the dead node ${j}`, () => manager.session({ cookie }).get('n')));
      const key = `down${j}`;
      const update = await timed(`update on the dead node ${j}`, () =>
        request(manager, cookie, (s) => s.set(key, j)),
      );
      if (!update.ok) failedUpdates.push({ cookie, key });
      down.push(update);
    }
    for (const [j, { cookie, session }] of loaded.entries()) {
      const key = `loaded${j}`;
      const committed = await timed(`commit of a session loaded before the kill ${j}`, async () => {
        await session.set(key, j);
        await manager.commit(session);
      });
      if (!committed.ok) failedUpdates.push({ cookie, key });
      down.push(committed);
    }
    expect(down.every((o) => !o.ok)).toBe(true);
    expectFailedFast(down);

    await watch;
    expect(clusterDownAfter).toBeDefined();
    const clusterDown: Outcome[] = [];
    for (const [j, cookie] of otherCookies.slice(0, 5).entries()) {
      clusterDown.push(
        await timed(`read while CLUSTERDOWN ${j}`, () => manager.session({ cookie }).get('n')),
      );
    }
    expect(clusterDown.every((o) => !o.ok)).toBe(true);
    expectFailedFast(clusterDown);
    // node-redis passes the reply on; ioredis retries CLUSTERDOWN until the deadline ends the call.
    expect(String((clusterDown[0]!.error as Error).message)).toMatch(
      kind === nodeRedis ? /CLUSTERDOWN/ : /CLUSTERDOWN|commandTimeout/,
    );

    // Same port, same directory: nodes.conf and the AOF survive.
    const downFor = performance.now() - stoppedAt;
    await victim.start();
    const startedAt = performance.now();
    const recovering: Outcome[] = [];
    let recoveredAfter: number | undefined;
    while (performance.now() - startedAt < RECOVERY_LIMIT_MS) {
      const round = recovering.length;
      const victimRead = await timed('read on the restarted node', async () => {
        expect(await manager.session({ cookie: victimCookies[0] }).get('n')).toBeTypeOf('number');
      });
      const otherRead = await timed('read on a live node', async () => {
        expect(await manager.session({ cookie: otherCookies[0] }).get('n')).toBeTypeOf('number');
      });
      const key = `recovering${round}`;
      const update = await timed('update on the restarted node', () =>
        request(manager, victimCookies[1], (s) => s.set(key, round)),
      );
      if (!update.ok) failedUpdates.push({ cookie: victimCookies[1]!, key });
      recovering.push(victimRead, otherRead, update);
      if (victimRead.ok && otherRead.ok && update.ok) {
        recoveredAfter = performance.now() - startedAt;
        break;
      }
      await sleep(50);
    }
    console.log(
      `[failover] Cluster (${kind.name}): node down ${fmt(downFor)} (the other masters reported cluster_state:fail after ` +
        `${fmt(clusterDownAfter)}; ${others.filter((o) => o.ok).length}/${others.length} reads on live nodes ` +
        `right after the kill were served); after the restart StorageRedisKV served every node again after ` +
        `${fmt(recoveredAfter)}; while down: ${summary([...down, ...others, ...clusterDown])}; ` +
        `while recovering: ${summary(recovering)}; ${errors.length} 'error' events`,
    );
    expect(recoveredAfter).toBeDefined();
    expectFailedFast(recovering);

    // Every session written before the kill is back (from the AOF), and writes work everywhere.
    expect(Number(await victim.cli('DBSIZE'))).toBeGreaterThanOrEqual(onVictim.size);
    expect(await unreadable(manager, cookies)).toEqual([]);
    for (const cookie of victimCookies.slice(0, 3)) {
      await request(manager, cookie, (s) => s.set('after', true));
      expect((await request(manager, cookie, (s) => s.get('after'))).result).toBe(true);
    }
    const fresh = await writeSessions(manager, 10);
    expect(await unreadable(manager, fresh)).toEqual([]);

    // Updates reported as failed (503) were not applied once the node came back.
    const resurrected: string[] = [];
    for (const { cookie, key } of failedUpdates) {
      const data = await manager.session({ cookie }).data();
      if (key in data) resurrected.push(`${key} of ${idFrom(cookie)}`);
    }
    expect(resurrected).toEqual([]);
  }, 40_000);
});

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`;
}

async function sentinelConnections(sentinel: RedisSentinel): Promise<number> {
  const info = await sentinel.sentinelCli('INFO', 'stats');
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}
