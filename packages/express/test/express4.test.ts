import { createRequire } from 'node:module';
import { adapterSuite, redisBackend } from '@kv-session/testing/adapters';
import express4 from 'express4';
import { expect, it } from 'vitest';
import { startExpress } from './support/app.js';

// The same behaviour suite on Express 4 (peer range ^4.21.0 || ^5.0.0).
adapterSuite('express 4', (options) => startExpress(options, express4), redisBackend);

it('runs on express 4 (the alias resolves to major 4)', () => {
  const { version } = createRequire(import.meta.url)('express4/package.json') as { version: string };
  expect(version.split('.')[0]).toBe('4');
});
