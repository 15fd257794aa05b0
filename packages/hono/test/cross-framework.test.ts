// A mixed fleet: Express, Hono, plain node:http and a Fetch handler share one Redis, one secret and
// one cookie name; a session created through any of them is read and changed through the others.
import { unsign } from '@kv-session/core';
import { type Backend, Client, redisBackend, type TestApp } from '@kv-session/testing/adapters';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExpress } from '../../express/test/support/app.js';
import { startFetch } from '../../fetch/test/support/app.js';
import { startNode } from '../../node/test/support/app.js';
import { startHono } from './support/app.js';

const SECRET = 'one-fleet-shared-secret-0123456789';

describe('one Redis: Express, Hono, node:http, Fetch', () => {
  let backend: Backend;
  let apps: Record<'express' | 'hono' | 'node' | 'fetch', TestApp>;

  beforeAll(async () => {
    backend = await redisBackend();
    const options = { storage: backend.storage, secret: SECRET, cookie: { name: 'fleet.sid' } };
    apps = {
      express: await startExpress(options),
      hono: await startHono(options),
      node: await startNode(options),
      fetch: await startFetch(options),
    };
  });
  afterAll(async () => {
    for (const app of Object.values(apps ?? {})) await app.close();
    await backend?.close();
  });

  it('a session created through Express is read and changed through the three others', async () => {
    const viaExpress = new Client(apps.express.url);
    expect((await viaExpress.get('/set?k=from&v=express')).setCookies).toHaveLength(1);
    const cookie = viaExpress.cookies.get('fleet.sid')!;
    const id = unsign(cookie, [SECRET])!.value;

    for (const name of ['hono', 'node', 'fetch'] as const) {
      const other = new Client(apps[name].url);
      other.cookies.set('fleet.sid', cookie);
      expect((await other.get('/get?k=from')).body).toBe('express');
      const write = await other.get(`/set?k=${name}&v=1`);
      expect(write.setCookies).toEqual([]); // same id: no new cookie from another adapter
    }
    expect(JSON.parse((await viaExpress.get('/data')).body)).toEqual({
      from: 'express',
      hono: '1',
      node: '1',
      fetch: '1',
    });
    expect((await backend.storage.load(id, 60_000))?.data).toEqual({
      from: 'express',
      hono: '1',
      node: '1',
      fetch: '1',
    });
  });

  it('a session created through Hono is read by Express; regenerate on node:http is honoured by all', async () => {
    const viaHono = new Client(apps.hono.url);
    await viaHono.get('/set?k=user&v=dora');
    const viaExpress = new Client(apps.express.url);
    viaExpress.cookies.set('fleet.sid', viaHono.cookies.get('fleet.sid')!);
    expect((await viaExpress.get('/get?k=user')).body).toBe('dora');

    const viaNode = new Client(apps.node.url);
    viaNode.cookies.set('fleet.sid', viaHono.cookies.get('fleet.sid')!);
    expect((await viaNode.get('/regenerate')).setCookies).toHaveLength(1);
    expect((await viaHono.get('/get?k=user')).body).toBe(''); // the old id is gone
    viaHono.cookies.set('fleet.sid', viaNode.cookies.get('fleet.sid')!);
    expect((await viaHono.get('/get?k=user')).body).toBe('dora');
  });
});
