import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { session } from '@kv-session/express';
import { adapterSuite, Client, redisBackend, unavailableStorage } from '@kv-session/testing/adapters';
import express4 from 'express4';
import { expect, it } from 'vitest';
import { startExpress } from './support/app.js';

// The same behaviour suite on Express 4 (peer range ^4.21.0 || ^5.0.0).
adapterSuite('express 4', (options) => startExpress(options, express4), redisBackend);

it('runs on express 4 (the alias resolves to major 4)', () => {
  const { version } = createRequire(import.meta.url)('express4/package.json') as { version: string };
  expect(version.split('.')[0]).toBe('4');
});

it('express 4: a failed save of a session first touched in a mounted router reaches the app’s error handler', async () => {
  const app = express4();
  app.use(session({ storage: unavailableStorage(), onError: () => {} }));
  const router = express4.Router();
  router.get('/set', async (req, res) => {
    await req.session.set('k', 'v');
    res.send('ok');
  });
  const sentAtOnce: boolean[] = [];
  router.get('/get', async (req, res) => {
    res.end(JSON.stringify(await req.session.data()));
    sentAtOnce.push(res.headersSent);
  });
  app.use('/r', router);
  app.use((err: Error & { status?: number }, _req: unknown, res: express4.Response, _next: unknown) => {
    res.status(err.status ?? 500).json({ error: err.name, at: 'app' });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await new Client(url).get('/r/set');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ error: 'StorageUnavailableError', at: 'app' });
    // A read that stores nothing (no cookie: no storage call) is sent in the same tick.
    const read = await new Client(url).get('/r/get');
    expect(read.body).toBe('{}');
    expect(sentAtOnce).toEqual([true]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
