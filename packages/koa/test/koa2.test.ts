import { createRequire } from 'node:module';
import { adapterSuite, redisBackend } from '@kv-session/testing/adapters';
import Koa2 from 'koa2';
import { expect, it } from 'vitest';
import { startKoa } from './support/app.js';

// The same behaviour suite on Koa 2 (peer range ^2.15.0 || ^3.0.0).
adapterSuite('koa 2', (options) => startKoa(options, Koa2), redisBackend);

it('runs on koa 2 (the alias resolves to major 2)', () => {
  const { version } = createRequire(import.meta.url)('koa2/package.json') as { version: string };
  expect(version.split('.')[0]).toBe('2');
});
