// Issue 18, item 7: the lifecycle options reach core through every adapter's native API.
import type { SessionManager, SessionOptions } from '@kv-session/core';
import { session as expressSession } from '@kv-session/express';
import { sessionPlugin } from '@kv-session/fastify';
import { createFetchSessions } from '@kv-session/fetch';
import { session as honoSession } from '@kv-session/hono';
import { session as koaSession } from '@kv-session/koa';
import { createNodeSessions } from '@kv-session/node';
import { describe, expect, it } from 'vitest';

const options = {
  absoluteTimeout: 3_600_000,
  maxAge: 600_000,
  cookie: { persistent: true },
} satisfies SessionOptions;

const adapters: [string, () => { manager: SessionManager<object> }][] = [
  ['express', () => expressSession(options)],
  ['fastify', () => sessionPlugin(options)],
  ['koa', () => koaSession(options)],
  ['hono', () => honoSession(options)],
  ['fetch', () => createFetchSessions(options)],
  ['node', () => createNodeSessions(options)],
];

describe('absoluteTimeout and cookie.persistent pass through every adapter', () => {
  it.each(adapters)('%s', async (_name, make) => {
    const { manager } = make();
    expect(manager.options.absoluteTimeout).toBe(3_600_000);
    expect(manager.options.cookie.persistent).toBe(true);
    // And they act: a new session's cookie carries Max-Age (persistent), bounded by maxAge.
    const s = manager.session();
    await s.setMany({ a: 1 } as object);
    expect((await manager.commit(s)).setCookie).toMatch(/Max-Age=600;/);
  });

  it.each(adapters.map(([name]) => name))('%s rejects persistent with rolling (ConfigError)', (name) => {
    const bad = { cookie: { persistent: true }, rolling: true };
    const make = {
      express: () => expressSession(bad),
      fastify: () => sessionPlugin(bad),
      koa: () => koaSession(bad),
      hono: () => honoSession(bad),
      fetch: () => createFetchSessions(bad),
      node: () => createNodeSessions(bad),
    }[name]!;
    expect(make).toThrow(/cookie\.persistent: choose one/);
  });
});
