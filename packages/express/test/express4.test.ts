import { createRequire } from 'node:module';
import { adapterSuite, Client, redisBackend } from '@kv-session/testing/adapters';
import express4 from 'express4';
import { expect, it } from 'vitest';
import { startExpress, startRouterApp } from './support/app.js';

// The same behaviour suite on Express 4 (peer range ^4.21.0 || ^5.0.0).
adapterSuite('express 4', (options) => startExpress(options, express4), redisBackend);

it('runs on express 4 (the alias resolves to major 4)', () => {
  const { version } = createRequire(import.meta.url)('express4/package.json') as { version: string };
  expect(version.split('.')[0]).toBe('4');
});

it('express 4: a failed save of a session first touched in a mounted router reaches the app’s error handler', async () => {
  const app = await startRouterApp(express4);
  try {
    const r = await new Client(app.url).get('/r/set');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ error: 'StorageUnavailableError', at: 'app' });
    // A read that stores nothing (no cookie: no storage call) is sent in the same tick.
    expect((await new Client(app.url).get('/r/get')).body).toBe('{}');
    expect(app.sentAtOnce).toEqual([true]);
  } finally {
    await app.close();
  }
});
