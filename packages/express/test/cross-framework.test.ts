import { unsign } from '@kv-session/core';
import { type Backend, Client, redisBackend, type TestApp } from '@kv-session/testing/adapters';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFastify } from '../../fastify/test/support/app.js';
import { startKoa } from '../../koa/test/support/app.js';
import { startExpress } from './support/app.js';

const SECRET = 'one-fleet-shared-secret-0123456789';

describe('one Redis, three frameworks', () => {
  let backend: Backend;
  let apps: { express: TestApp; fastify: TestApp; koa: TestApp };

  beforeAll(async () => {
    backend = await redisBackend();
    // Same secret and cookie name everywhere: a mixed fleet behind one load balancer.
    const options = { storage: backend.storage, secret: SECRET, cookie: { name: 'fleet.sid' } };
    apps = {
      express: await startExpress(options),
      fastify: await startFastify(options),
      koa: await startKoa(options),
    };
  });
  afterAll(async () => {
    for (const app of Object.values(apps ?? {})) await app.close();
    await backend?.close();
  });

  it('a session created through Express is read and changed through Fastify and Koa', async () => {
    const viaExpress = new Client(apps.express.url);
    const created = await viaExpress.get('/set?k=from&v=express');
    expect(created.setCookies).toHaveLength(1);
    const cookie = viaExpress.cookies.get('fleet.sid')!;
    expect(cookie).toBeDefined();
    const id = unsign(cookie, [SECRET])!.value;

    // The browser keeps one cookie and talks to whichever node answers.
    const viaFastify = new Client(apps.fastify.url);
    const viaKoa = new Client(apps.koa.url);
    viaFastify.cookies.set('fleet.sid', cookie);
    viaKoa.cookies.set('fleet.sid', cookie);

    expect((await viaFastify.get('/get?k=from')).body).toBe('express');
    expect((await viaKoa.get('/get?k=from')).body).toBe('express');

    const fastifyWrite = await viaFastify.get('/set?k=fastify&v=1');
    expect(fastifyWrite.setCookies).toEqual([]); // same id: no new cookie from another framework
    const koaWrite = await viaKoa.get('/set?k=koa&v=2');
    expect(koaWrite.setCookies).toEqual([]);
    await viaKoa.get('/remove?k=from');

    const seen = await viaExpress.get('/data');
    expect(JSON.parse(seen.body)).toEqual({ fastify: '1', koa: '2' });
    expect((await backend.storage.load(id, 60_000))?.data).toEqual({ fastify: '1', koa: '2' });
  });

  it('a regenerated id from Koa and a destroy from Fastify are honoured by Express', async () => {
    const viaExpress = new Client(apps.express.url);
    await viaExpress.get('/set?k=user&v=carol');
    const viaKoa = new Client(apps.koa.url);
    viaKoa.cookies.set('fleet.sid', viaExpress.cookies.get('fleet.sid')!);
    const regen = await viaKoa.get('/regenerate');
    expect(regen.setCookies).toHaveLength(1);
    const newCookie = viaKoa.cookies.get('fleet.sid')!;
    expect(newCookie).not.toBe(viaExpress.cookies.get('fleet.sid'));
    expect((await viaExpress.get('/get?k=user')).body).toBe(''); // old id is gone
    viaExpress.cookies.set('fleet.sid', newCookie);
    expect((await viaExpress.get('/get?k=user')).body).toBe('carol');

    const viaFastify = new Client(apps.fastify.url);
    viaFastify.cookies.set('fleet.sid', newCookie);
    const destroyed = await viaFastify.get('/destroy');
    expect(destroyed.setCookies[0]).toMatch(/^fleet\.sid=;.*Max-Age=0/);
    expect((await viaExpress.get('/get?k=user')).body).toBe('');
    expect(await backend.count()).toBe(1); // only the first test's session is left
  });
});
